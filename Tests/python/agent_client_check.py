"""The Python `kubernetes` client (from PyPI) against `kelson server` with its node agent: a pod that really runs,
its log, exec through the client's WebSocket stream (v4.channel.k8s.io), a watch of its phase, deletion.
Run by Tests/IntegrationTests/AgentTests.swift as `python agent_client_check.py KUBECONFIG`; exits non-zero with
the first failure."""

import sys
import time

from kubernetes import client, config, watch
from kubernetes.stream import stream


def check(condition, message):
    if not condition:
        raise SystemExit("FAILED: " + message)


def main(kubeconfig):
    api_client = config.new_client_from_config(config_file=kubeconfig)
    core = client.CoreV1Api(api_client)

    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="py-agent", labels={"from": "python"}),
        spec=client.V1PodSpec(
            termination_grace_period_seconds=2,
            containers=[
                client.V1Container(
                    name="main",
                    image="busybox",
                    command=["sh", "-c", "echo started from python; exec sleep 1000"],
                )
            ],
        ),
    )
    core.create_namespaced_pod("default", pod)

    running = False
    for event in watch.Watch().stream(
        core.list_namespaced_pod, "default", field_selector="metadata.name=py-agent", timeout_seconds=30
    ):
        if event["object"].status.phase == "Running":
            running = True
            break
    check(running, "the pod reached Running")
    status = core.read_namespaced_pod("py-agent", "default").status
    check(status.pod_ip, f"pod IP: {status.pod_ip}")
    check(status.container_statuses[0].state.running is not None, f"state: {status.container_statuses[0].state}")

    log = ""
    for _ in range(50):
        log = core.read_namespaced_pod_log("py-agent", "default")
        if log:
            break
        time.sleep(0.1)
    check(log == "started from python\n", f"log: {log!r}")

    answer = stream(
        core.connect_get_namespaced_pod_exec,
        "py-agent",
        "default",
        command=["sh", "-c", "echo $((6*7)); hostname"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
    )
    check(answer == "42\npy-agent\n", f"exec: {answer!r}")

    core.delete_namespaced_pod("py-agent", "default")
    for _ in range(100):
        if not [p for p in core.list_namespaced_pod("default").items if p.metadata.name == "py-agent"]:
            break
        time.sleep(0.1)
    else:
        raise SystemExit("FAILED: the pod was not removed after its processes ended")
    print("all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
