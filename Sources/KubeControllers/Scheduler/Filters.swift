/// kube-scheduler's default filter plugins, in its order (the first that fails gives the node's reasons):
/// NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit. The reasons are theirs, word
/// for word, since users search for them.
enum Filters {
    struct Verdict {
        var reasons: [String] = []
        /// Whether evicting pods could make room (resources, ports), as preemption asks.
        var resolvable = false
    }

    static let unschedulable = "node(s) were unschedulable"
    static let affinityMismatch = "node(s) didn't match Pod's node affinity/selector"
    static let ports = "node(s) didn't have free ports for the requested pod ports"
    static let tooManyPods = "Too many pods"

    static func untoleratedTaint(_ taint: Taint) -> String {
        "node(s) had untolerated taint {\(taint.key): \(taint.value)}"
    }

    static func check(
        _ node: NodeInfo, usage: NodeUsage, demand: PodDemand, tolerations: [Toleration], affinity: NodeAffinity
    ) -> Verdict {
        if node.unschedulable,
            !tolerations.tolerate(Taint(key: Taint.unschedulable, effect: "NoSchedule"))
        {
            return Verdict(reasons: [unschedulable])
        }
        if let taint = node.taints.first(where: { !tolerations.tolerate($0) }) {
            return Verdict(reasons: [untoleratedTaint(taint)])
        }
        if !affinity.isEmpty, !affinity.matches(name: node.name, labels: node.labels) {
            return Verdict(reasons: [affinityMismatch])
        }
        if !demand.ports.isEmpty, usage.portConflict(demand) {
            return Verdict(reasons: [ports], resolvable: true)
        }
        let insufficient = resources(node, usage: usage, demand: demand)
        if !insufficient.isEmpty { return Verdict(reasons: insufficient, resolvable: true) }
        return Verdict()
    }

    /// NodeResourcesFit: the pod count first, then cpu, memory and every other requested resource against what
    /// is left of the node's allocatable; every shortage is a reason.
    static func resources(_ node: NodeInfo, usage: NodeUsage, demand: PodDemand) -> [String] {
        var reasons: [String] = []
        if Int64(usage.pods + 1) > node.allocatable["pods"] ?? 0 { reasons.append(tooManyPods) }
        let ordered = ["cpu", "memory", "ephemeral-storage"]
        let others = demand.requests.keys.filter { !ordered.contains($0) && $0 != "pods" }.sorted()
        for resource in ordered + others {
            let wanted = demand.requests[resource] ?? 0
            guard wanted > 0 else { continue }
            let free = (node.allocatable[resource] ?? 0) - (usage.requested[resource] ?? 0)
            if wanted > free { reasons.append("Insufficient \(resource)") }
        }
        return reasons
    }
}

/// Why no node fits, counted over nodes as kube-scheduler's `FitError` prints it, with the default preemption
/// plugin's verdict after it (Kelson does not preempt: no pod has a lower priority to give way).
struct Failures {
    private var reasons: [String: Int] = [:]
    private var resolvable = 0
    private var unresolvable = 0

    mutating func add(_ verdict: Filters.Verdict) {
        for reason in verdict.reasons { reasons[reason, default: 0] += 1 }
        if verdict.resolvable { resolvable += 1 } else { unresolvable += 1 }
    }

    func message(nodes: Int, mayPreempt: Bool) -> String {
        let histogram = reasons.map { "\($0.value) \($0.key)" }.sorted().joined(separator: ", ")
        var message = "0/\(nodes) nodes are available: \(histogram)."
        if !mayPreempt {
            message += " preemption: not eligible due to preemptionPolicy=Never."
        } else {
            var verdicts: [String] = []
            if resolvable > 0 { verdicts.append("\(resolvable) No preemption victims found for incoming pod") }
            if unresolvable > 0 { verdicts.append("\(unresolvable) Preemption is not helpful for scheduling") }
            message += " preemption: 0/\(nodes) nodes are available: \(verdicts.sorted().joined(separator: ", "))."
        }
        return message
    }
}

/// The default scores that matter without preemption or volumes: NodeResourcesFit's LeastAllocated (weight 1)
/// and the spreading of one controller's pods over nodes (PodTopologySpread's default, weight 2).
enum Scores {
    /// The share of cpu and memory left after placing the pod, 0–100, averaged.
    static func leastAllocated(_ node: NodeInfo, usage: NodeUsage, demand: PodDemand) -> Int64 {
        func free(_ allocatable: Int64, _ requested: Int64) -> Int64 {
            guard allocatable > 0, requested <= allocatable else { return 0 }
            return (allocatable - requested) * 100 / allocatable
        }
        let cpu = free(node.allocatable["cpu"] ?? 0, usage.scoringCPU + demand.scoringCPU)
        let memory = free(node.allocatable["memory"] ?? 0, usage.scoringMemory + demand.scoringMemory)
        return (cpu + memory) / 2
    }

    /// 100 on a node without pods of the owner, less the more it has compared to the fullest.
    static func spread(owned: Int, maximum: Int) -> Int64 {
        guard maximum > 0 else { return 100 }
        return Int64(100 * (maximum - owned) / maximum)
    }
}
