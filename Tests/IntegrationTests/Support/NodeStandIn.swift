import Foundation
import KubeAPI
import Synchronization

/// Plays a node for `kelson server` until the node agent exists: registers a Node (4 cpu, 8 GiB, 110 pods),
/// renews its Lease in `kube-node-lease`, and reports the pods bound to it as a kubelet would, only faster and
/// without running anything: Running and Ready with an IP, then Succeeded for pods that do not restart
/// (`restartPolicy` Never or OnFailure: Jobs); pods being deleted are removed at once. Talks to the API with curl,
/// as any client would; follows the server across restarts (its URL changes with the port).
final class NodeStandIn: @unchecked Sendable {
    let cluster: ClusterProcess
    let name: String
    private let running = Atomic<Bool>(true)
    private let renewing = Atomic<Bool>(true)
    private let started = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(cluster: ClusterProcess, name: String = "node-1") {
        self.cluster = cluster
        self.name = name
    }

    static func time(_ date: Date = Date(), micro: Bool = false) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = micro ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        return formatter.string(from: date)
    }

    func start() throws {
        let node: JSONValue = [
            "apiVersion": "v1", "kind": "Node",
            "metadata": ["name": .string(name), "labels": ["kubernetes.io/hostname": .string(name)]],
        ]
        _ = try cluster.api("POST", "/api/v1/nodes", body: node.serializedText)
        try reportNodeStatus()
        let thread = Thread { [self] in
            var lastRenew = Date.distantPast
            while running.load(ordering: .acquiring) {
                if renewing.load(ordering: .acquiring), Date().timeIntervalSince(lastRenew) > 2 {
                    if (try? renewLease()) != nil { lastRenew = Date() }
                }
                try? reportPods()
                Thread.sleep(forTimeInterval: 0.2)
            }
            finished.signal()
        }
        started.store(true, ordering: .releasing)
        thread.start()
    }

    /// Stops renewing the lease (the node goes silent) but keeps reporting pods.
    func stopRenewing() { renewing.store(false, ordering: .releasing) }

    func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        if started.load(ordering: .acquiring) { finished.wait() }
    }

    private func reportNodeStatus() throws {
        let now = JSONValue.string(Self.time())
        let resources: JSONValue = ["cpu": "4", "memory": "8Gi", "pods": "110"]
        let status: JSONValue = [
            "status": [
                "capacity": resources, "allocatable": resources,
                "addresses": [
                    ["type": "InternalIP", "address": "127.0.0.1"], ["type": "Hostname", "address": .string(name)],
                ],
                "conditions": [
                    [
                        "type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
                        "lastTransitionTime": now,
                    ]
                ],
            ]
        ]
        let result = try cluster.api(
            "PATCH", "/api/v1/nodes/\(name)/status", body: status.serializedText,
            contentType: "application/merge-patch+json")
        guard result.statusCode == 200 else { throw ClusterError("node status: \(result)") }
    }

    private func renewLease() throws {
        let path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
        let lease: JSONValue = [
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": ["name": .string(name)],
            "spec": [
                "holderIdentity": .string(name), "leaseDurationSeconds": 40,
                "renewTime": .string(Self.time(micro: true)),
            ],
        ]
        let patched = try cluster.api(
            "PATCH", "\(path)/\(name)", body: JSONValue.object(["spec": lease["spec"] ?? [:]]).serializedText,
            contentType: "application/merge-patch+json")
        if patched.statusCode == 404 { _ = try cluster.api("POST", path, body: lease.serializedText) }
    }

    private func reportPods() throws {
        let list = try cluster.api("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3D\(name)")
        guard list.statusCode == 200, let pods = try? JSONValue.parse(Array(list.body.utf8))["items"]?.arrayValue
        else { return }
        for (index, pod) in pods.enumerated() {
            let namespace = pod[path: "metadata", "namespace"]?.stringValue ?? ""
            let podName = pod[path: "metadata", "name"]?.stringValue ?? ""
            let path = "/api/v1/namespaces/\(namespace)/pods/\(podName)"
            if pod[path: "metadata", "deletionTimestamp"] != nil {
                _ = try cluster.api("DELETE", path + "?gracePeriodSeconds=0")
                continue
            }
            let phase = pod[path: "status", "phase"]?.stringValue ?? "Pending"
            let finishes = pod[path: "spec", "restartPolicy"]?.stringValue != "Always"
            let now = JSONValue.string(Self.time())
            let next: JSONValue
            switch phase {
            case "Pending":
                next = [
                    "status": [
                        "phase": "Running", "podIP": .string("10.42.0.\(index % 250 + 2)"), "hostIP": "127.0.0.1",
                        "startTime": now,
                        "conditions": [
                            ["type": "Initialized", "status": "True", "lastTransitionTime": now],
                            ["type": "Ready", "status": "True", "lastTransitionTime": now],
                            ["type": "ContainersReady", "status": "True", "lastTransitionTime": now],
                            ["type": "PodScheduled", "status": "True", "lastTransitionTime": now],
                        ],
                    ]
                ]
            case "Running" where finishes:
                next = [
                    "status": [
                        "phase": "Succeeded",
                        "conditions": [
                            ["type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": now],
                            [
                                "type": "ContainersReady", "status": "False", "reason": "PodCompleted",
                                "lastTransitionTime": now,
                            ],
                        ],
                    ]
                ]
            default:
                continue
            }
            _ = try cluster.api(
                "PATCH", path + "/status", body: next.serializedText, contentType: "application/merge-patch+json")
        }
    }
}

extension JSONValue {
    var serializedText: String { String(decoding: serialized(), as: UTF8.self) }
}
