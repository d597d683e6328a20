import Foundation
import KubeAPI
import KubeServer
import Synchronization

/// Deletes objects whose owners are gone and carries out the propagation policies of a delete
/// (kube-controller-manager's garbage collector, over the built-in kinds that take part):
/// - Background: once an owner is gone, each dependent whose owners are all gone is deleted; one that still has
///   another owner only loses the dangling reference.
/// - Foreground (`foregroundDeletion` finalizer): the owner waits while its dependents are deleted (in foreground
///   too); the finalizer goes once no dependent with `blockOwnerDeletion` remains.
/// - Orphan (`orphan` finalizer): the dependents lose their reference to the owner, then the finalizer goes.
/// An owner missing from the caches is looked up in the API before anything is deleted, so a cache that is
/// behind never deletes a live object's dependents.
final class GarbageCollector: Controller {
    let name = "garbage-collector"
    let queue = WorkQueue()
    let workers = 4
    let context: ControllerContext
    static let collections: [Collection] = [
        .pods, .replicaSets, .deployments, .statefulSets, .daemonSets, .controllerRevisions, .jobs, .cronJobs,
        .services, .endpoints, .endpointSlices, .configMaps, .secrets, .serviceAccounts, .leases,
    ]
    let informers: [Informer]

    struct Node: Hashable {
        let collection: Int
        let key: String
    }

    /// Who depends on whom, from every cached object's ownerReferences.
    private struct Graph {
        var dependents: [String: Set<Node>] = [:]
        var byUID: [String: Node] = [:]
    }

    private let graph = Mutex(Graph())

    init(context: ControllerContext) {
        self.context = context
        informers = Self.collections.map { context.informer($0) }
        for (index, informer) in informers.enumerated() {
            informer.onEvent { [weak self] event in self?.observe(event, collection: index) }
        }
    }

    func allKeys() -> [String] {
        var keys: [String] = []
        for (index, informer) in informers.enumerated() {
            for object in informer.objects {
                if !object.ownerReferences.isEmpty { keys.append("d|\(index)|\(object.key)") }
                if object.isDeleting { keys.append("o|\(index)|\(object.key)") }
            }
        }
        return keys
    }

    private func observe(_ event: InformerEvent, collection: Int) {
        let node = Node(collection: collection, key: event.key)
        var wake: [String] = []
        graph.withLock { graph in
            if let old = event.old {
                for reference in old.ownerReferences {
                    if let uid = reference["uid"]?.stringValue { graph.dependents[uid]?.remove(node) }
                }
                if event.new == nil || event.new?.uid != old.uid { graph.byUID[old.uid] = nil }
            }
            if let new = event.new {
                for reference in new.ownerReferences {
                    if let uid = reference["uid"]?.stringValue { graph.dependents[uid, default: []].insert(node) }
                }
                graph.byUID[new.uid] = node
            }
            // An object that went, or is going: its dependents look at their owners again.
            let subject = event.new ?? event.old
            if let subject, event.new == nil || subject.isDeleting {
                for dependent in graph.dependents[subject.uid] ?? [] {
                    wake.append("d|\(dependent.collection)|\(dependent.key)")
                }
            }
            // A dependent that went may unblock an owner's foreground deletion.
            if event.new == nil, let old = event.old {
                for reference in old.ownerReferences {
                    if let uid = reference["uid"]?.stringValue, let owner = graph.byUID[uid] {
                        wake.append("o|\(owner.collection)|\(owner.key)")
                    }
                }
            }
        }
        if let new = event.new {
            if !new.ownerReferences.isEmpty { wake.append("d|\(collection)|\(event.key)") }
            if new.isDeleting { wake.append("o|\(collection)|\(event.key)") }
        }
        for key in wake { queue.add(key) }
    }

    func reconcile(_ queued: String) async throws {
        let parts = queued.split(separator: "|", maxSplits: 2).map(String.init)
        guard parts.count == 3, let index = Int(parts[1]), informers.indices.contains(index) else { return }
        guard let object = informers[index].get(parts[2]) else { return }
        if parts[0] == "o" {
            try await finishOwner(object, collection: index)
        } else {
            try await attemptToDelete(object, collection: index)
        }
    }

    // MARK: Dependents

    private enum OwnerState {
        case solid
        case waitingForDependents
        case gone
    }

