import Foundation
import KubeAPI
import KubeServer
import Synchronization

/// kube-controller-manager's node lifecycle controller and its taint manager, per node:
/// - a node whose kubelet stopped renewing its Lease for `nodeMonitorGracePeriod` gets every condition Unknown
///   (`NodeStatusUnknown`) through `nodes/{name}/status`;
/// - the node's conditions decide its `node.kubernetes.io/*` taints (unreachable, not-ready, pressure,
///   unschedulable), added and removed as they change;
/// - pods on a node with a NoExecute taint they do not tolerate are deleted at once, and those tolerating it for
///   `tolerationSeconds` that long after the taint's `timeAdded`.
final class NodeLifecycleController: Controller {
    let name = "node-lifecycle"
    let queue = WorkQueue()
    let workers = 2
    let context: ControllerContext
    let nodes: Informer
    let leases: Informer
    let pods: Informer
    /// Pod keys by node name, so a node's pods are found without walking every pod.
    private let podsByNode = Mutex<[String: Set<String>]>([:])

    static let component = "node-controller"
    static let evictionComponent = "taint-eviction-controller"

    init(context: ControllerContext) {
        self.context = context
        nodes = context.informer(.nodes)
        leases = context.informer(.leases)
        pods = context.informer(.pods)
        nodes.onChange { [queue] key in queue.add(key) }
        leases.onEvent { [queue] event in
            let (namespace, name) = Collection.split(event.key)
            if namespace == NodeHealth.leaseNamespace { queue.add(name) }
        }
        pods.onEvent { [self] event in
            let old = event.old?[path: "spec", "nodeName"]?.stringValue ?? ""
            let new = event.new?[path: "spec", "nodeName"]?.stringValue ?? ""
            if old != new {
                podsByNode.withLock { index in
                    if !old.isEmpty {
                        index[old]?.remove(event.key)
                        if index[old]?.isEmpty == true { index[old] = nil }
                    }
                    if !new.isEmpty { index[new, default: []].insert(event.key) }
                }
            }
            // A pod arriving on a node with NoExecute taints is judged by the taint manager.
            if !new.isEmpty, let node = nodes.get(new),
                Taint.of(node: node).contains(where: { $0.effect == "NoExecute" })
            {
                queue.add(new)
            }
        }
    }

    func allKeys() -> [String] { nodes.objects.map(\.key) }

    func reconcile(_ key: String) async throws {
        guard var node = nodes.get(key) else { return }
        let now = context.now()
        let stamp = APITime.format(now)
        let grace = context.settings.nodeMonitorGracePeriod.timeInterval
        let lease = leases.get("\(NodeHealth.leaseNamespace)/\(key)")
        let probe = NodeHealth.lastProbe(node: node, lease: lease) ?? now
        let deadline = probe.addingTimeInterval(grace)
        if deadline < now {
            if let conditions = NodeHealth.unknownConditions(of: node, now: stamp) {
                var updated = node
                updated[path: "status", "conditions"] = .array(conditions)
                node = try await context.client.update(Collection.nodes.path(key: key, subresource: "status"), updated)
            }
        } else {
            // Look again when the grace period would run out.
            queue.add(key, at: deadline, now: now, slack: .milliseconds(500))
        }
        if let taints = NodeHealth.reconciledTaints(of: node, now: stamp) {
            var updated = node
            if taints.isEmpty {
                updated[path: "spec", "taints"] = nil
            } else {
                updated[path: "spec", "taints"] = .array(taints)
            }
            node = try await context.client.update(Collection.nodes.path(key: key), updated)
        }
        try await evictPods(on: node, now: now)
    }

    /// The taint manager: deletes the node's pods that do not tolerate its NoExecute taints, or have tolerated
    /// them as long as they tolerate them; comes back for the next deadline.
    private func evictPods(on node: JSONValue, now: Date) async throws {
        let taints = Taint.of(node: node).filter { $0.effect == "NoExecute" }
        guard !taints.isEmpty else { return }
        let keys = podsByNode.withLock { $0[node.name] ?? [] }
        var next: Date?
        for key in keys.sorted() {
            guard let pod = pods.get(key), !pod.isDeleting,
                pod[path: "spec", "nodeName"]?.stringValue == node.name
            else { continue }
            guard let due = Self.evictionTime(of: pod, taints: taints, now: now) else { continue }
            if due <= now {
                try await evict(pod, key: key)
            } else {
                next = min(next ?? due, due)
            }
        }
        if let next { queue.add(node.name, at: next, now: now, slack: .milliseconds(100)) }
    }

    /// When the pod must go: at once for a taint it does not tolerate, else the earliest `timeAdded` plus the
    /// tolerated seconds over its taints; nil when it tolerates them all forever.
    static func evictionTime(of pod: JSONValue, taints: [Taint], now: Date) -> Date? {
        let tolerations = Toleration.of(pod: pod)
        var due: Date?
        for taint in taints {
            let matching = tolerations.filter { $0.tolerates(taint) }
            guard !matching.isEmpty else { return now }
            // The most generous toleration of this taint wins; nil seconds is forever.
            if matching.contains(where: { $0.seconds == nil }) { continue }
            let seconds = max(0, matching.compactMap(\.seconds).max() ?? 0)
            let time = (taint.timeAdded ?? now).addingTimeInterval(Double(seconds))
            due = min(due ?? time, time)
        }
        return due
    }

    private func evict(_ pod: JSONValue, key: String) async throws {
        context.events.record(
            pod, reason: "TaintManagerEviction", message: "Marking for deletion Pod \(key)",
            component: Self.evictionComponent)
        var conditions = pod[path: "status", "conditions"]?.arrayValue ?? []
        Conditions.set(
            &conditions, type: "DisruptionTarget", status: "True", reason: "DeletionByTaintManager",
            message: "Taint manager: deleting due to NoExecute taint", now: APITime.format(context.now()))
        let client = context.client
        do {
            _ = try await client.patch(
                Collection.pods.path(key: key, subresource: "status"), .merge,
                ["status": ["conditions": .array(conditions)]])
            _ = try await client.delete(Collection.pods.path(key: key))
        } catch {
            guard error.code == 404 else { throw error }
        }
    }
}
