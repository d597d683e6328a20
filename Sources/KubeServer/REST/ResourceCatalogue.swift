import KubeAPI
import Synchronization

/// The kinds served right now: the built-in ones, plus custom resources as their definitions come and go.
public final class ResourceCatalogue: Sendable {
    private struct State {
        var resources: [ResourceType]
        /// (group, version, plural) → index into `resources`, for every served version.
        var byPath: [String: Int] = [:]
        var generation = 0
    }

    private let state: Mutex<State>

    public init(resources: [ResourceType] = BuiltinResources.all) {
        state = Mutex(State(resources: []))
        replace(with: resources)
    }

    public var all: [ResourceType] { state.withLock { $0.resources } }

    /// Moves each time the served kinds change (documents built from them are stale then).
    var generation: Int { state.withLock { $0.generation } }

    func replace(with resources: [ResourceType]) {
        var index: [String: Int] = [:]
        for (position, resource) in resources.enumerated() {
            for version in resource.servedVersions where index[Self.pathKey(version, resource.plural)] == nil {
                index[Self.pathKey(version, resource.plural)] = position
            }
        }
        state.withLock {
            $0.resources = resources
            $0.byPath = index
            $0.generation += 1
        }
    }

    func resource(groupVersion: GroupVersion, plural: String) -> ResourceType? {
        state.withLock { state in state.byPath[Self.pathKey(groupVersion, plural)].map { state.resources[$0] } }
    }

    /// The resource of `kind` served at `groupVersion`.
    func resource(groupVersion: GroupVersion, kind: String) -> ResourceType? {
        all.first { $0.kind == kind && $0.servedVersions.contains(groupVersion) }
    }

    /// Every group/version served, the stable versions of each group first, in a stable order (core first).
    var groupVersions: [(group: String, versions: [String])] {
        var order: [String] = []
        var versions: [String: [String]] = [:]
        for resource in all {
            for version in resource.servedVersions {
                if versions[version.group] == nil {
                    order.append(version.group)
                    versions[version.group] = []
                }
                if !versions[version.group]!.contains(version.version) {
                    versions[version.group]!.append(version.version)
                }
            }
        }
        return order.map { group in
            let served = versions[group]!
            // The stable version first (preferred), then the rest newest-looking first.
            let stable = all.filter { $0.group == group }.map(\.version)
            let first = served.filter { stable.contains($0) }
            return (group, first + served.filter { !stable.contains($0) })
        }
    }

    private static func pathKey(_ version: GroupVersion, _ plural: String) -> String {
        "\(version.group)/\(version.version)/\(plural)"
    }
}
