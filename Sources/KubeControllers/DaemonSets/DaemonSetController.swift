import Foundation
import KubeAPI
import KubeServer

/// Keeps one pod of each DaemonSet on every eligible node (kube-controller-manager's daemon controller): creates
/// the missing ones (pinned to their node by node affinity and bound by the scheduler, as upstream since 1.12),
/// deletes surplus ones (a second pod on a node, a pod on a node it no longer fits, a failed pod, a pod on a node
/// that is gone), rolls template changes out node by node within `maxUnavailable` (RollingUpdate) or only as the
/// user deletes pods (OnDelete), keeps a ControllerRevision per template, and writes the status `kubectl rollout
/// status` reads. Its own creates and deletes are expected, so a lagging cache never puts two pods on a node.
final class DaemonSetController: Controller {
    let name = "daemonset"
    let queue = WorkQueue()
    let workers = 2
    /// Creates or deletes per pass, as upstream's `BurstReplicas`.
    static let burst = 250
    static let component = "daemonset-controller"
    let context: ControllerContext
    let daemonSets: Informer
    let pods: Informer
    let nodes: Informer
    let revisions: Informer
    let expectations = Expectations()

    init(context: ControllerContext) {
        self.context = context
        daemonSets = context.informer(.daemonSets)
        pods = context.informer(.pods)
        nodes = context.informer(.nodes)
        revisions = context.informer(.controllerRevisions)
        daemonSets.onChange { [queue] key in queue.add(key) }
        // A pod or revision concerns its controlling DaemonSet or, for an orphan, every DaemonSet selecting it.
        for dependents in [pods, revisions] {
            dependents.onEvent { [queue, daemonSets] event in
                queue.addControllers(of: event, kind: "DaemonSet", owners: daemonSets)
            }
        }
        nodes.onEvent { [weak self] event in self?.nodeChanged(event) }
    }

    func allKeys() -> [String] { daemonSets.objects.map(\.key) }

    /// A node coming, going, or changing labels or taints may change where every DaemonSet belongs; status
    /// heartbeats do not.
    private func nodeChanged(_ event: InformerEvent) {
        if let old = event.old, let new = event.new, old[path: "metadata", "labels"] == new[path: "metadata", "labels"],
            old["spec"] == new["spec"]
        {
            return
        }
        for key in allKeys() { queue.add(key) }
    }

    func reconcile(_ key: String) async throws {
        guard let set = daemonSets.get(key) else {
            expectations.forget(key)
            return
        }
        // Being deleted: its pods and revisions go with it, and no status can be trusted (as upstream).
        guard !set.isDeleting else { return }
        let (current, old) = try await DaemonSetHistory(client: context.client, revisions: revisions).construct(set)
        let hash = current.labels[DaemonPlacement.hashLabel] ?? ""
        let nodeList = nodes.objects
        guard cacheCaughtUp(set) else {
            // Writes of the last pass are not in the cache yet: status only, and without observing the generation.
            queue.add(key, after: .milliseconds(100))
            return try await writeStatus(set, nodes: nodeList, byNode: try await podsByNode(set), hash: hash)
        }
        var failure: (any Error)?
        do {
            try await manage(set, nodes: nodeList, byNode: try await podsByNode(set), hash: hash)
            if cacheCaughtUp(set), set[path: "spec", "updateStrategy", "type"]?.stringValue != "OnDelete" {
                let byNode = try await podsByNode(set)
                let victims = DaemonSetRollout.podsToReplace(
                    set, nodes: nodeList, byNode: byNode, hash: hash, now: context.now())
                try await sync(set, create: [], delete: victims, hash: hash)
            }
            try await DaemonSetHistory(client: context.client, revisions: revisions).cleanUp(
                set, old: old,
                pods: pods.objects(inNamespace: set.namespace).filter { pod in
                    pod.controllerReference?["uid"]?.stringValue == set.uid
                })
        } catch {
            failure = error
        }
        try await writeStatus(
            set, nodes: nodeList, byNode: try await podsByNode(set), hash: hash, observedGeneration: set.generation)
        if let failure { throw failure }
    }

    /// Whether the pod cache shows every create and delete this controller made for `set`.
    private func cacheCaughtUp(_ set: JSONValue) -> Bool {
        expectations.satisfied(set.key, cache: pods) { uid in
            pods.objects(inNamespace: set.namespace).contains { $0.uid == uid && !$0.isDeleting }
        }
    }

    /// The DaemonSet's pods (after adoption and release) by the node each is on or pinned to; finished pods
    /// already being deleted are left out, as upstream does.
    private func podsByNode(_ set: JSONValue) async throws -> [String: [JSONValue]] {
        let owned = try await OwnedObjects(client: context.client, collection: .pods).claim(
            pods.objects(inNamespace: set.namespace), owner: set, selector: set.specSelector)
        var byNode: [String: [JSONValue]] = [:]
        for pod in owned {
            let phase = pod[path: "status", "phase"]?.stringValue
            if pod.isDeleting, phase == "Succeeded" || phase == "Failed" { continue }
            guard let node = DaemonPlacement.targetNode(of: pod) else { continue }
            byNode[node, default: []].append(pod)
        }
        return byNode
    }

