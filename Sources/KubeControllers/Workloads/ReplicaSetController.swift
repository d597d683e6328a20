import Foundation
import KubeAPI
import KubeServer

/// Keeps `spec.replicas` pods for each ReplicaSet (kube-controller-manager's replicaset controller): adopts
/// matching orphans, releases pods that stopped matching, creates or deletes the difference (at most `burst` writes
/// per pass), and writes `status` (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas with
/// `minReadySeconds`, observedGeneration). Its own writes are expected, so a lagging cache never doubles them.
final class ReplicaSetController: Controller {
    let name = "replicaset"
    let queue = WorkQueue()
    let workers = 4
    /// Creates or deletes per pass, as upstream's `burstReplicas`.
    static let burst = 500
    let context: ControllerContext
    let replicaSets: Informer
    let pods: Informer
    let expectations = Expectations()

    init(context: ControllerContext) {
        self.context = context
        replicaSets = context.informer(.replicaSets)
        pods = context.informer(.pods)
        pods.indexByController()
        replicaSets.onChange { [queue] key in queue.add(key) }
        // A pod change concerns its controlling ReplicaSet (before and after), or, for an orphan, every ReplicaSet
        // of its namespace that selects it.
        pods.onEvent { [queue, replicaSets] event in
            queue.addControllers(of: event, kind: "ReplicaSet", owners: replicaSets)
        }
    }

    func allKeys() -> [String] { replicaSets.objects.map(\.key) }

    func reconcile(_ key: String) async throws {
        guard let set = replicaSets.get(key) else {
            expectations.forget(key)
            return
        }
        let controlled = pods.controlled(by: set.uid)
        let ready = expectations.satisfied(key, cache: pods) { uid in
            controlled.contains { $0.uid == uid && !$0.isDeleting }
        }
        let owned = try await OwnedObjects(client: context.client, collection: .pods).claim(
            controlled + pods.orphans(inNamespace: set.namespace), owner: set, selector: set.specSelector)
        let active = owned.filter(PodState.isActive)
        var failure: String?
        if ready, !set.isDeleting {
            do {
                try await scale(set, active: active)
            } catch {
                failure = "\(error)"
            }
        } else if !ready {
            queue.add(key, after: .milliseconds(100))
        }
        try await writeStatus(set, owned: owned, active: active, failure: failure)
        if let failure { throw ReconcileError(message: failure) }
    }

    private func scale(_ set: JSONValue, active: [JSONValue]) async throws {
        let wanted = Int(set[path: "spec", "replicas"]?.intValue ?? 1)
        let difference = active.count - wanted
        if difference < 0 {
            let count = min(-difference, Self.burst)
            let template = set[path: "spec", "template"] ?? [:]
            let pod = PodTemplates.pod(from: template, owner: set, generateName: set.name + "-")
            let path = Collection.pods.path(namespace: set.namespace)
            let client = context.client
            // Slow start as upstream: 1, 2, 4, … at once, stopping at the first failure (quota, validation).
            var created = 0
            var batch = 1
            while created < count {
                let size = min(batch, count - created)
                let results = await withTaskGroup(of: Result<JSONValue, KubeError>.self) { group in
                    for _ in 0..<size {
                        group.addTask { await Self.create(client, path, pod) }
                    }
                    var results: [Result<JSONValue, KubeError>] = []
                    for await result in group { results.append(result) }
                    return results
                }
                for case .success(let pod) in results {
                    expectations.expectCreated(set.key, revision: pod.resourceVersion)
                    context.events.record(
                        set, reason: "SuccessfulCreate", message: "Created pod: \(pod.name)",
                        component: "replicaset-controller")
                }
                created += size
                for case .failure(let error) in results {
                    context.events.record(
                        set, type: "Warning", reason: "FailedCreate", message: "Error creating: \(error.message)",
                        component: "replicaset-controller")
                    throw error
                }
                batch *= 2
            }
        } else if difference > 0 {
            let victims = active.sorted(by: PodTemplates.deletionOrder).prefix(min(difference, Self.burst))
            for pod in victims {
                do {
                    _ = try await context.client.delete(Collection.pods.path(key: pod.key))
                    expectations.expectDeleted(set.key, uid: pod.uid)
                    context.events.record(
                        set, reason: "SuccessfulDelete", message: "Deleted pod: \(pod.name)",
                        component: "replicaset-controller")
                } catch {
                    guard error.code == 404 else { throw error }
                }
            }
        }
    }

    private static func create(_ client: KubeClient, _ path: String, _ pod: JSONValue) async -> Result<
        JSONValue, KubeError
    > {
        do throws(KubeError) {
            return .success(try await client.create(path, pod))
        } catch {
            return .failure(error)
        }
    }

    private func writeStatus(_ set: JSONValue, owned: [JSONValue], active: [JSONValue], failure: String?)
        async throws
    {
        let minReady = set[path: "spec", "minReadySeconds"]?.intValue ?? 0
        let now = context.now()
        let templateLabels = set[path: "spec", "template", "metadata", "labels"]?.objectValue ?? [:]
        let fullyLabeled = active.filter { $0.hasLabels(templateLabels) }
        let ready = active.filter(PodState.isReady)
        let available = active.filter { PodState.isAvailable($0, minReadySeconds: minReady, now: now) }
        // Ready but not yet available: look again when the first becomes available.
        if let next = ready.compactMap({ PodState.availableAt($0, minReadySeconds: minReady) }).filter({ $0 > now })
            .min()
        {
            queue.add(set.key, at: next, now: now)
        }
        var status = set["status"]?.objectValue ?? JSONObject()
        status["replicas"] = .int(Int64(active.count))
        status["fullyLabeledReplicas"] = .int(Int64(fullyLabeled.count))
        status["readyReplicas"] = .int(Int64(ready.count))
        status["availableReplicas"] = .int(Int64(available.count))
        status["observedGeneration"] = .int(set.generation)
        var conditions = status["conditions"]?.arrayValue ?? []
        if let failure {
            Conditions.set(
                &conditions, type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: failure,
                now: APITime.format(now))
        } else {
            conditions.removeAll { $0["type"]?.stringValue == "ReplicaFailure" }
        }
        status["conditions"] = conditions.isEmpty ? nil : .array(conditions)
        for field in ["readyReplicas", "availableReplicas", "fullyLabeledReplicas"] where status[field] == .int(0) {
            status[field] = nil
        }
        guard JSONValue.object(status) != set["status"] else { return }
        var updated = set
        updated["status"] = .object(status)
        do {
            _ = try await context.client.update(
                Collection.replicaSets.path(key: set.key, subresource: "status"), updated)
        } catch {
            guard error.code == 404 else { throw error }
        }
    }
}

/// A reconcile that did part of its work and must be retried.
struct ReconcileError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
