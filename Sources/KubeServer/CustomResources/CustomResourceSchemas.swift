import KubeAPI
import Synchronization

/// The parsed schemas of custom resources, kept per definition (by its uid and resource version) so a request
/// does not parse its definition's schema again.
enum CustomResourceSchemas {
    private static let cache = Mutex<[String: CustomResourceSchema]>([:])
    static let cacheMaximum = 1_000

    static func schema(for resource: ResourceType, version: String) -> CustomResourceSchema? {
        guard let definition = resource.definition,
            let source = CustomResourceTypes.schema(of: resource, version: version)
        else { return nil }
        let key = [
            definition[path: "metadata", "uid"]?.stringValue ?? resource.qualifiedName,
            definition[path: "metadata", "resourceVersion"]?.stringValue ?? "", version,
        ].joined(separator: "/")
        if let cached = cache.withLock({ $0[key] }) { return cached }
        guard let schema = try? CustomResourceSchema(openAPIV3Schema: source) else { return nil }
        cache.withLock { cache in
            if cache.count >= cacheMaximum { cache.removeAll() }
            cache[key] = schema
        }
        return schema
    }
}