    /// Which nodes need a pod and which pods must go (`podsShouldBeOnNode`, and upstream's pod GC for pods whose
    /// node is gone), then does it.
    private func manage(_ set: JSONValue, nodes: [JSONValue], byNode: [String: [JSONValue]], hash: String)
        async throws
    {
        var create: [String] = []
        var delete: [JSONValue] = []
        for node in nodes {
            let (shouldRun, shouldContinue) = DaemonPlacement.shouldRun(set, on: node)
            let here = byNode[node.name] ?? []
            if shouldRun, here.isEmpty {
                create.append(node.name)
            } else if shouldContinue {
                var running: [JSONValue] = []
                for pod in here where !pod.isDeleting {
                    switch pod[path: "status", "phase"]?.stringValue {
                    case "Failed":
                        context.events.record(
                            set, type: "Warning", reason: "FailedDaemonPod",
                            message: "Found failed daemon pod \(pod.key) on node \(node.name), will try to kill it",
                            component: Self.component)
                        delete.append(pod)
                    case "Succeeded": delete.append(pod)
                    default: running.append(pod)
                    }
                }
                // One pod per node: the oldest stays.
                delete += running.sorted(by: DaemonPlacement.oldestFirst).dropFirst()
            } else {
                delete += here.filter { !$0.isDeleting }
            }
        }
        let names = Set(nodes.map(\.name))
        // A pod whose node is gone can never stop gracefully: it goes at once, terminating or not.
        let orphaned = byNode.filter { !names.contains($0.key) }.values.flatMap { $0 }
        try await sync(set, create: create.sorted(), delete: delete, forceDelete: orphaned, hash: hash)
    }

    /// Creates a pod pinned to each node of `create` (slow start: 1, 2, 4, … at once, stopping at the first
    /// failure) and deletes `delete` (gracefully) and `forceDelete` (at once), at most `burst` of each.
    private func sync(
        _ set: JSONValue, create: [String], delete: [JSONValue], forceDelete: [JSONValue] = [], hash: String
    ) async throws {
        let template = podTemplate(set, hash: hash)
        let path = Collection.pods.path(namespace: set.namespace)
        let client = context.client
        let nodesToCreate = Array(create.prefix(Self.burst))
        var created = 0
        var batch = 1
        while created < nodesToCreate.count {
            let slice = nodesToCreate[created..<min(created + batch, nodesToCreate.count)]
            let results = await withTaskGroup(of: Result<JSONValue, KubeError>.self) { group in
                for node in slice {
                    var pinned = template
                    pinned["spec"] = DaemonPlacement.pinned(template["spec"] ?? [:], to: node)
                    group.addTask { await Self.create(client, path, pinned) }
                }
                var results: [Result<JSONValue, KubeError>] = []
                for await result in group { results.append(result) }
                return results
            }
            for case .success(let pod) in results {
                expectations.expectCreated(set.key, revision: pod.resourceVersion)
                context.events.record(
                    set, reason: "SuccessfulCreate", message: "Created pod: \(pod.name)", component: Self.component)
            }
            created += slice.count
            for case .failure(let error) in results {
                context.events.record(
                    set, type: "Warning", reason: "FailedCreate", message: "Error creating: \(error.message)",
                    component: Self.component)
                throw error
            }
            batch *= 2
        }
        let victims =
            delete.prefix(Self.burst).map { ($0, false) } + forceDelete.prefix(Self.burst).map { ($0, true) }
        for (pod, force) in victims {
            do {
                _ = try await client.delete(
                    Collection.pods.path(key: pod.key), options: force ? ["gracePeriodSeconds": 0] : nil)
                expectations.expectDeleted(set.key, uid: pod.uid)
                context.events.record(
                    set, reason: "SuccessfulDelete", message: "Deleted pod: \(pod.name)", component: Self.component)
            } catch {
                guard error.code == 404 else { throw error }
            }
        }
    }

    /// The pod every node gets (`CreatePodTemplate`): the template with the daemon tolerations and the
    /// `controller-revision-hash` and `pod-template-generation` labels, named `<ds>-<random>`.
    private func podTemplate(_ set: JSONValue, hash: String) -> JSONValue {
        var template = set[path: "spec", "template"] ?? [:]
        template["spec"] = DaemonPlacement.withDaemonTolerations(template["spec"] ?? [:])
        var labels: [String: String] = [:]
        if let generation = DaemonPlacement.templateGeneration(of: set) {
            labels[DaemonPlacement.generationLabel] = String(generation)
        }
        if !hash.isEmpty { labels[DaemonPlacement.hashLabel] = hash }
        return PodTemplates.pod(from: template, owner: set, generateName: set.name + "-", extraLabels: labels)
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

    /// Writes the counts (`updateDaemonSetStatus`); `observedGeneration` only after a full pass.
    private func writeStatus(
        _ set: JSONValue, nodes: [JSONValue], byNode: [String: [JSONValue]], hash: String,
        observedGeneration: Int64? = nil
    ) async throws {
        let now = context.now()
        let counts = DaemonSetRollout.status(set, nodes: nodes, byNode: byNode, hash: hash, now: now)
        let minReady = set[path: "spec", "minReadySeconds"]?.intValue ?? 0
        if minReady > 0, counts.numberReady != counts.numberAvailable {
            queue.add(set.key, after: .seconds(minReady))
        }
        var status = set["status"]?.objectValue ?? JSONObject()
        for (field, value) in counts.fields {
            // The required counts are always written; the optional ones are left out at zero, as upstream's JSON.
            let required = ["currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"]
            if value == 0, !required.contains(field) {
                status[field] = nil
            } else {
                status[field] = .int(value)
            }
        }
        if let observedGeneration { status["observedGeneration"] = .int(observedGeneration) }
        guard JSONValue.object(status) != set["status"] else { return }
        var updated = set
        updated["status"] = .object(status)
        do {
            _ = try await context.client.update(
                Collection.daemonSets.path(key: set.key, subresource: "status"), updated)
        } catch {
            guard error.code == 404 else { throw error }
        }
    }
}
