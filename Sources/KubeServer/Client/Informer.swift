import KubeAPI
import Synchronization

/// A list+watch cache of one collection, as client-go's informers keep them: list, then watch from the list's
/// resource version; on a 410 or a broken watch, list again. Controllers share one informer per collection and
/// read the cache instead of the store; they are told which keys (`namespace/name`) changed, not what changed,
/// so they reconcile from the current state (level-triggered) and the notification queue stays bounded by the
/// number of objects.
public final class Informer: Sendable {
    public let client: KubeClient
    /// The collection: `KubeClient.path(apiVersion:plural:)`, all namespaces.
    public let path: String
    /// Selectors, as query parameters (`labelSelector=app%3Dweb`).
    public let query: String

    private struct State {
        var objects: [String: JSONValue] = [:]
        var synced = false
        var handlers: [@Sendable (String) -> Void] = []
        var resourceVersion = ""
    }

    private let state = Mutex(State())

    public init(client: KubeClient, path: String, query: String = "") {
        self.client = client
        self.path = path
        self.query = query
    }

    /// `namespace/name`, or `name` for cluster-scoped objects: the key controllers queue.
    public static func key(of object: JSONValue) -> String {
        let name = object[path: "metadata", "name"]?.stringValue ?? ""
        guard let namespace = object[path: "metadata", "namespace"]?.stringValue, !namespace.isEmpty else {
            return name
        }
        return "\(namespace)/\(name)"
    }

    /// Called with each changed key (also for every object of a relist). Add handlers before `run`.
    public func onChange(_ handler: @escaping @Sendable (String) -> Void) {
        state.withLock { $0.handlers.append(handler) }
    }

    /// True once the first list is in the cache.
    public var hasSynced: Bool { state.withLock { $0.synced } }

    public func get(_ key: String) -> JSONValue? { state.withLock { $0.objects[key] } }

    /// Every cached object.
    public var objects: [JSONValue] { state.withLock { Array($0.objects.values) } }

    /// Lists and watches until the task is cancelled.
    public func run() async {
        var delay: Duration = .milliseconds(100)
        while !Task.isCancelled {
            do {
                try await relist()
                delay = .milliseconds(100)
                try await watch()
            } catch {
                // A failed list or watch: back off (doubling to 10 s), then list again.
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
    }

    private func relist() async throws(KubeError) {
        let list = try await client.list(path, query: query)
        var fresh: [String: JSONValue] = [:]
        for item in list["items"]?.arrayValue ?? [] { fresh[Self.key(of: item)] = item }
        let version = list[path: "metadata", "resourceVersion"]?.stringValue ?? ""
        let (changed, handlers) = state.withLock { state in
            let changed = Set(state.objects.keys).union(fresh.keys).filter { state.objects[$0] != fresh[$0] }
            state.objects = fresh
            state.resourceVersion = version
            state.synced = true
            return (changed, state.handlers)
        }
        for key in changed { for handler in handlers { handler(key) } }
    }

    private func watch() async throws(KubeError) {
        let version = state.withLock { $0.resourceVersion }
        var parameters = "resourceVersion=\(version)&allowWatchBookmarks=true"
        if !query.isEmpty { parameters = query + "&" + parameters }
        let events = try await client.watch(path, query: parameters)
        defer { events.cancel() }
        for await (type, object) in events {
            if Task.isCancelled { return }
            let key = Self.key(of: object)
            let objectVersion = object[path: "metadata", "resourceVersion"]?.stringValue ?? ""
            let handlers: [@Sendable (String) -> Void]
            switch type {
            case "ADDED", "MODIFIED":
                handlers = state.withLock { state in
                    state.objects[key] = object
                    state.resourceVersion = objectVersion
                    return state.handlers
                }
            case "DELETED":
                handlers = state.withLock { state in
                    state.objects[key] = nil
                    state.resourceVersion = objectVersion
                    return state.handlers
                }
            case "BOOKMARK":
                state.withLock { $0.resourceVersion = objectVersion }
                continue
            default:
                // ERROR (410 Expired, …): list again.
                throw KubeError(
                    code: object["code"]?.intValue.map(Int.init) ?? 500, reason: "Expired", message: "watch ended")
            }
            for handler in handlers { handler(key) }
        }
    }
}
