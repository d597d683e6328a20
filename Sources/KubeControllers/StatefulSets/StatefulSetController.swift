import Foundation
import KubeAPI
import KubeServer

/// Keeps each StatefulSet's pods `<set>-0 … <set>-(n-1)` (kube-controller-manager's statefulset controller):
/// ordered or parallel creation and scale-down, a replacement of the same name for a failed or deleted pod, a
/// ControllerRevision per template, rolling updates from the highest ordinal down (honouring `partition`) or
/// OnDelete, and `status`. Claims for `volumeClaimTemplates` are never made: the API server refuses StatefulSets
/// that ask for them (there are no persistent volumes in kelson server yet).
final class StatefulSetController: Controller {
    let name = "statefulset"
    let queue = WorkQueue()
    let workers = 4
    static let component = "statefulset-controller"
    let context: ControllerContext
    let sets: Informer
    let pods: Informer
    let revisions: Informer
    /// Pods are named, so a lagging cache cannot make a second pod of an ordinal (its create meets 409); what this
    /// guards against is acting twice on one picture: deleting a pod again, or re-creating one the cache has not
    /// shown yet.
    let expectations = Expectations()

    init(context: ControllerContext) {
        self.context = context
        sets = context.informer(.statefulSets)
        pods = context.informer(.pods)
        revisions = context.informer(.controllerRevisions)
        sets.onChange { [queue] key in queue.add(key) }
        // A pod change concerns its controlling StatefulSet, or, for an orphan, the sets of its namespace it could
        // belong to (named after them and selected by them).
        pods.onEvent { [queue, sets] event in
            queue.addControllers(of: event, kind: "StatefulSet", owners: sets, accepts: StatefulSetPods.isMember)
        }
        revisions.onEvent { [queue] event in queue.addControllers(of: event, kind: "StatefulSet") }
    }

    func allKeys() -> [String] { sets.objects.map(\.key) }

    func reconcile(_ key: String) async throws {
        guard let set = sets.get(key) else {
            expectations.forget(key)
            return
        }
        let caughtUp = expectations.satisfied(key, cache: pods) { uid in
            pods.objects(inNamespace: set.namespace).contains { $0.uid == uid && !$0.isDeleting }
        }
        guard caughtUp else {
            queue.add(key, after: .milliseconds(100))
            return
        }
        let client = context.client
        let selector = set.specSelector
        let owned = try await OwnedObjects(client: client, collection: .pods).claim(
            pods.objects(inNamespace: set.namespace).filter { StatefulSetPods.isMember($0, of: set) }, owner: set,
            selector: selector)
        var history = try await OwnedObjects(client: client, collection: .controllerRevisions).claim(
            revisions.objects(inNamespace: set.namespace), owner: set, selector: selector)
        let (current, update, collisionCount) = try await currentAndUpdateRevisions(set, history: &history)
        var sync = StatefulSetSync(
            set: set, pods: owned, current: current, update: update, now: context.now())
        var failure: (any Error)?
        do {
            try await sync.run(self)
        } catch {
            failure = error
        }
        try await writeStatus(set, sync: sync, collisionCount: collisionCount)
        try await truncateHistory(set, history: history, pods: owned, live: [current.name, update.name])
        if let failure { throw failure }
    }

    // MARK: Revisions

    /// The revision pods are being moved from (`status.currentRevision`, or the update revision at first) and the
    /// one the spec asks for, made or renumbered here (a template seen before is rolled back to by giving its
    /// revision the next number, as upstream does).
    private func currentAndUpdateRevisions(_ set: JSONValue, history: inout [JSONValue]) async throws -> (
        JSONValue, JSONValue, Int64
    ) {
        history = StatefulSetHistory.sorted(history)
        var collisionCount = set[path: "status", "collisionCount"]?.intValue ?? 0
        let data = StatefulSetHistory.data(of: set)
        let next = StatefulSetHistory.next(history)
        let update: JSONValue
        if let equal = history.last(where: { $0["data"] == data }) {
            if equal.name == history.last?.name {
                update = equal
            } else {
                let path = Collection.controllerRevisions.path(key: equal.key)
                update = try await context.client.patch(path, .merge, ["revision": .int(next)])
                history = StatefulSetHistory.sorted(history.filter { $0.name != equal.name } + [update])
            }
        } else {
            update = try await createRevision(set, number: next, data: data, collisionCount: &collisionCount)
            history = StatefulSetHistory.sorted(history.filter { $0.name != update.name } + [update])
        }
        let currentName = set[path: "status", "currentRevision"]?.stringValue
        let current = history.first { $0.name == currentName } ?? update
        return (current, update, collisionCount)
    }

    /// Creates the revision; a name already taken by the same data (a cache that has not shown it yet) is that
    /// revision, by other data a collision: the count goes up and names the next try (upstream's
    /// `CreateControllerRevision`).
    private func createRevision(_ set: JSONValue, number: Int64, data: JSONValue, collisionCount: inout Int64)
        async throws -> JSONValue
    {
        let path = Collection.controllerRevisions.path(namespace: set.namespace)
        while true {
            let revision = StatefulSetHistory.revision(for: set, number: number, collisionCount: collisionCount)
            do {
                return try await context.client.create(path, revision)
            } catch {
                guard error.code == 409 else { throw error }
            }
            let existing = try await context.client.get(Collection.controllerRevisions.path(key: revision.key))
            if existing["data"] == data { return existing }
            collisionCount += 1
        }
    }

