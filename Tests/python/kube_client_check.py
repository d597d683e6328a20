"""The Python `kubernetes` client (from PyPI) against `kelson server`: typed CRUD, a dict patch (strategic merge),
a watch, errors, and the dynamic client (legacy discovery). Run by Tests/IntegrationTests/KubeClientTests.swift as
`python kube_client_check.py KUBECONFIG`; exits non-zero with the first failure."""

import sys
import threading
import time

from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException


def check(condition, message):
    if not condition:
        raise SystemExit("FAILED: " + message)


def main(kubeconfig):
    api_client = config.new_client_from_config(config_file=kubeconfig)
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)

    names = [ns.metadata.name for ns in core.list_namespace().items]
    check("kube-system" in names, f"namespaces: {names}")

    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py", labels={"from": "python"}), data={"a": "1"})
    created = core.create_namespaced_config_map("default", body)
    check(created.metadata.uid and created.metadata.resource_version, "create filled uid and resourceVersion")

    try:
        core.create_namespaced_config_map("default", body)
        check(False, "a duplicate create must fail")
    except ApiException as error:
        check(error.status == 409, f"duplicate: {error.status} {error.body}")

    patched = core.patch_namespaced_config_map("py", "default", {"data": {"b": "2"}})
    check(patched.data == {"a": "1", "b": "2"}, f"dict patch: {patched.data}")

    listed = core.list_namespaced_config_map("default", label_selector="from=python")
    check([item.metadata.name for item in listed.items] == ["py"], "label selector list")

    events = []

    def collect():
        stream = watch.Watch()
        for event in stream.stream(core.list_namespaced_config_map, "default", timeout_seconds=5):
            events.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                stream.stop()

    watcher = threading.Thread(target=collect)
    watcher.start()
    time.sleep(1)
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="seen")))
    core.delete_namespaced_config_map("seen", "default")
    watcher.join(timeout=10)
    check(("ADDED", "py") in events, f"initial ADDED events: {events}")
    check(("ADDED", "seen") in events and ("DELETED", "seen") in events, f"live events: {events}")

    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pyweb"},
        "spec": {
            "replicas": 1, "selector": {"matchLabels": {"app": "pyweb"}},
            "template": {"metadata": {"labels": {"app": "pyweb"}},
                         "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}},
        },
    }
    apps.create_namespaced_deployment("default", deployment)
    apps.patch_namespaced_deployment("pyweb", "default", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}}}})
    read = apps.read_namespaced_deployment("pyweb", "default")
    container = read.spec.template.spec.containers[0]
    check(container.image == "nginx:1.28" and container.ports[0].container_port == 80, f"strategic merge by name: {container}")
    check(read.metadata.generation == 2, f"generation: {read.metadata.generation}")

    try:
        core.read_namespaced_config_map("missing", "default")
        check(False, "reading a missing object must fail")
    except ApiException as error:
        check(error.status == 404, f"missing: {error.status}")

    dyn = dynamic.DynamicClient(api_client)
    config_maps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    dyn_created = config_maps.create(body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dyn"}, "data": {"x": "y"}}, namespace="default")
    check(dyn_created.data.x == "y", "dynamic create")
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    check(deployments.get(name="pyweb", namespace="default").spec.replicas == 1, "dynamic get")
    config_maps.delete(name="dyn", namespace="default")
    print("python client: all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
