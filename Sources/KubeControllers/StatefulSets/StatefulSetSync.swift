import Foundation
import KubeAPI
import KubeServer

/// One pass over a StatefulSet's pods (upstream's `updateStatefulSet`). With `OrderedReady` (monotonic) it makes at
/// most one change and stops at the first pod that is not yet Running and Ready: pods are created in ordinal order,
/// removed from the highest ordinal down, one at a time; with `Parallel` it creates and removes all it can at once.
/// Then a RollingUpdate replaces the highest-ordinal pod not at the update revision, down to `partition`, one at a
/// time, once every pod above it is available again.
struct StatefulSetSync {
    let set: JSONValue
    /// The set's pods (claimed), as the cache shows them.
    let pods: [JSONValue]
    let current: JSONValue
    let update: JSONValue
    let now: Date

    struct Counts {
        var replicas: Int64 = 0
        var ready: Int64 = 0
        var available: Int64 = 0
        var current: Int64 = 0
        var updated: Int64 = 0
    }

    /// What the status reports (upstream's `computeReplicaStatus`), adjusted by what this pass deleted.
    private(set) var counts = Counts()

    init(set: JSONValue, pods: [JSONValue], current: JSONValue, update: JSONValue, now: Date) {
        self.set = set
        self.pods = pods
        self.current = current
        self.update = update
        self.now = now
        let minReady = set[path: "spec", "minReadySeconds"]?.intValue ?? 0
        for pod in pods where StatefulSetPods.ordinal(pod) != nil {
            counts.replicas += 1
            if StatefulSetPods.isRunningAndReady(pod) {
                counts.ready += 1
                if StatefulSetPods.isRunningAndAvailable(pod, minReadySeconds: minReady, now: now) {
                    counts.available += 1
                }
            }
            guard !pod.isDeleting else { continue }
            let revision = StatefulSetPods.revision(pod)
            if revision == current.name { counts.current += 1 }
            if revision == update.name { counts.updated += 1 }
        }
    }

    private var minReadySeconds: Int64 { self.set[path: "spec", "minReadySeconds"]?.intValue ?? 0 }
    private var monotonic: Bool { self.set[path: "spec", "podManagementPolicy"]?.stringValue != "Parallel" }
    private var strategy: String { self.set[path: "spec", "updateStrategy", "type"]?.stringValue ?? "RollingUpdate" }

    private func unavailable(_ pod: JSONValue?) -> Bool {
        StatefulSetPods.isUnavailable(pod, minReadySeconds: minReadySeconds, now: now)
    }

    /// The pod a missing ordinal gets: below the partition of a RollingUpdate it is made at the current revision
    /// (so scaling up never rolls the update past the partition), otherwise at the update revision
    /// (upstream's `newVersionedStatefulSetPod`).
    private func newPod(ordinal: Int) -> JSONValue {
        let start = StatefulSetPods.startOrdinal(set)
        let rolling = set[path: "spec", "updateStrategy", "rollingUpdate"]
        var atCurrent = false
        if strategy == "RollingUpdate" {
            if let partition = rolling?["partition"]?.intValue {
                atCurrent = ordinal < start + Int(partition)
            } else {
                atCurrent = ordinal < start + Int(set[path: "status", "currentReplicas"]?.intValue ?? 0)
            }
        }
        let revision = atCurrent ? current : update
        return StatefulSetPods.pod(
            for: set, template: StatefulSetHistory.template(of: revision), revision: revision.name, ordinal: ordinal)
    }

    mutating func run(_ controller: StatefulSetController) async throws {
        let start = StatefulSetPods.startOrdinal(set)
        let count = Int(max(0, set.specReplicas))
        // Pods in [start, start + count) by index; the others, with an ordinal, condemned, highest first.
        var replicas = [JSONValue?](repeating: nil, count: count)
        var condemned: [(ordinal: Int, pod: JSONValue)] = []
        for pod in pods {
            guard let ordinal = StatefulSetPods.ordinal(pod) else { continue }
            if ordinal >= start, ordinal < start + count {
                replicas[ordinal - start] = pod
            } else {
                condemned.append((ordinal, pod))
            }
        }
        condemned.sort { $0.ordinal > $1.ordinal }
        // The first pod (lowest ordinal, missing ones included) that is not available: in monotonic mode it alone
        // may be removed while unhealthy.
        let firstUnavailable =
            replicas.firstIndex(where: unavailable).map { replicas[$0]?.uid ?? "" }
            ?? condemned.reversed().first { unavailable($0.pod) }?.pod.uid
        guard !set.isDeleting else { return }

        // The pods the set keeps: made, replaced when finished, and (monotonic) healthy before the next.
        for index in 0..<count {
            guard let pod = replicas[index] else {
                try await controller.create(newPod(ordinal: start + index), of: set)
                if monotonic { return }
                continue
            }
            if StatefulSetPods.hasFinished(pod) {
                // Failed (or Succeeded: a forcibly stopped pod) is deleted; the next pass makes it again.
                if !pod.isDeleting { try await controller.delete(pod, of: set) }
                if monotonic { return }
                continue
            }
            if monotonic, pod.isDeleting || unavailable(pod) { return }
            if let labels = StatefulSetPods.missingIdentity(pod) {
                try await controller.restoreIdentity(pod, labels: labels, of: set)
            }
        }

        // Scale down: highest ordinal first.
        for (_, pod) in condemned {
            if pod.isDeleting {
                if monotonic { return }
                continue
            }
            if monotonic, unavailable(pod), pod.uid != firstUnavailable { return }
            try await controller.delete(pod, of: set)
            if monotonic { return }
        }

        guard strategy == "RollingUpdate" else { return }
        let partition = Int(set[path: "spec", "updateStrategy", "rollingUpdate", "partition"]?.intValue ?? 0)
        var target = count - 1
        while target >= max(partition, 0) {
            let pod = replicas[target]
            if let pod, StatefulSetPods.revision(pod) != update.name, !pod.isDeleting {
                try await controller.delete(pod, of: set)
                counts.current -= 1
                return
            }
            if unavailable(pod) { return }
            target -= 1
        }
    }
}
