import Foundation
import KubeAPI
import KubeServer

/// The arithmetic of a DaemonSet's rollout and status (upstream's `rollingUpdate` without surge and
/// `updateDaemonSetStatus`).
enum DaemonSetRollout {
    struct Counts {
        var desiredNumberScheduled: Int64 = 0
        var currentNumberScheduled: Int64 = 0
        var numberMisscheduled: Int64 = 0
        var numberReady: Int64 = 0
        var numberAvailable: Int64 = 0
        var updatedNumberScheduled: Int64 = 0
        var numberUnavailable: Int64 { desiredNumberScheduled - numberAvailable }

        var fields: [(String, Int64)] {
            [
                ("currentNumberScheduled", currentNumberScheduled), ("numberMisscheduled", numberMisscheduled),
                ("desiredNumberScheduled", desiredNumberScheduled), ("numberReady", numberReady),
                ("updatedNumberScheduled", updatedNumberScheduled), ("numberAvailable", numberAvailable),
                ("numberUnavailable", numberUnavailable),
            ]
        }
    }

    static func status(
        _ set: JSONValue, nodes: [JSONValue], byNode: [String: [JSONValue]], hash: String, now: Date
    ) -> Counts {
        let minReady = set[path: "spec", "minReadySeconds"]?.intValue ?? 0
        let generation = DaemonPlacement.templateGeneration(of: set)
        var counts = Counts()
        for node in nodes {
            let here = byNode[node.name] ?? []
            guard DaemonPlacement.shouldRun(set, on: node).shouldRun else {
                if !here.isEmpty { counts.numberMisscheduled += 1 }
                continue
            }
            counts.desiredNumberScheduled += 1
            guard let pod = here.sorted(by: DaemonPlacement.oldestFirst).first else { continue }
            counts.currentNumberScheduled += 1
            if PodState.isReady(pod) {
                counts.numberReady += 1
                if PodState.isAvailable(pod, minReadySeconds: minReady, now: now) { counts.numberAvailable += 1 }
            }
            if DaemonPlacement.isUpdated(pod, hash: hash, generation: generation) { counts.updatedNumberScheduled += 1 }
        }
        return counts
    }

    /// (maxSurge, maxUnavailable) against the desired count, rounded up; both zero is taken as one unavailable.
    static func limits(_ set: JSONValue, desired: Int64) -> (surge: Int64, unavailable: Int64) {
        let rolling = set[path: "spec", "updateStrategy", "rollingUpdate"]
        let surge = DeploymentRevisions.resolve(rolling?["maxSurge"] ?? .int(0), replicas: desired, roundUp: true)
        var unavailable = DeploymentRevisions.resolve(
            rolling?["maxUnavailable"] ?? .int(1), replicas: desired, roundUp: true)
        if desired > 0, surge == 0, unavailable == 0 { unavailable = 1 }
        // Surging is not done here: a surge-only strategy replaces one node at a time instead.
        if surge > 0, unavailable == 0 { unavailable = 1 }
        return (surge, unavailable)
    }

    /// The old pods to delete now so that new ones take their nodes, keeping at most `maxUnavailable` eligible
    /// nodes without an available pod; an old pod that is not available anyway is always replaced.
    static func podsToReplace(
        _ set: JSONValue, nodes: [JSONValue], byNode: [String: [JSONValue]], hash: String, now: Date
    ) -> [JSONValue] {
        var byNode = byNode
        var desired: Int64 = 0
        for node in nodes where DaemonPlacement.shouldRun(set, on: node).shouldRun {
            desired += 1
            if byNode[node.name] == nil { byNode[node.name] = [] }
        }
        let maxUnavailable = limits(set, desired: desired).unavailable
        let minReady = set[path: "spec", "minReadySeconds"]?.intValue ?? 0
        let generation = DaemonPlacement.templateGeneration(of: set)
        var unavailable: Int64 = 0
        var replaceAnyway: [JSONValue] = []
        var candidates: [JSONValue] = []
        // Node order only decides which old pods go first; sorted so that it is the same each pass.
        for (_, pods) in byNode.sorted(by: { $0.key < $1.key }) {
            var newPod: JSONValue?
            var oldPod: JSONValue?
            var ambiguous = false
            for pod in pods where !pod.isDeleting {
                if DaemonPlacement.isUpdated(pod, hash: hash, generation: generation) {
                    if newPod != nil { ambiguous = true }
                    newPod = pod
                } else {
                    if oldPod != nil { ambiguous = true }
                    oldPod = pod
                }
            }
            if ambiguous || (newPod == nil) == (oldPod == nil) {
                // The main pass creates or deletes here: count the node as unavailable meanwhile.
                unavailable += 1
            } else if let newPod {
                if !PodState.isAvailable(newPod, minReadySeconds: minReady, now: now) { unavailable += 1 }
            } else if let oldPod {
                if !PodState.isAvailable(oldPod, minReadySeconds: minReady, now: now) {
                    replaceAnyway.append(oldPod)
                } else if unavailable < maxUnavailable {
                    candidates.append(oldPod)
                }
            }
        }
        let room = Int(max(0, min(maxUnavailable - unavailable, Int64(candidates.count))))
        return replaceAnyway + candidates.prefix(room)
    }
}
