import Foundation
import KubeAPI
import Testing

@testable import KubeControllers
@testable import KubeServer

@Suite struct NodeLifecycleTests {
    static func settings() -> ControllerSettings {
        var settings = ControllerSettings()
        settings.nodeMonitorGracePeriod = .seconds(40)
        return settings
    }

    /// The kubelet's heartbeat: the node's Lease in `kube-node-lease`, renewed now (by the cluster's clock).
    func renewLease(_ cluster: TestCluster, node: String) async throws {
        let path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/\(node)"
        let renew = JSONValue.string(APITime.format(cluster.context.now(), fractionalDigits: 6))
        if var lease = await cluster.get(path) {
            lease[path: "spec", "renewTime"] = renew
            _ = try await cluster.client.update(path, lease)
        } else {
            _ = try await cluster.client.create(
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                [
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": ["name": .string(node)],
                    "spec": ["holderIdentity": .string(node), "leaseDurationSeconds": 40, "renewTime": renew],
                ])
        }
    }

    func taintKeys(_ node: JSONValue?) -> [String] {
        (node?[path: "spec", "taints"]?.arrayValue ?? []).map {
            "\($0["key"]?.stringValue ?? ""):\($0["effect"]?.stringValue ?? "")"
        }.sorted()
    }

    @Test func aNodeThatStopsRenewingItsLeaseIsUnreachableAndItsPodsGo() async throws {
        let cluster = try TestCluster(
            controllers: { [NodeLifecycleController(context: $0)] }, settings: Self.settings())
        try await cluster.start()
        try await cluster.makeNode("n1")
        try await renewLease(cluster, node: "n1")
        // Bound pods: the admission default (300 s), a short toleration, and one tolerating forever.
        try await cluster.makePod("default-toleration", nodeName: "n1")
        try await cluster.makePod(
            "short",
            spec: [
                "tolerations": [
                    [
                        "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                        "tolerationSeconds": 5,
                    ]
                ]
            ], nodeName: "n1")
        try await cluster.makePod("forever", spec: ["tolerations": [["operator": "Exists"]]], nodeName: "n1")

        // Within the grace period nothing happens.
        cluster.advance(by: 30)
        try await Task.sleep(for: .milliseconds(300))
        #expect(await cluster.get("/api/v1/nodes/n1")?.condition("Ready")?["status"] == "True")

        cluster.advance(by: 15)
        let unknown = await cluster.eventually {
            let node = await cluster.get("/api/v1/nodes/n1")
            return ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"].allSatisfy { type in
                let condition = node?.condition(type)
                return condition?["status"] == "Unknown"
            } && node?.condition("Ready")?["reason"] == "NodeStatusUnknown"
                && node?.condition("Ready")?["message"] == "Kubelet stopped posting node status."
                && self.taintKeys(node) == [
                    "node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule",
                ]
        }
        #expect(unknown)
        let node = await cluster.get("/api/v1/nodes/n1")
        let noExecute = node?[path: "spec", "taints"]?.arrayValue?.first { $0["effect"] == "NoExecute" }
        #expect(noExecute?["timeAdded"]?.stringValue != nil)

        // Tolerated for 5 s: still there until the clock passes that.
        try await Task.sleep(for: .milliseconds(300))
        #expect(await Self.isGoing(cluster, "short") == false)
        cluster.advance(by: 6)
        let evicted = await cluster.eventually { await Self.isGoing(cluster, "short") }
        #expect(evicted)
        let recorded = await cluster.eventually {
            try await cluster.eventMessages(pod: "short", reason: "TaintManagerEviction") == [
                "Marking for deletion Pod default/short"
            ]
        }
        #expect(recorded)
        #expect(await Self.isGoing(cluster, "default-toleration") == false)
        #expect(await Self.isGoing(cluster, "forever") == false)

        // The kubelet comes back: lease renewed and Ready posted; the taints go.
        try await renewLease(cluster, node: "n1")
        var current = try await cluster.client.get("/api/v1/nodes/n1")
        let now = JSONValue.string(APITime.format(cluster.context.now()))
        current[path: "status", "conditions"] = [
            [
                "type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            ]
        ]
        _ = try await cluster.client.update("/api/v1/nodes/n1/status", current)
        let healed = await cluster.eventually { self.taintKeys(await cluster.get("/api/v1/nodes/n1")).isEmpty }
        #expect(healed)
        await cluster.stop()
    }

    @Test func aPodThatDoesNotTolerateANoExecuteTaintGoesAtOnce() async throws {
        let cluster = try TestCluster(
            controllers: { [NodeLifecycleController(context: $0)] }, settings: Self.settings())
        try await cluster.start()
        try await cluster.makeNode("n1")
        try await renewLease(cluster, node: "n1")
        try await cluster.makePod("intolerant", nodeName: "n1")
        try await cluster.makePod(
            "tolerant", spec: ["tolerations": [["key": "maintenance", "operator": "Exists", "effect": "NoExecute"]]],
            nodeName: "n1")
        var node = try await cluster.client.get("/api/v1/nodes/n1")
        node[path: "spec", "taints"] = [["key": "maintenance", "value": "now", "effect": "NoExecute"]]
        _ = try await cluster.client.update("/api/v1/nodes/n1", node)
        let evicted = await cluster.eventually { await Self.isGoing(cluster, "intolerant") }
        #expect(evicted)
        try await Task.sleep(for: .milliseconds(300))
        #expect(await Self.isGoing(cluster, "tolerant") == false)
        await cluster.stop()
    }

    /// Deleted, or being deleted (a bound pod waits for its kubelet).
    static func isGoing(_ cluster: TestCluster, _ name: String) async -> Bool {
        guard let pod = await cluster.get("/api/v1/namespaces/default/pods/\(name)") else { return true }
        return pod.isDeleting
    }
}