    private func attemptToDelete(_ object: JSONValue, collection: Int) async throws {
        let references = object.ownerReferences
        guard !references.isEmpty, !object.isDeleting || object.finalizers.contains("foregroundDeletion") else {
            return
        }
        var solid: [JSONValue] = []
        var dangling: [JSONValue] = []
        var waiting: [JSONValue] = []
        for reference in references {
            switch try await state(of: reference, namespace: object.namespace) {
            case .solid: solid.append(reference)
            case .gone: dangling.append(reference)
            case .waitingForDependents: waiting.append(reference)
            }
        }
        let path = Self.collections[collection].path(key: object.key)
        if !solid.isEmpty {
            guard !dangling.isEmpty || !waiting.isEmpty else { return }
            // Another owner still holds it: only the references to owners that are going go.
            let remove = Set((dangling + waiting).compactMap { $0["uid"]?.stringValue })
            let kept = references.filter { !remove.contains($0["uid"]?.stringValue ?? "") }
            _ = try await ignoringGone { () async throws(KubeError) -> JSONValue in
                try await self.context.client.patch(
                    path, .merge,
                    [
                        "metadata": [
                            "ownerReferences": .array(kept),
                            "resourceVersion": object[path: "metadata", "resourceVersion"] ?? .null,
                        ]
                    ])
            }
            return
        }
        guard !object.isDeleting else { return }
        // Every owner is gone or deleting in foreground: the dependent goes, in foreground when an owner waits.
        let policy = waiting.isEmpty ? "Background" : "Foreground"
        _ = try await ignoringGone { () async throws(KubeError) -> JSONValue in
            try await self.context.client.delete(
                path,
                options: [
                    "apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": .string(policy),
                    "preconditions": ["uid": .string(object.uid)],
                ])
        }
    }

    private func state(of reference: JSONValue, namespace: String) async throws -> OwnerState {
        let uid = reference["uid"]?.stringValue ?? ""
        let cached: JSONValue? = graph.withLock { graph in
            graph.byUID[uid].flatMap { node in informers[node.collection].get(node.key) }
        }
        var owner = cached
        if owner == nil {
            // Not in the caches: ask the API before believing it gone. Kinds this collector does not know (custom
            // resources) count as present.
            let kind = reference["kind"]?.stringValue ?? ""
            let group = (reference["apiVersion"]?.stringValue ?? "").split(separator: "/").dropLast().joined()
            guard
                let collection = (Self.collections + [.nodes, .namespaces]).first(where: {
                    $0.kind == kind && ($0.apiVersion.split(separator: "/").dropLast().joined()) == group
                })
            else { return .solid }
            let name = reference["name"]?.stringValue ?? ""
            let key = collection.namespaced ? "\(namespace)/\(name)" : name
            do {
                owner = try await context.client.get(collection.path(key: key))
            } catch {
                guard error.code == 404 else { throw error }
                return .gone
            }
        }
        guard let owner, owner.uid == uid else { return .gone }
        if owner.isDeleting, owner.finalizers.contains("foregroundDeletion") { return .waitingForDependents }
        return .solid
    }

    // MARK: Owners being deleted

    private func finishOwner(_ owner: JSONValue, collection: Int) async throws {
        guard owner.isDeleting else { return }
        let finalizers = owner.finalizers
        let dependents: [(Node, JSONValue)] = graph.withLock { graph in
            (graph.dependents[owner.uid] ?? []).compactMap { node in
                informers[node.collection].get(node.key).map { (node, $0) }
            }
        }
        if finalizers.contains("orphan") {
            for (node, dependent) in dependents {
                let kept = dependent.ownerReferences.filter { $0["uid"]?.stringValue != owner.uid }
                _ = try await ignoringGone { () async throws(KubeError) -> JSONValue in
                    try await self.context.client.patch(
                        Self.collections[node.collection].path(key: node.key), .merge,
                        [
                            "metadata": [
                                "ownerReferences": kept.isEmpty ? .null : .array(kept),
                                "resourceVersion": dependent[path: "metadata", "resourceVersion"] ?? .null,
                            ]
                        ])
                }
            }
            try await removeFinalizer("orphan", from: owner, collection: collection)
        } else if finalizers.contains("foregroundDeletion") {
            let blocking = dependents.filter { _, dependent in
                dependent.ownerReferences.contains {
                    $0["uid"]?.stringValue == owner.uid && $0["blockOwnerDeletion"]?.boolValue == true
                }
            }
            if blocking.isEmpty {
                try await removeFinalizer("foregroundDeletion", from: owner, collection: collection)
            } else {
                for (node, _) in blocking { queue.add("d|\(node.collection)|\(node.key)") }
            }
        }
    }

    private func removeFinalizer(_ finalizer: String, from owner: JSONValue, collection: Int) async throws {
        let kept = owner.finalizers.filter { $0 != finalizer }
        _ = try await ignoringGone { () async throws(KubeError) -> JSONValue in
            try await self.context.client.patch(
                Self.collections[collection].path(key: owner.key), .merge,
                [
                    "metadata": [
                        "finalizers": kept.isEmpty ? .null : .array(kept.map { .string($0) }),
                        "resourceVersion": owner[path: "metadata", "resourceVersion"] ?? .null,
                    ]
                ])
        }
    }

    /// A write to something already gone (404) or changed under our uid precondition is not a failure here.
    private func ignoringGone(_ body: () async throws(KubeError) -> JSONValue) async throws -> JSONValue? {
        do throws(KubeError) {
            return try await body()
        } catch {
            guard error.code == 404 else { throw error }
            return nil
        }
    }
}
