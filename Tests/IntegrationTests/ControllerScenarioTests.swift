import Foundation
import KubeAPI
import Testing

/// What a user does with workloads on `kelson server`, with real kubectl: the controllers and the scheduler in the
/// server do the rest. A `NodeStandIn` plays the node (the node agent is the next issue).
extension IntegrationTests {
    @Suite(.serialized) struct ControllerScenarioTests {
        static let kubectl = KubectlTests.kubectlDirectory + "/kubectl.1.33"

        /// Polls `condition` every 200 ms for up to `seconds`.
        static func eventually(_ seconds: TimeInterval = 60, _ condition: () throws -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if (try? condition()) == true { return true }
                Thread.sleep(forTimeInterval: 0.2)
            }
            return (try? condition()) == true
        }

        /// A server, a node standing in for the agent, and kubectl 1.33 on them.
        static func start(_ arguments: [String] = []) throws -> (ClusterProcess, NodeStandIn, Kubectl) {
            let cluster = try ClusterProcess.start(extraArguments: arguments)
            let node = NodeStandIn(cluster: cluster)
            do {
                try node.start()
            } catch {
                cluster.stop()
                throw error
            }
            return (cluster, node, Kubectl(binary: kubectl, cluster: cluster))
        }

        static func stop(_ cluster: ClusterProcess, _ node: NodeStandIn) {
            node.stop()
            cluster.stop()
        }

        static func json(_ run: KelsonRun) throws -> JSONValue { try JSONValue.parse(Array(run.stdout.utf8)) }

        static func images(_ k: Kubectl, _ selector: String, namespace: String = "default") throws -> [String] {
            let pods = try json(k.run("get", "pods", "-n", namespace, "-l", selector, "-o", "json"))
            return (pods["items"]?.arrayValue ?? []).filter { $0[path: "metadata", "deletionTimestamp"] == nil }
                .compactMap { $0[path: "spec", "containers"]?.arrayValue?.first?["image"]?.stringValue }
        }

        @Test func deploymentLifecycle() throws {
            let (cluster, node, k) = try Self.start()
            defer { Self.stop(cluster, node) }

            k.runOK("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2")
            let status = try k.run("rollout", "status", "deployment/web", "--timeout=60s")
            #expect(status.stdout.contains("deployment \"web\" successfully rolled out"), "\(status)")
            let pods = try Self.json(k.run("get", "pods", "-l", "app=web", "-o", "json"))["items"]?.arrayValue ?? []
            #expect(pods.count == 2)
            #expect(pods.allSatisfy { $0[path: "spec", "nodeName"] == "node-1" })

            k.runOK("scale", "deployment/web", "--replicas=4")
            try k.run("rollout", "status", "deployment/web", "--timeout=60s")
            #expect(try Self.images(k, "app=web").count == 4)

            k.runOK("set", "image", "deployment/web", "nginx=nginx:1.26")
            try k.run("rollout", "status", "deployment/web", "--timeout=60s")
            #expect(Self.eventually { try Self.images(k, "app=web") == Array(repeating: "nginx:1.26", count: 4) })

            k.runOK("rollout", "undo", "deployment/web")
            try k.run("rollout", "status", "deployment/web", "--timeout=60s")
            #expect(Self.eventually { try Self.images(k, "app=web") == Array(repeating: "nginx:1.25", count: 4) })
            let history = try k.run("rollout", "history", "deployment/web")
            // Revision 1 became 3 with the undo.
            #expect(history.stdout.contains("2 ") && history.stdout.contains("3 "), "\(history)")
            #expect(!history.stdout.contains("\n1 "), "\(history)")

            k.runOK("rollout", "pause", "deployment/web")
            k.runOK("set", "image", "deployment/web", "nginx=nginx:1.27")
            Thread.sleep(forTimeInterval: 1)
            #expect(try Self.images(k, "app=web") == Array(repeating: "nginx:1.25", count: 4))
            k.runOK("rollout", "resume", "deployment/web")
            try k.run("rollout", "status", "deployment/web", "--timeout=60s")
            #expect(Self.eventually { try Self.images(k, "app=web") == Array(repeating: "nginx:1.27", count: 4) })

            k.runOK("rollout", "restart", "deployment/web")
            try k.run("rollout", "status", "deployment/web", "--timeout=60s")
            let sets = try Self.json(k.run("get", "rs", "-l", "app=web", "-o", "json"))["items"]?.arrayValue ?? []
            #expect(sets.count == 4)

            let described = try k.run("describe", "deployment", "web")
            #expect(described.stdout.contains("ScalingReplicaSet"), "\(described)")
            #expect(described.stdout.contains("NewReplicaSetAvailable"), "\(described)")
            let podDescription = try k.run("describe", "pods", "-l", "app=web")
            #expect(podDescription.stdout.contains("Successfully assigned default/web-"), "\(podDescription)")
        }

