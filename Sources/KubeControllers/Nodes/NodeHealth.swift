import Foundation
import KubeAPI
import KubeServer

/// What kube-controller-manager's node lifecycle controller concludes about one node: whether its kubelet still
/// reports (its Lease in `kube-node-lease`, or the Ready condition's heartbeat), the conditions to mark Unknown
/// when it does not, and the taints its conditions call for.
enum NodeHealth {
    static let leaseNamespace = "kube-node-lease"
    static let monitoredConditions = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]

    /// The latest sign of life: the lease's renewal, the Ready heartbeat, or the node's creation (a new node
    /// gets a whole grace period).
    static func lastProbe(node: JSONValue, lease: JSONValue?) -> Date? {
        [
            lease?.time("spec", "renewTime"),
            node.condition("Ready")?["lastHeartbeatTime"]?.stringValue.flatMap(APITime.parse),
            node.time("metadata", "creationTimestamp"),
        ].compactMap { $0 }.max()
    }

    /// The node's conditions with every monitored one Unknown (upstream's `tryUpdateNodeHealth`), or nil when
    /// they already are.
    static func unknownConditions(of node: JSONValue, now: String) -> [JSONValue]? {
        var conditions = node[path: "status", "conditions"]?.arrayValue ?? []
        var changed = false
        for type in monitoredConditions {
            if let index = conditions.firstIndex(where: { $0["type"]?.stringValue == type }) {
                guard conditions[index]["status"]?.stringValue != "Unknown" else { continue }
                var condition = conditions[index]
                condition["status"] = "Unknown"
                condition["reason"] = "NodeStatusUnknown"
                condition["message"] = "Kubelet stopped posting node status."
                condition["lastTransitionTime"] = .string(now)
                conditions[index] = condition
            } else {
                conditions.append([
                    "type": .string(type), "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                    "message": "Kubelet never posted node status.", "lastHeartbeatTime": .string(now),
                    "lastTransitionTime": .string(now),
                ])
            }
            changed = true
        }
        return changed ? conditions : nil
    }

    /// The NoSchedule taints each condition calls for (TaintNodesByCondition) and the NoExecute ones of readiness
    /// (the NoExecute tainting pass), keyed by the taints the controller manages.
    static func wantedTaints(of node: JSONValue) -> (managed: Set<String>, wanted: [Taint]) {
        var wanted: [Taint] = []
        let status = { (type: String) in node.condition(type)?["status"]?.stringValue }
        switch status("Ready") {
        case "False":
            wanted += [
                Taint(key: Taint.notReady, effect: "NoSchedule"), Taint(key: Taint.notReady, effect: "NoExecute"),
            ]
        case "Unknown":
            wanted += [
                Taint(key: Taint.unreachable, effect: "NoSchedule"), Taint(key: Taint.unreachable, effect: "NoExecute"),
            ]
        default:
            break
        }
        let pressures = [
            ("MemoryPressure", "node.kubernetes.io/memory-pressure"),
            ("DiskPressure", "node.kubernetes.io/disk-pressure"),
            ("PIDPressure", "node.kubernetes.io/pid-pressure"),
            ("NetworkUnavailable", "node.kubernetes.io/network-unavailable"),
        ]
        for (type, key) in pressures where status(type) == "True" {
            wanted.append(Taint(key: key, effect: "NoSchedule"))
        }
        if node[path: "spec", "unschedulable"]?.boolValue == true {
            wanted.append(Taint(key: Taint.unschedulable, effect: "NoSchedule"))
        }
        var managed: Set<String> = [Taint.notReady, Taint.unreachable, Taint.unschedulable]
        for (_, key) in pressures { managed.insert(key) }
        return (managed, wanted)
    }

    /// The node's taints made to match what its conditions call for, or nil when they already do. NoExecute
    /// taints get `timeAdded` (when pods' tolerations start counting).
    static func reconciledTaints(of node: JSONValue, now: String) -> [JSONValue]? {
        let (managed, wanted) = wantedTaints(of: node)
        let current = node[path: "spec", "taints"]?.arrayValue ?? []
        func same(_ json: JSONValue, _ taint: Taint) -> Bool {
            json["key"]?.stringValue == taint.key && json["effect"]?.stringValue == taint.effect
        }
        var result = current.filter { json in
            guard let key = json["key"]?.stringValue, managed.contains(key) else { return true }
            return wanted.contains { same(json, $0) }
        }
        for taint in wanted where !result.contains(where: { same($0, taint) }) {
            var json: JSONValue = ["key": .string(taint.key), "effect": .string(taint.effect)]
            if taint.effect == "NoExecute" { json["timeAdded"] = .string(now) }
            result.append(json)
        }
        return result == current ? nil : result
    }
}
