import Foundation
import Testing

/// `kelson server` with its node agent, driven by real kubectl: pods are real processes in their own namespaces
/// and cgroups, Services answer through the nftables proxy and cluster DNS, logs come from the agent. Each test
/// checks afterwards that the server's shutdown left nothing in the kernel.
extension IntegrationTests {
    @Suite(.serialized) struct AgentTests {
        /// kubectl before 1.31 speaks SPDY/3.1 for exec and port-forward.
        static let spdy = true

        static func kubectl(_ version: String, _ cluster: AgentCluster) throws -> Kubectl {
            Kubectl(binary: try KubectlTests.binary(version), cluster: cluster.cluster)
        }

        static func jsonpath(_ k: Kubectl, _ arguments: String...) throws -> String {
            let result = try KelsonRun.run(
                executable: k.binary,
                ["--kubeconfig", k.cluster.kubeconfig, "--cache-dir", k.cluster.path("kube-cache")] + arguments,
                watchdog: 60)
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        static let webDeployment = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 2
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  terminationGracePeriodSeconds: 3
                  containers:
                  - name: server
                    image: python:3.11
                    command: ["python3", "-m", "http.server", "8000", "--directory", "/srv"]
                    ports: [{containerPort: 8000}]
                    readinessProbe: {httpGet: {path: /, port: 8000}, periodSeconds: 1}
                    volumeMounts: [{name: site, mountPath: /srv}]
                  volumes: [{name: site, emptyDir: {}}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec:
              selector: {app: web}
              ports: [{port: 80, targetPort: 8000}]
            """

        /// The issue's first scenario: two web servers behind a Service, from the host and by DNS name from a pod;
        /// scale; a template change rolled out; logs; exec.
        @Test(arguments: ["kubectl.1.27", "kubectl.1.33"]) func webServersBehindAService(version: String) throws {
            let agent = try AgentCluster()
            defer { agent.stop() }
            let k = try Self.kubectl(version, agent)
            try agent.cluster.write("web.yaml", Self.webDeployment)
            try k.run("apply", "-f", agent.cluster.path("web.yaml"))
            try k.run("rollout", "status", "deployment/web", "--timeout=60s")
            #expect(agent.processes(matching: "http.server").count == 2, "\(agent.containerProcesses())")

            // Two replicas listen on the same port, each in its own network namespace.
            let ips = try Self.jsonpath(k, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.podIP}")
            #expect(ips.split(separator: " ").count == 2, "\(ips)")
            for ip in ips.split(separator: " ") {
                #expect(ip.hasPrefix(agent.podPrefix + "."), "pod IP \(ip) from the cluster CIDR")
            }

            // The ClusterIP from the host.
            let clusterIP = try Self.jsonpath(k, "get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")
            #expect(clusterIP.hasPrefix(agent.servicePrefix + "."), "\(clusterIP)")
            let fromHost = try Shell.run("curl -s -m 5 -o /dev/null -w '%{http_code}' http://\(clusterIP)/")
            #expect(fromHost.stdout == "200", "curl \(clusterIP) from the host: \(fromHost)")

            // By DNS name from another pod.
            try k.run(
                "run", "client", "--image=python:3.11", "--restart=Never", "--command", "--", "python3", "-c",
                "import urllib.request; print('status', urllib.request.urlopen('http://web.default.svc.cluster.local/', timeout=5).status); print('short', urllib.request.urlopen('http://web/', timeout=5).status)"
            )
            #expect(
                AgentCluster.eventually(30) {
                    try Self.jsonpath(k, "get", "pod", "client", "-o", "jsonpath={.status.phase}") == "Succeeded"
                })
            let clientLog = try k.run("logs", "client")
            #expect(clientLog.stdout.contains("status 200") && clientLog.stdout.contains("short 200"), "\(clientLog)")

            // Scale up and down: processes follow.
            try k.run("scale", "deployment/web", "--replicas=3")
            try k.run("rollout", "status", "deployment/web", "--timeout=60s")
            #expect(AgentCluster.eventually(20) { agent.processes(matching: "http.server").count == 3 })

            // A template change rolls out: new pods run, the old processes are gone.
            let before = Set(agent.processes(matching: "http.server"))
            try k.run("set", "env", "deployment/web", "GREETING=hello")
            try k.run("rollout", "status", "deployment/web", "--timeout=90s")
            #expect(
                AgentCluster.eventually(30) {
                    let now = Set(agent.processes(matching: "http.server"))
                    return now.count == 3 && now.isDisjoint(with: before)
                }, "\(agent.containerProcesses())")
            let environment = try Self.jsonpath(
                k, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.containers[0].env[0].value}")
            #expect(environment.split(separator: " ").allSatisfy { $0 == "hello" }, "\(environment)")
            #expect(
                AgentCluster.eventually(10) {
                    try Shell.run("curl -s -m 5 -o /dev/null -w '%{http_code}' http://\(clusterIP)/").stdout == "200"
                })

            // exec: into a server's container (its namespaces: hostname = pod name, PID 1 = the server).
            let pod = try Self.jsonpath(k, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
            if version != "kubectl.1.27" || Self.spdy {
                let answer = try k.run("exec", pod, "--", "sh", "-c", "echo $((6*7)); hostname; cat /proc/1/cmdline")
                #expect(answer.stdout.hasPrefix("42\n\(pod)\npython3"), "\(answer)")
                let failed = try k.run("exec", pod, "--", "sh", "-c", "exit 4", expectFailure: true)
                #expect(failed.exitCode == 4, "\(failed)")
                let piped = try KelsonRun.run(
                    executable: "/bin/sh",
                    [
                        "-c",
                        "echo from-stdin | \(k.binary) --kubeconfig \(agent.cluster.kubeconfig) exec -i \(pod) -- cat",
                    ], watchdog: 60)
                #expect(piped.stdout == "from-stdin\n", "\(piped)")
                // 3 MB through stdin and back, whole.
                let big = agent.cluster.path("big.bin")
                _ = try Shell.run("head -c 3000000 /dev/urandom > \(big)")
                let roundTrip = try Shell.run(
                    "\(k.binary) --kubeconfig \(agent.cluster.kubeconfig) exec -i \(pod) -- cat < \(big) | sha256sum; sha256sum < \(big)"
                )
                let sums = roundTrip.stdout.split(separator: "\n")
                #expect(sums.count == 2 && sums.first == sums.last, "\(roundTrip)")
                let terminal = try KelsonRun.run(
                    executable: "/usr/bin/script",
                    [
                        "-qec", "\(k.binary) --kubeconfig \(agent.cluster.kubeconfig) exec -it \(pod) -- sh -c tty",
                        "/dev/null",
                    ], watchdog: 60)
                #expect(terminal.stdout.contains("/dev/pts/"), "exec -it runs on a terminal: \(terminal)")
            }

            // NodePort (on the host's addresses) and ClientIP affinity.
            try k.run(
                "patch", "service", "web", "-p", #"{"spec":{"type":"NodePort","sessionAffinity":"ClientIP"}}"#)
            let nodePort = try Self.jsonpath(k, "get", "service", "web", "-o", "jsonpath={.spec.ports[0].nodePort}")
            #expect(
                AgentCluster.eventually(10) {
                    try Shell.run("curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:\(nodePort)/").stdout
                        == "200"
                }, "NodePort \(nodePort) on 127.0.0.1")

            // port-forward: a local port to the pod's port, connected inside the pod's network namespace (SPDY for
            // kubectl 1.27, SPDY tunnelled through a WebSocket for 1.33).
            let localPort = 20000 + Int(getpid() % 5000) + (version == "kubectl.1.27" ? 0 : 7)
            let forward = try k.start("port-forward", "pod/\(pod)", "\(localPort):8000")
            let forwarded = AgentCluster.eventually(20) {
                try Shell.run("curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:\(localPort)/").stdout
                    == "200"
            }
            let forwardOutput = forward.stop()
            #expect(forwarded, "port-forward \(localPort) → \(pod):8000: \(forwardOutput)")

            // Logs: the servers' request lines (stderr), from the agent's CRI files.
            let logs = try k.run("logs", "deployment/web", "--tail=20")
            #expect(logs.exitCode == 0, "\(logs)")
            // No ready endpoints: the ClusterIP refuses at once (no hanging connection).
            try k.run("scale", "deployment/web", "--replicas=0")
            #expect(
                AgentCluster.eventually(30) {
                    try Shell.run("curl -s -m 5 http://\(clusterIP)/").exitCode == 7
                }, "connection refused once the Service has no endpoints")
            try k.run("delete", "-f", agent.cluster.path("web.yaml"), "--wait=true")
            #expect(AgentCluster.eventually(30) { agent.processes(matching: "http.server").isEmpty })
        }

        /// Volumes, environment from every source, the Job controller's pods to completion, `logs -f`.
        @Test func volumesEnvironmentAndJobs() throws {
            let agent = try AgentCluster()
            defer { agent.stop() }
            let k = try Self.kubectl("kubectl.1.33", agent)
            try agent.cluster.write(
                "pod.yaml",
                """
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: settings}
                data: {greeting: hello, mode: fast}
                ---
                apiVersion: v1
                kind: Secret
                metadata: {name: creds}
                stringData: {password: s3cret, user: admin}
                ---
                apiVersion: batch/v1
                kind: Job
                metadata: {name: show}
                spec:
                  backoffLimit: 0
                  template:
                    metadata: {labels: {app: show}, annotations: {team: blue}}
                    spec:
                      restartPolicy: Never
                      volumes:
                      - {name: config, configMap: {name: settings}}
                      - {name: secret, secret: {secretName: creds}}
                      - {name: scratch, emptyDir: {}}
                      - name: info
                        downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
                      initContainers:
                      - name: sidecar
                        image: busybox
                        restartPolicy: Always
                        command: ["sh", "-c", "echo from-sidecar > /scratch/sidecar; sleep 1000"]
                        volumeMounts: [{name: scratch, mountPath: /scratch}]
                      - name: prepare
                        image: busybox
                        command: ["sh", "-c", "echo prepared > /scratch/note"]
                        volumeMounts: [{name: scratch, mountPath: /scratch}]
                      containers:
                      - name: main
                        image: busybox
                        command: ["sh", "-c"]
                        args:
                        - >-
                          echo "config=$(cat /etc/config/greeting) secret=$(cat /etc/secret/password)
                          note=$(cat /scratch/note) labels=$(cat /etc/info/labels)";
                          echo "sidecar=$(cat /scratch/sidecar)";
                          echo "env GREETING=$GREETING USER_NAME=$USER_NAME CM_mode=$CM_mode PW=$SEC_password
                          POD=$POD_NAME NS=$POD_NAMESPACE TEAM=$TEAM MEM=$MEM_LIMIT LITERAL=$LITERAL
                          K8S=$KUBERNETES_SERVICE_HOST HOST=$(hostname)";
                          ls /var/run/secrets/kubernetes.io/serviceaccount;
                          touch /etc/config/x 2>/dev/null || echo read-only config;
                          echo $((6*7))
                        env:
                        - {name: LITERAL, value: "from-$(GREETING)"}
                        - {name: GREETING, valueFrom: {configMapKeyRef: {name: settings, key: greeting}}}
                        - {name: USER_NAME, valueFrom: {secretKeyRef: {name: creds, key: user}}}
                        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
                        - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
                        - {name: TEAM, valueFrom: {fieldRef: {fieldPath: "metadata.annotations['team']"}}}
                        - {name: MEM_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
                        envFrom:
                        - {prefix: CM_, configMapRef: {name: settings}}
                        - {prefix: SEC_, secretRef: {name: creds}}
                        resources: {limits: {memory: 128Mi, cpu: 500m}}
                        volumeMounts:
                        - {name: config, mountPath: /etc/config}
                        - {name: secret, mountPath: /etc/secret}
                        - {name: scratch, mountPath: /scratch}
                        - {name: info, mountPath: /etc/info}
                """)
            try k.run("apply", "-f", agent.cluster.path("pod.yaml"))
            try k.run("wait", "--for=condition=complete", "job/show", "--timeout=60s")
            let output = try k.run("logs", "job/show", "-c", "main").stdout
            #expect(output.contains("config=hello secret=s3cret note=prepared labels="), "\(output)")
            #expect(output.contains("app=\"show\""), "downward API labels: \(output)")
            #expect(output.contains("sidecar=from-sidecar"), "the sidecar ran before the main container: \(output)")
            #expect(output.contains("env GREETING=hello USER_NAME=admin CM_mode=fast PW=s3cret"), "\(output)")
            #expect(output.contains("NS=default TEAM=blue MEM=128"), "\(output)")
            // `$(GREETING)` in an earlier variable is not expanded (it is defined later), as Kubernetes does.
            #expect(output.contains("LITERAL=from-$(GREETING)"), "\(output)")
            #expect(output.contains("K8S=\(agent.servicePrefix)."), "Service variables: \(output)")
            #expect(output.contains("HOST=show-"), "hostname = pod name: \(output)")
            #expect(output.contains("token") && output.contains("ca.crt") && output.contains("namespace"), "\(output)")
            #expect(output.contains("read-only config"), "\(output)")
            #expect(output.contains("42"), "\(output)")
            #expect(
                !FileManager.default.fileExists(atPath: "/run/secrets/kubernetes.io"),
                "mounts stay inside the container (/var/run is a symlink to /run on the host)")

            // `logs -f` follows a running container to its end.
            try k.run(
                "run", "counter", "--image=busybox", "--restart=Never", "--command", "--", "sh", "-c",
                "for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done")
            #expect(
                AgentCluster.eventually(20) {
                    try Self.jsonpath(k, "get", "pod", "counter", "-o", "jsonpath={.status.phase}") != "Pending"
                })
            let followed = try k.run("logs", "-f", "counter")
            #expect(followed.stdout.contains("line 1") && followed.stdout.contains("line 5"), "\(followed)")
            // attach: the client's stdin reaches a running container with `stdin: true`; its output comes back.
            try agent.cluster.write(
                "echo.yaml",
                """
                apiVersion: v1
                kind: Pod
                metadata: {name: echo}
                spec:
                  containers:
                  - {name: c, image: busybox, stdin: true, command: ["sh", "-c", "while read l; do echo got $l; done"]}
                """)
            try k.run("apply", "-f", agent.cluster.path("echo.yaml"))
            #expect(
                AgentCluster.eventually(20) {
                    try Self.jsonpath(k, "get", "pod", "echo", "-o", "jsonpath={.status.phase}") == "Running"
                })
            let attached = try Shell.run(
                "(echo one; sleep 1; echo two; sleep 1) | timeout 6 \(k.binary) --kubeconfig \(agent.cluster.kubeconfig) attach -i echo"
            )
            #expect(attached.stdout.contains("got one") && attached.stdout.contains("got two"), "\(attached)")
            // runAsUser/runAsGroup, workingDir; a hostNetwork pod has the node's address and hostname.
            try agent.cluster.write(
                "who.yaml",
                """
                apiVersion: v1
                kind: Pod
                metadata: {name: who}
                spec:
                  restartPolicy: Never
                  securityContext: {runAsUser: 1000, runAsGroup: 3000}
                  containers:
                  - {name: c, image: busybox, workingDir: /tmp, command: ["sh", "-c", "echo uid=$(id -u) gid=$(id -g) pwd=$(pwd)"]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: hostnet}
                spec:
                  restartPolicy: Never
                  hostNetwork: true
                  containers:
                  - {name: c, image: busybox, command: ["sh", "-c", "hostname; ip -4 -o addr show | grep -c kb"]}
                """)
            try k.run("apply", "-f", agent.cluster.path("who.yaml"))
            for name in ["who", "hostnet"] {
                #expect(
                    AgentCluster.eventually(20) {
                        try Self.jsonpath(k, "get", "pod", name, "-o", "jsonpath={.status.phase}") == "Succeeded"
                    }, "\(name) ran to completion")
            }
            #expect(try k.run("logs", "who").stdout == "uid=1000 gid=3000 pwd=/tmp\n")
            let hostName = ProcessInfo.processInfo.hostName
            let hostLog = try k.run("logs", "hostnet").stdout
            #expect(hostLog.hasPrefix(hostName.split(separator: ".").first.map(String.init) ?? hostName), "\(hostLog)")
            #expect(!hostLog.hasSuffix("0\n"), "the host's bridges are visible in the host's network: \(hostLog)")
            let stamped = try k.run("logs", "counter", "--timestamps", "--tail=1")
            #expect(stamped.stdout.hasPrefix("20") && stamped.stdout.contains("Z line 5"), "\(stamped)")
        }

        /// Probes restart and gate containers; a crash is restarted and `--previous` shows the run before; a memory
        /// limit exceeded gives OOMKilled; delete sends SIGTERM first and leaves no process.
        @Test func lifecycle() throws {
            let agent = try AgentCluster()
            defer { agent.stop() }
            let k = try Self.kubectl("kubectl.1.33", agent)
            let marker = agent.cluster.path("terminated")
            try agent.cluster.write(
                "pods.yaml",
                """
                apiVersion: v1
                kind: Pod
                metadata: {name: probed}
                spec:
                  terminationGracePeriodSeconds: 2
                  # The binary under test, by a hostPath: a container's /tmp is its own, so a build under the
                  # host's /tmp (a CI clone) is not visible at its path.
                  volumes: [{name: bin, hostPath: {path: \(URL(fileURLWithPath: Locations.kelson).deletingLastPathComponent().path), type: Directory}}]
                  containers:
                  - name: live
                    image: busybox
                    command: ["sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 1000"]
                    livenessProbe: {exec: {command: ["cat", "/tmp/healthy"]}, periodSeconds: 1, failureThreshold: 1}
                  - name: gated
                    image: python
                    command: ["sh", "-c", "sleep 3; exec python3 -m http.server 8080"]
                    readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
                  - name: tcp
                    image: python
                    command: ["python3", "-m", "http.server", "8081"]
                    startupProbe: {tcpSocket: {port: 8081}, periodSeconds: 1, failureThreshold: 10}
                    livenessProbe: {tcpSocket: {port: 8082}, periodSeconds: 1, failureThreshold: 2}
                  - name: grpc
                    image: kelson
                    command: ["/kelson-bin/\(URL(fileURLWithPath: Locations.kelson).lastPathComponent)", "etcd", "--data-dir", "/tmp/etcd", "--listen-client-urls", "http://0.0.0.0:8083", "--advertise-client-urls", "http://127.0.0.1:8083"]
                    volumeMounts: [{name: bin, mountPath: /kelson-bin}]
                    readinessProbe: {grpc: {port: 8083}, periodSeconds: 1, timeoutSeconds: 5}
                  - name: nogrpc
                    image: python
                    command: ["python3", "-m", "http.server", "8084"]
                    readinessProbe: {grpc: {port: 8084}, periodSeconds: 1}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: crash}
                spec:
                  containers:
                  - name: c
                    image: busybox
                    command: ["sh", "-c", "echo run at $(date +%s%N); sleep 0.5; exit 3"]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: hog}
                spec:
                  restartPolicy: Never
                  containers:
                  - name: hog
                    image: python
                    command: ["python3", "-c", "x = bytearray(256 * 1024 * 1024); print('survived')"]
                    resources: {limits: {memory: 64Mi}}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: polite}
                spec:
                  terminationGracePeriodSeconds: 30
                  volumes: [{name: out, hostPath: {path: \(agent.cluster.directory), type: Directory}}]
                  containers:
                  - name: c
                    image: busybox
                    command: ["sh", "-c", "trap 'echo got SIGTERM > /out/terminated; exit 0' TERM; while true; do sleep 0.1; done"]
                    volumeMounts: [{name: out, mountPath: /out}]
                """)
            try k.run("apply", "-f", agent.cluster.path("pods.yaml"))

            // The gated container is not ready for its first seconds, then is.
            #expect(
                AgentCluster.eventually(30) {
                    try Self.jsonpath(
                        k, "get", "pod", "probed", "-o",
                        "jsonpath={.status.containerStatuses[?(@.name==\"gated\")].ready}") == "true"
                })
            // The exec liveness probe restarts `live`; the tcp one restarts `tcp` (nothing listens on 8082).
            for name in ["live", "tcp"] {
                #expect(
                    AgentCluster.eventually(40) {
                        let count = try Self.jsonpath(
                            k, "get", "pod", "probed", "-o",
                            "jsonpath={.status.containerStatuses[?(@.name==\"\(name)\")].restartCount}")
                        return (Int(count) ?? 0) >= 1
                    }, "\(name) restarted by its liveness probe")
            }
            // The gRPC health service of a real gRPC server (kelson etcd) passes; an HTTP server on the port fails.
            // (A debug kelson etcd on a loaded machine can take seconds to start and to answer: a 5 s timeout.)
            #expect(
                AgentCluster.eventually(60) {
                    try Self.jsonpath(
                        k, "get", "pod", "probed", "-o",
                        "jsonpath={.status.containerStatuses[?(@.name==\"grpc\")].ready}") == "true"
                }, "grpc readiness: \((try? k.run("describe", "pod", "probed").stdout) ?? "")")
            let notGRPC = try Self.jsonpath(
                k, "get", "pod", "probed", "-o", "jsonpath={.status.containerStatuses[?(@.name==\"nogrpc\")].ready}")
            #expect(notGRPC == "false")
            let events = try k.run("get", "events", "--field-selector", "involvedObject.name=probed").stdout
            #expect(events.contains("Unhealthy") && events.contains("Killing"), "\(events)")
            #expect(events.contains("is not pulled"), "the Pulled event says images are not pulled: \(events)")

            // The crashing container: restarted, its previous run's log kept.
            #expect(
                AgentCluster.eventually(40) {
                    let count = try Self.jsonpath(
                        k, "get", "pod", "crash", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
                    return (Int(count) ?? 0) >= 2
                })
            let previous = try k.run("logs", "crash", "--previous")
            #expect(previous.stdout.hasPrefix("run at "), "\(previous)")
            let last = try Self.jsonpath(
                k, "get", "pod", "crash", "-o", "jsonpath={.status.containerStatuses[0].lastState.terminated.exitCode}")
            #expect(last == "3")

            // Memory limit exceeded.
            #expect(
                AgentCluster.eventually(30) {
                    try Self.jsonpath(
                        k, "get", "pod", "hog", "-o",
                        "jsonpath={.status.containerStatuses[0].state.terminated.reason}") == "OOMKilled"
                })
            #expect(try Self.jsonpath(k, "get", "pod", "hog", "-o", "jsonpath={.status.phase}") == "Failed")

            // Delete: SIGTERM first (the trap writes its file), then nothing of the pod runs.
            #expect(AgentCluster.eventually(20) { !agent.processes(matching: "while true").isEmpty })
            try k.run("delete", "pod", "polite", "--wait=true", "--timeout=30s")
            let written = try? String(contentsOfFile: marker, encoding: .utf8)
            #expect(written == "got SIGTERM\n", "the container's SIGTERM handler ran")
            #expect(agent.processes(matching: "while true").isEmpty)
            try k.run("delete", "pod", "--all", "--wait=true", "--timeout=60s")
            #expect(AgentCluster.eventually(20) { agent.containerProcesses().isEmpty }, "\(agent.containerProcesses())")
        }

        /// Without root the agent cannot run pods: `kelson server` refuses to start and says why.
        @Test func refusesToStartWithoutRoot() throws {
            guard getuid() == 0 else { return }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "kelson-nonroot-\(UUID().uuidString)"
            ).path
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let result = try KelsonRun.run(
                executable: "/usr/bin/setpriv",
                [
                    "--reuid=65534", "--regid=65534", "--clear-groups", Locations.kelson, "server", "--data-dir",
                    directory, "--https-listen-port", "0",
                ], watchdog: 60)
            #expect(result.exitCode != 0)
            #expect(
                result.stderr.contains("the node agent needs root to run pods")
                    && result.stderr.contains("--disable-agent"),
                "\(result.stderr)")
        }

        /// `kelson agent --server URL --token T` joins a second node: its pods run there, reachable by Service.
        @Test func secondNodeJoins() throws {
            let agent = try AgentCluster()
            defer { agent.stop() }
            let k = try Self.kubectl("kubectl.1.33", agent)
            let second = Process()
            second.executableURL = URL(fileURLWithPath: Locations.kelson)
            let directory = agent.cluster.path("node-2")
            second.arguments = [
                "agent", "--server", agent.cluster.url, "--token", ClusterProcess.token, "--certificate-authority",
                agent.cluster.path("tls/server-ca.crt"), "--node-name", "node-2", "--data-dir", directory,
                "--cluster-cidr", "\(agent.podPrefix).0.0/16", "--pod-cidr", "\(agent.podPrefix).1.0/24",
                "--service-cidr", "\(agent.servicePrefix).0.0/16",
            ]
            let log = agent.cluster.path("node-2.log")
            FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            second.standardOutput = handle
            second.standardError = handle
            try second.run()
            var secondInstance = ""
            defer {
                if second.isRunning {
                    second.terminate()
                    second.waitUntilExit()
                }
                let left = AgentCluster.leftovers(instance: secondInstance)
                #expect(left.isEmpty, "left behind by kelson agent: \(left)")
            }
            #expect(
                AgentCluster.eventually(30) {
                    try Self.jsonpath(
                        k, "get", "node", "node-2", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}")
                        == "True"
                }, "node-2 registered and Ready")
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: "on bridge kb") {
                secondInstance = String(text[range.upperBound...].prefix { $0.isHexDigit })
            }
            try agent.cluster.write(
                "remote.yaml",
                """
                apiVersion: v1
                kind: Pod
                metadata: {name: remote, labels: {app: remote}}
                spec:
                  nodeName: node-2
                  terminationGracePeriodSeconds: 1
                  containers:
                  - {name: web, image: python, command: ["python3", "-m", "http.server", "8000"]}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: remote}
                spec:
                  selector: {app: remote}
                  ports: [{port: 80, targetPort: 8000}]
                """)
            try k.run("apply", "-f", agent.cluster.path("remote.yaml"))
            #expect(
                AgentCluster.eventually(30) {
                    try Self.jsonpath(k, "get", "pod", "remote", "-o", "jsonpath={.status.phase}") == "Running"
                })
            let ip = try Self.jsonpath(k, "get", "pod", "remote", "-o", "jsonpath={.status.podIP}")
            #expect(ip.hasPrefix("\(agent.podPrefix).1."), "an address from node-2's pod CIDR: \(ip)")
            #expect(agent.processes(matching: "http.server").isEmpty, "not on the server's node")
            #expect(
                AgentCluster.containerProcesses(instance: secondInstance).values.contains {
                    $0.contains("http.server")
                },
                "on node-2")
            let clusterIP = try Self.jsonpath(k, "get", "service", "remote", "-o", "jsonpath={.spec.clusterIP}")
            #expect(
                AgentCluster.eventually(20) {
                    try Shell.run("curl -s -m 5 -o /dev/null -w '%{http_code}' http://\(clusterIP)/").stdout == "200"
                })
            try k.run("delete", "pod", "remote", "--wait=true", "--timeout=30s")
            #expect(!secondInstance.isEmpty, "node-2's log names its bridge")
            #expect(
                AgentCluster.eventually(10) { AgentCluster.containerProcesses(instance: secondInstance).isEmpty },
                "the pod's process ended")
            second.terminate()
            second.waitUntilExit()
            #expect(second.terminationStatus == 0, "kelson agent stopped cleanly on SIGTERM")
        }

        /// `--agent-isolation none`: pods run in the host's namespaces, with a warning.
        @Test func withoutIsolation() throws {
            let agent = try AgentCluster(extraArguments: ["--agent-isolation", "none"])
            defer { agent.stop() }
            let k = try Self.kubectl("kubectl.1.33", agent)
            try k.run(
                "run", "plain", "--image=busybox", "--restart=Never", "--env=GREETING=hi", "--command", "--", "sh",
                "-c", "echo $GREETING $(hostname)")
            #expect(
                AgentCluster.eventually(30) {
                    try Self.jsonpath(k, "get", "pod", "plain", "-o", "jsonpath={.status.phase}") == "Succeeded"
                })
            let hostName = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? ""
            #expect(try k.run("logs", "plain").stdout == "hi \(hostName)\n", "the host's UTS namespace")
            let log = (try? String(contentsOfFile: agent.cluster.path("server.log"), encoding: .utf8)) ?? ""
            #expect(log.contains("without isolation"), "a warning says isolation is off")
        }

        /// The Python `kubernetes` client: a pod that runs, its log, exec, deletion.
        @Test func pythonClient() throws {
            guard let python = ProcessInfo.processInfo.environment["KELSON_TEST_PYTHON"] else {
                throw ClusterError(
                    "set KELSON_TEST_PYTHON to a python with the kubernetes package (scripts/test makes one)")
            }
            let agent = try AgentCluster()
            defer { agent.stop() }
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("python/agent_client_check.py").path
            let result = try KelsonRun.run(executable: python, [script, agent.cluster.kubeconfig], watchdog: 120)
            #expect(result.exitCode == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stdout.contains("all checks passed"), "\(result.stdout)")
        }

        /// The server killed with SIGKILL and started again: the pods run again, once each, and nothing of the
        /// killed run is left.
        @Test func restartAfterSIGKILL() throws {
            let agent = try AgentCluster()
            defer { agent.stop() }
            let k = try Self.kubectl("kubectl.1.33", agent)
            try agent.cluster.write("web.yaml", Self.webDeployment)
            try k.run("apply", "-f", agent.cluster.path("web.yaml"))
            try k.run("rollout", "status", "deployment/web", "--timeout=60s")
            let before = Set(agent.processes(matching: "http.server"))
            #expect(before.count == 2)
            for _ in 0..<2 {
                kill(agent.cluster.process.processIdentifier, SIGKILL)
                agent.cluster.process.waitUntilExit()
                try agent.cluster.restart()
                #expect(
                    AgentCluster.eventually(60) {
                        let now = agent.processes(matching: "http.server")
                        return now.count == 2 && Set(now).isDisjoint(with: before)
                    }, "\(agent.containerProcesses())")
                try k.run("rollout", "status", "deployment/web", "--timeout=60s")
                #expect(
                    AgentCluster.eventually(10) { agent.processes(matching: "http.server").count == 2 },
                    "no duplicates: \(agent.containerProcesses())")
                for pid in before { #expect(kill(pid, 0) != 0, "process \(pid) of the killed run is gone") }
            }
            let clusterIP = try Self.jsonpath(k, "get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")
            #expect(
                AgentCluster.eventually(20) {
                    try Shell.run("curl -s -m 5 -o /dev/null -w '%{http_code}' http://\(clusterIP)/").stdout == "200"
                })
        }
    }
}
