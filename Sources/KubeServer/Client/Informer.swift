import Foundation
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
        /// Keys by namespace, so a controller reads one namespace without walking the whole cache.
        var namespaceIndex: [String: Set<String>] = [:]
        /// Named indices (client-go's Indexers): each maps an object to the values it is found under.
        var indexers: [String: @Sendable (JSONValue) -> [String]] = [:]
        var indices: [String: [String: Set<String>]] = [:]

        mutating func store(_ key: String, _ object: JSONValue?) {
            let old = objects[key]
            objects[key] = object
            for (name, function) in indexers {
                if let old { for value in function(old) { remove(key, from: name, value) } }
                if let object {
                    for value in function(object) { indices[name, default: [:]][value, default: []].insert(key) }
                }
            }
            guard let slash = key.firstIndex(of: "/") else { return }
            let namespace = String(key[..<slash])
            if object == nil {
                namespaceIndex[namespace]?.remove(key)
                if namespaceIndex[namespace]?.isEmpty == true { namespaceIndex[namespace] = nil }
            } else {
                namespaceIndex[namespace, default: []].insert(key)
            }
        }

        private mutating func remove(_ key: String, from index: String, _ value: String) {
            indices[index]?[value]?.remove(key)
            if indices[index]?[value]?.isEmpty == true { indices[index]?[value] = nil }
        }
        var synced = false
        var handlers: [@Sendable (String) -> Void] = []
        var eventHandlers: [@Sendable (InformerEvent) -> Void] = []
        var resourceVersion = ""
        var syncWaiters: [(UUID, CheckedContinuation<Void, Never>)] = []
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

    /// Adds a named index: `function` says under which values an object is found (`objects(in:value:)`). Several
    /// controllers may ask for the same name; the first function is kept.
    public func addIndex(_ name: String, _ function: @escaping @Sendable (JSONValue) -> [String]) {
        state.withLock { state in
            guard state.indexers[name] == nil else { return }
            state.indexers[name] = function
            var index: [String: Set<String>] = [:]
            for (key, object) in state.objects {
                for value in function(object) { index[value, default: []].insert(key) }
            }
            state.indices[name] = index
        }
    }

    /// The cached objects found under `value` in the index `name`.
    public func objects(in name: String, value: String) -> [JSONValue] {
        state.withLock { state in (state.indices[name]?[value] ?? []).compactMap { state.objects[$0] } }
    }

    /// Called with each change and the object before and after it (nil when absent), for users that must know
    /// what an object was before it went (the owner of a deleted pod). Add handlers before `run`.
    public func onEvent(_ handler: @escaping @Sendable (InformerEvent) -> Void) {
        state.withLock { $0.eventHandlers.append(handler) }
    }

    /// True once the first list is in the cache.
    public var hasSynced: Bool { state.withLock { $0.synced } }

    /// Returns once the first list is in the cache (or the task is cancelled).
    public func waitForSync() async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let done = state.withLock { state in
                    if state.synced || Task.isCancelled { return true }
                    state.syncWaiters.append((id, continuation))
                    return false
                }
                if done { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let index = state.syncWaiters.firstIndex(where: { $0.0 == id }) else { return nil }
                return state.syncWaiters.remove(at: index).1
            }
            waiter?.resume()
        }
    }

    /// The revision the cache reflects: every write at or below it is in the cache (the list's revision, then
    /// each event's and bookmark's). A controller that wrote at revision R waits for this to reach R before it
    /// trusts the cache again.
    public var revision: Int64 { state.withLock { Int64($0.resourceVersion) ?? 0 } }

    public func get(_ key: String) -> JSONValue? { state.withLock { $0.objects[key] } }

    /// Every cached object.
    public var objects: [JSONValue] { state.withLock { Array($0.objects.values) } }

    /// The cached objects of one namespace.
    public func objects(inNamespace namespace: String) -> [JSONValue] {
        state.withLock { state in (state.namespaceIndex[namespace] ?? []).compactMap { state.objects[$0] } }
    }

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
        let (events, handlers, eventHandlers, waiters) = state.withLock { state in
            let changed = Set(state.objects.keys).union(fresh.keys).filter { state.objects[$0] != fresh[$0] }
            let events = changed.map { InformerEvent(key: $0, old: state.objects[$0], new: fresh[$0]) }
            for event in events { state.store(event.key, event.new) }
            state.resourceVersion = version
            state.synced = true
            let waiters = state.syncWaiters
            state.syncWaiters = []
            return (events, state.handlers, state.eventHandlers, waiters)
        }
        for event in events {
            for handler in handlers { handler(event.key) }
            for handler in eventHandlers { handler(event) }
        }
        for (_, waiter) in waiters { waiter.resume() }
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
            let eventHandlers: [@Sendable (InformerEvent) -> Void]
            let event: InformerEvent
            switch type {
            case "ADDED", "MODIFIED", "DELETED":
                // (Not a `?:`: its nil would be JSONValue's null, not an absent object.)
                var new: JSONValue? = .none
                if type != "DELETED" { new = object }
                (handlers, eventHandlers, event) = state.withLock { state in
                    let old = state.objects[key]
                    state.store(key, new)
                    state.resourceVersion = objectVersion
                    return (state.handlers, state.eventHandlers, InformerEvent(key: key, old: old, new: new))
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
            for handler in eventHandlers { handler(event) }
        }
    }
}

/// One change an informer saw: the object before (nil when it was new) and after (nil when it went).
public struct InformerEvent: Sendable {
    public let key: String
    public let old: JSONValue?
    public let new: JSONValue?
}
