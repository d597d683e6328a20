import KubeAPI
import Synchronization

/// The scheduler's view of the cluster: every node, what the pods on each take, and the pods it has bound but
/// the informer does not show bound yet ("assumed", as kube-scheduler's cache keeps them), so a burst of pods
/// never overcommits a node. Decisions are made under one lock, placing the pod in the same step, so workers
/// can bind in parallel while each decision sees all earlier ones.
final class SchedulerCache: Sendable {
    private struct Placement {
        var node: String
        var demand: PodDemand
        var assumed: Bool
    }

    private struct State {
        var nodes: [String: NodeInfo] = [:]
        /// Node names in order, for a stable choice among equal scores.
        var order: [String] = []
        var usage: [String: NodeUsage] = [:]
        var placements: [String: Placement] = [:]
    }

    private let state = Mutex(State())

    /// Stores a node; true when what the filters read of it changed (a reason to retry unschedulable pods).
    func setNode(_ node: JSONValue) -> Bool {
        let info = NodeInfo(node)
        return state.withLock { state in
            let old = state.nodes.updateValue(info, forKey: info.name)
            if old == nil { state.order = state.nodes.keys.sorted() }
            return old != info
        }
    }

    func removeNode(_ name: String) {
        state.withLock { state in
            guard state.nodes.removeValue(forKey: name) != nil else { return }
            state.order = state.nodes.keys.sorted()
        }
    }

    /// Applies what the informer shows of a pod; true when the pod no longer takes room it took (deleted,
    /// finished), a reason to retry unschedulable pods.
    @discardableResult
    func setPod(_ key: String, _ pod: JSONValue?) -> Bool {
        let node = pod?[path: "spec", "nodeName"]?.stringValue ?? ""
        let holds = pod.map { !node.isEmpty && Self.holdsResources($0) } ?? false
        // A pod's requests do not change once it is placed: reuse what was computed (parsing quantities is the
        // costly part of following every pod's status changes).
        let known = state.withLock { $0.placements[key] }
        let demand =
            holds ? (known.flatMap { $0.node == node ? $0.demand : nil } ?? pod.map(PodDemand.init)) : nil
        return state.withLock { state in
            let old = state.placements[key]
            if let pod, node.isEmpty, old?.assumed == true, pod.isDeleting == false {
                // An event older than our binding: keep the assumption until the bound pod shows up.
                return false
            }
            if let old { state.usage[old.node, default: NodeUsage()].add(old.demand, sign: -1) }
            if let demand {
                state.placements[key] = Placement(node: node, demand: demand, assumed: false)
                state.usage[node, default: NodeUsage()].add(demand)
            } else {
                state.placements[key] = nil
            }
            return old != nil && demand == nil
        }
    }

    /// Placed on a node, by the informer or by an assumption.
    func isPlaced(_ key: String) -> Bool { state.withLock { $0.placements[key] != nil } }

    /// Drops the assumption of a pod whose binding failed.
    func forget(_ key: String) {
        state.withLock { state in
            guard let old = state.placements[key], old.assumed else { return }
            state.usage[old.node, default: NodeUsage()].add(old.demand, sign: -1)
            state.placements[key] = nil
        }
    }

    /// Terminal pods free their node's resources (kube-scheduler's cache drops them).
    static func holdsResources(_ pod: JSONValue) -> Bool {
        let phase = pod[path: "status", "phase"]?.stringValue
        return phase != "Succeeded" && phase != "Failed"
    }

    enum Decision: Equatable {
        case bind(String)
        case unschedulable(String)
    }

    /// Filters every node, scores those that fit and assumes the pod on the best; or says why none fits.
    func schedule(_ key: String, pod: JSONValue) -> Decision {
        let demand = PodDemand(pod: pod)
        let tolerations = Toleration.of(pod: pod)
        let affinity = NodeAffinity(pod: pod)
        let mayPreempt = pod[path: "spec", "preemptionPolicy"]?.stringValue != "Never"
        return state.withLock { state in
            if state.placements[key] != nil { return .unschedulable("") }
            guard !state.order.isEmpty else { return .unschedulable(Self.noNodes) }
            var feasible: [(name: String, usage: NodeUsage, info: NodeInfo)] = []
            var failures = Failures()
            for name in state.order {
                guard let info = state.nodes[name] else { continue }
                let usage = state.usage[name] ?? NodeUsage()
                let verdict = Filters.check(
                    info, usage: usage, demand: demand, tolerations: tolerations, affinity: affinity)
                if verdict.reasons.isEmpty {
                    feasible.append((name, usage, info))
                } else {
                    failures.add(verdict)
                }
            }
            guard !feasible.isEmpty else {
                return .unschedulable(failures.message(nodes: state.order.count, mayPreempt: mayPreempt))
            }
            let maxOwned = demand.owner.map { owner in feasible.map { $0.usage.owners[owner] ?? 0 }.max() ?? 0 } ?? 0
            var best: (name: String, score: Int64)?
            for candidate in feasible {
                var score = Scores.leastAllocated(candidate.info, usage: candidate.usage, demand: demand)
                if let owner = demand.owner {
                    score += 2 * Scores.spread(owned: candidate.usage.owners[owner] ?? 0, maximum: maxOwned)
                }
                if best == nil || score > best!.score { best = (candidate.name, score) }
            }
            let node = best!.name
            state.placements[key] = Placement(node: node, demand: demand, assumed: true)
            state.usage[node, default: NodeUsage()].add(demand)
            return .bind(node)
        }
    }

    /// kube-scheduler's `ErrNoNodesAvailable`.
    static let noNodes = "no nodes available to schedule pods"
}