    /// Deletes the oldest revisions that no pod wears beyond `revisionHistoryLimit`.
    private func truncateHistory(_ set: JSONValue, history: [JSONValue], pods: [JSONValue], live: Set<String>)
        async throws
    {
        let limit = set[path: "spec", "revisionHistoryLimit"]?.intValue ?? 10
        let worn = Set(pods.map(StatefulSetPods.revision))
        for revision in StatefulSetHistory.surplus(history, live: live.union(worn), limit: limit) {
            do {
                _ = try await context.client.delete(Collection.controllerRevisions.path(key: revision.key))
            } catch {
                guard error.code == 404 else { throw error }
            }
        }
    }

    // MARK: Pod writes

    /// Creates a pod of the set. One that exists already (a cache behind the API) is left alone without an event,
    /// and the set is looked at again once the cache shows it.
    func create(_ pod: JSONValue, of set: JSONValue) async throws {
        do {
            let created = try await context.client.create(Collection.pods.path(namespace: set.namespace), pod)
            expectations.expectCreated(set.key, revision: created.resourceVersion)
            record(set, "create", pod: pod.name, error: nil)
        } catch {
            if error.code == 409 { throw error }
            record(set, "create", pod: pod.name, error: error.message)
            throw error
        }
    }

    /// Deletes a pod of the set, by uid, so a replacement of the same name is never the one deleted.
    func delete(_ pod: JSONValue, of set: JSONValue) async throws {
        do {
            _ = try await context.client.delete(
                Collection.pods.path(key: pod.key), options: ["preconditions": ["uid": .string(pod.uid)]])
            expectations.expectDeleted(set.key, uid: pod.uid)
            record(set, "delete", pod: pod.name, error: nil)
        } catch {
            // Gone already, or already replaced (the uid precondition failed): nothing left to delete.
            guard error.code != 404, error.code != 409 else { return }
            record(set, "delete", pod: pod.name, error: error.message)
            throw error
        }
    }

    /// Gives a pod the identity labels it lacks (upstream's `UpdateStatefulPod`).
    func restoreIdentity(_ pod: JSONValue, labels: JSONValue, of set: JSONValue) async throws {
        let patch: JSONValue = [
            "metadata": [
                "labels": labels, "uid": .string(pod.uid),
                "resourceVersion": pod[path: "metadata", "resourceVersion"] ?? .null,
            ]
        ]
        do {
            _ = try await context.client.patch(Collection.pods.path(key: pod.key), .merge, patch)
            record(set, "update", pod: pod.name, error: nil)
        } catch {
            guard error.code != 404 else { return }
            if error.code != 409 { record(set, "update", pod: pod.name, error: error.message) }
            throw error
        }
    }

    /// Upstream's `recordPodEvent`: `create Pod web-0 in StatefulSet web successful`, or `… failed error: …`.
    private func record(_ set: JSONValue, _ verb: String, pod: String, error: String?) {
        let title = verb.prefix(1).uppercased() + verb.dropFirst()
        if let error {
            context.events.record(
                set, type: "Warning", reason: "Failed\(title)",
                message: "\(verb) Pod \(pod) in StatefulSet \(set.name) failed error: \(error)",
                component: Self.component)
        } else {
            context.events.record(
                set, reason: "Successful\(title)", message: "\(verb) Pod \(pod) in StatefulSet \(set.name) successful",
                component: Self.component)
        }
    }

    // MARK: Status

    private func writeStatus(_ set: JSONValue, sync: StatefulSetSync, collisionCount: Int64) async throws {
        let minReady = set[path: "spec", "minReadySeconds"]?.intValue ?? 0
        let now = context.now()
        var counts = sync.counts
        var currentRevision = sync.current.name
        // A finished rolling update: the update revision becomes the current one (upstream's
        // `completeRollingUpdate`).
        if set[path: "spec", "updateStrategy", "type"]?.stringValue == "RollingUpdate",
            counts.updated == counts.replicas, counts.ready == counts.replicas
        {
            counts.current = counts.updated
            currentRevision = sync.update.name
        }
        // Ready but not yet available: look again when the first becomes available.
        if let next = sync.pods.filter(StatefulSetPods.isRunningAndReady)
            .compactMap({ PodState.availableAt($0, minReadySeconds: minReady) }).filter({ $0 > now }).min()
        {
            queue.add(set.key, at: next, now: now)
        }
        var status = set["status"]?.objectValue ?? JSONObject()
        status["observedGeneration"] = .int(set.generation)
        status["replicas"] = .int(counts.replicas)
        status["readyReplicas"] = .int(counts.ready)
        status["currentReplicas"] = .int(counts.current)
        status["updatedReplicas"] = .int(counts.updated)
        status["availableReplicas"] = .int(counts.available)
        status["currentRevision"] = .string(currentRevision)
        status["updateRevision"] = .string(sync.update.name)
        status["collisionCount"] = .int(collisionCount)
        // As the Go type writes them: these three are left out at zero.
        for field in ["readyReplicas", "currentReplicas", "updatedReplicas"] where status[field] == .int(0) {
            status[field] = nil
        }
        guard JSONValue.object(status) != set["status"] else { return }
        var updated = set
        updated["status"] = .object(status)
        do {
            _ = try await context.client.update(
                Collection.statefulSets.path(key: set.key, subresource: "status"), updated)
        } catch {
            guard error.code == 404 else { throw error }
        }
    }
}
