import KubeAPI
import Logging

/// Keeps the served kinds in step with the stored CustomResourceDefinitions: read at start, again after every
/// write to a definition through this server (so `kubectl apply -f crd.yaml -f cr.yaml` finds the kind at once),
/// and on every change the store reports (a definition written by another process on the same PostgreSQL).
/// When a definition goes, its custom resources go with it, as kube-apiserver's cleanup finalizer does.
struct CustomResourceCatalogue: Sendable {
    let registry: ObjectRegistry
    let catalogue: ResourceCatalogue
    let builtins: [ResourceType]

    static let definitions: ResourceType = BuiltinResources.all.first { $0.kind == "CustomResourceDefinition" }!

    /// Re-reads every definition; returns the store revision read at.
    @discardableResult
    func reload() async throws(KubeError) -> Int64 {
        let target = RequestTarget(groupVersion: Self.definitions.groupVersion, resource: Self.definitions)
        let list = try await registry.list(target, options: ObjectRegistry.ListOptions())
        let custom = list.items.compactMap(CustomResourceTypes.resourceType(for:))
        // A definition may not take a built-in kind's place.
        let taken = Set(builtins.map { "\($0.group)/\($0.plural)" })
        catalogue.replace(with: builtins + custom.filter { !taken.contains("\($0.group)/\($0.plural)") })
        return list.revision
    }

    /// Follows the definitions until cancelled.
    func follow(logger: Logger) async {
        while !Task.isCancelled {
            do {
                let revision = try await reload()
                let watch = try registry.storage.watch(
                    prefix: Self.definitions.keyPrefix(namespace: nil), afterRevision: revision)
                defer { watch.cancel() }
                while let events = try await watch.next() {
                    try await reload()
                    for event in events where event.kind == .deleted {
                        await removeInstances(of: event.object)
                    }
                }
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning("following custom resource definitions", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Deletes every stored object of a definition that is gone.
    private func removeInstances(of stored: StoredObject) async {
        guard let definition = try? JSONValue.parse(stored.value),
            let resource = CustomResourceTypes.resourceType(for: definition)
        else { return }
        let prefix = resource.keyPrefix(namespace: nil)
        while let page = try? await registry.storage.list(prefix: prefix, startKey: nil, limit: 500, revision: 0),
            !page.objects.isEmpty
        {
            for object in page.objects {
                _ = try? await registry.storage.delete(object.key, expectedModRevision: object.modRevision)
            }
        }
    }
}
