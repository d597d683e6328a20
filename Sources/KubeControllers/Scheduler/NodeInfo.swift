import KubeAPI

/// What the filters read of a node, parsed once per change of the node (not once per pod).
struct NodeInfo: Equatable, Sendable {
    var name: String
    var labels: [String: String]
    var unschedulable: Bool
    /// The node's taints, then those the node lifecycle controller would add for a Ready condition that is not
    /// True (`unreachable` when Unknown, `not-ready` when False or not yet posted), so a node is filtered by its
    /// readiness exactly as kube-scheduler filters it through TaintNodesByCondition's taints.
    var taints: [Taint]
    var allocatable: [String: Int64]

    init(_ node: JSONValue) {
        name = node.name
        labels = node.labels
        unschedulable = node[path: "spec", "unschedulable"]?.boolValue ?? false
        var taints = Taint.of(node: node).filter { $0.effect == "NoSchedule" || $0.effect == "NoExecute" }
        let ready = node.condition("Ready")?["status"]?.stringValue
        if ready != "True" {
            let key = ready == "Unknown" ? Taint.unreachable : Taint.notReady
            if !taints.contains(where: { $0.key == key && $0.effect == "NoSchedule" }) {
                taints.append(Taint(key: key, effect: "NoSchedule"))
            }
        }
        for index in taints.indices { taints[index].timeAdded = nil }
        self.taints = taints
        var allocatable: [String: Int64] = [:]
        for (resource, amount) in node[path: "status", "allocatable"]?.objectValue ?? [:] {
            allocatable[resource] = Quantity.amount(of: resource, amount)
        }
        self.allocatable = allocatable
    }
}

/// What the pods placed on one node take, whether the node is known yet or not.
struct NodeUsage: Sendable {
    var requested: [String: Int64] = [:]
    var scoringCPU: Int64 = 0
    var scoringMemory: Int64 = 0
    var pods = 0
    var ports: [HostPort: Int] = [:]
    /// Pods per controller uid, for spreading.
    var owners: [String: Int] = [:]

    mutating func add(_ demand: PodDemand, sign: Int64 = 1) {
        for (resource, amount) in demand.requests { requested[resource, default: 0] += sign * amount }
        scoringCPU += sign * demand.scoringCPU
        scoringMemory += sign * demand.scoringMemory
        pods += Int(sign)
        for port in demand.ports {
            ports[port, default: 0] += Int(sign)
            if ports[port] == 0 { ports[port] = nil }
        }
        if let owner = demand.owner {
            owners[owner, default: 0] += Int(sign)
            if owners[owner] == 0 { owners[owner] = nil }
        }
    }

    func portConflict(_ demand: PodDemand) -> Bool {
        demand.ports.contains { wanted in ports.keys.contains { $0.conflicts(with: wanted) } }
    }
}