        @Test func deleteWithEachCascadeMode() throws {
            let (cluster, node, k) = try Self.start()
            defer { Self.stop(cluster, node) }
            for name in ["bg", "fg", "or"] {
                k.runOK("create", "deployment", name, "--image=nginx", "--replicas=2")
                try k.run("rollout", "status", "deployment/\(name)", "--timeout=60s")
            }
            k.runOK("delete", "deployment", "bg", "--cascade=background")
            #expect(Self.eventually { try k.run("get", "rs,pods", "-l", "app=bg", "-o", "name").stdout.isEmpty })
            k.runOK("delete", "deployment", "fg", "--cascade=foreground")
            // `--cascade=foreground` returns once the owner is gone, which is after its dependents.
            #expect(try k.run("get", "rs,pods", "-l", "app=fg", "-o", "name").stdout.isEmpty)
            k.runOK("delete", "deployment", "or", "--cascade=orphan")
            Thread.sleep(forTimeInterval: 1)
            let orphans = try Self.json(k.run("get", "rs", "-l", "app=or", "-o", "json"))["items"]?.arrayValue ?? []
            #expect(orphans.count == 1)
            #expect(orphans.first?[path: "metadata", "ownerReferences"] == nil)
            #expect(try Self.images(k, "app=or").count == 2)
        }

        @Test func namespaceJobAndUnschedulablePod() throws {
            let (cluster, node, k) = try Self.start()
            defer { Self.stop(cluster, node) }

            // A namespace deleted with its contents.
            k.runOK("create", "namespace", "team")
            k.runOK("create", "deployment", "app", "--image=nginx", "--replicas=2", "-n", "team")
            k.runOK("create", "configmap", "settings", "--from-literal=a=1", "-n", "team")
            try k.run("rollout", "status", "deployment/app", "-n", "team", "--timeout=60s")
            k.runOK("delete", "namespace", "team", "--timeout=60s")
            #expect(try k.run("get", "namespace", "team", expectFailure: true).stderr.contains("NotFound"))

            // A Job to completion.
            k.runOK("create", "job", "once", "--image=busybox", "--", "true")
            let waited = try k.run("wait", "--for=condition=complete", "job/once", "--timeout=60s")
            #expect(waited.stdout.contains("condition met"), "\(waited)")
            let job = try Self.json(k.run("get", "job", "once", "-o", "json"))
            #expect(job[path: "status", "succeeded"] == 1)

            // A pod that asks for more than the node has stays Pending, and says why.
            let big = """
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"big"},"spec":{"containers":[{"name":"c",
                "image":"busybox","resources":{"requests":{"cpu":"64"}}}]}}
                """
            try cluster.write("big.json", big)
            k.runOK("apply", "-f", cluster.path("big.json"))
            #expect(
                Self.eventually {
                    try k.run("describe", "pod", "big").stdout.contains(
                        "0/1 nodes are available: 1 Insufficient cpu.")
                })
            let pod = try Self.json(k.run("get", "pod", "big", "-o", "json"))
            #expect(pod[path: "status", "phase"] == "Pending")
            let scheduled = pod[path: "status", "conditions"]?.arrayValue?.first { $0["type"] == "PodScheduled" }
            #expect(scheduled?["status"] == "False")
            #expect(scheduled?["reason"] == "Unschedulable")
        }

        @Test func aNodeThatStopsRenewingItsLeaseBecomesUnknownAndTainted() throws {
            let (cluster, node, k) = try Self.start(["--node-monitor-grace-period", "3s"])
            defer { Self.stop(cluster, node) }
            #expect(Self.eventually { try k.run("get", "node", "node-1").stdout.contains(" Ready ") })
            node.stopRenewing()
            #expect(Self.eventually(30) { try k.run("get", "node", "node-1").stdout.contains("NotReady") })
            let described = try k.run("describe", "node", "node-1")
            #expect(described.stdout.contains("node.kubernetes.io/unreachable:NoExecute"), "\(described)")
            #expect(described.stdout.contains("Kubelet stopped posting node status."), "\(described)")
        }

        @Test func aRestartInTheMiddleOfARolloutEndsWithExactlyTheRightPods() throws {
            let (cluster, node, k) = try Self.start()
            defer { Self.stop(cluster, node) }
            k.runOK("create", "deployment", "big", "--image=nginx:1", "--replicas=12")
            try k.run("rollout", "status", "deployment/big", "--timeout=90s")
            k.runOK(
                "patch", "deployment", "big", "-p",
                #"{"spec":{"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}}}"#)
            k.runOK("set", "image", "deployment/big", "nginx=nginx:2")
            // Part of the way through: restart the server.
            #expect(Self.eventually { try Self.images(k, "app=big").contains("nginx:2") })
            try cluster.restart()
            try k.run("rollout", "status", "deployment/big", "--timeout=120s")
            #expect(Self.eventually { try Self.images(k, "app=big") == Array(repeating: "nginx:2", count: 12) })
            // And it stays that way: no extra pod, no missing one.
            Thread.sleep(forTimeInterval: 1)
            let pods = try Self.json(k.run("get", "pods", "-l", "app=big", "-o", "json"))["items"]?.arrayValue ?? []
            #expect(pods.count == 12)
            let sets = try Self.json(k.run("get", "rs", "-l", "app=big", "-o", "json"))["items"]?.arrayValue ?? []
            #expect(sets.count == 2)
            #expect(sets.map { $0[path: "spec", "replicas"]?.intValue ?? -1 }.sorted() == [0, 12])
        }
    }
}

extension Kubectl {
    /// Runs and expects success, for commands whose output does not matter.
    func runOK(_ arguments: String...) {
        do {
            let result = try KelsonRun.run(
                executable: binary,
                ["--kubeconfig", cluster.kubeconfig, "--cache-dir", cluster.path("kube-cache")] + arguments,
                watchdog: 90)
            #expect(result.exitCode == 0, "kubectl \(arguments.joined(separator: " ")): \(result.stderr)")
        } catch {
            Issue.record("kubectl \(arguments.joined(separator: " ")): \(error)")
        }
    }
}
