import Foundation
import KubeAPI
import KubeServer

/// Deletes what a namespace holds once the namespace is being deleted, then removes its `kubernetes` finalizer
/// (through `namespaces/{name}/finalize`) and deletes it, as kube-controller-manager's namespace controller does.
/// The kinds to empty come from discovery, so custom resources go too.
final class NamespaceController: Controller {
    let name = "namespace"
    let queue = WorkQueue()
    let workers = 2
    let context: ControllerContext
    let namespaces: Informer

    init(context: ControllerContext) {
        self.context = context
        namespaces = context.informer(.namespaces)
        namespaces.onChange { [queue] key in queue.add(key) }
    }

    func allKeys() -> [String] { namespaces.objects.filter(\.isDeleting).map(\.key) }

    func reconcile(_ key: String) async throws {
        guard let namespace = namespaces.get(key), namespace.isDeleting else { return }
        let client = context.client
        var remaining = 0
        for collection in try await Self.namespacedCollections(client) {
            let path = "\(collection.prefix)/namespaces/\(key)/\(collection.plural)"
            let list = try await client.list(path)
            let items = list["items"]?.arrayValue ?? []
            guard !items.isEmpty else { continue }
            remaining += items.count
            if items.contains(where: { !$0.isDeleting }) {
                _ = try? await client.delete(path)
            }
        }
        if remaining > 0 {
            // Pods stopping gracefully and objects with finalizers: look again shortly.
            queue.add(key, after: .seconds(2))
            return
        }
        let specFinalizers = (namespace[path: "spec", "finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
        if specFinalizers.contains("kubernetes") {
            var finalized = namespace
            finalized[path: "spec", "finalizers"] = .array(
                specFinalizers.filter { $0 != "kubernetes" }.map { .string($0) })
            _ = try await client.update(Collection.namespaces.path(key: key, subresource: "finalize"), finalized)
        }
        do {
            _ = try await client.delete(Collection.namespaces.path(key: key))
        } catch {
            guard error.code == 404 else { throw error }
        }
    }

    struct NamespacedCollection: Hashable {
        let prefix: String
        let plural: String
    }

    /// Every namespaced collection the server serves that can be deleted, at each group's preferred version.
    static func namespacedCollections(_ client: KubeClient) async throws -> [NamespacedCollection] {
        var versions: [String] = ["/api/v1"]
        let groups = try await client.get("/apis")
        for group in groups["groups"]?.arrayValue ?? [] {
            if let version = group[path: "preferredVersion", "groupVersion"]?.stringValue {
                versions.append("/apis/\(version)")
            }
        }
        var collections: [NamespacedCollection] = []
        for prefix in versions {
            let list = try await client.get(prefix)
            for resource in list["resources"]?.arrayValue ?? [] {
                guard resource["namespaced"]?.boolValue == true,
                    let plural = resource["name"]?.stringValue, !plural.contains("/"),
                    let verbs = resource["verbs"]?.arrayValue, verbs.contains("deletecollection")
                else { continue }
                collections.append(NamespacedCollection(prefix: prefix, plural: plural))
            }
        }
        return collections
    }
}
