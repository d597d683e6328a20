import Foundation
import KubeAPI
import Logging
import Synchronization

/// Records core/v1 Events about objects, as client-go's recorder does: the same event again (same object, type,
/// reason, message and source) increments `count` and moves `lastTimestamp` on the one stored Event instead of
/// writing a new one. Recording never blocks a controller: events wait in a bounded buffer (the oldest are dropped
/// past it) and are written by one task; the aggregation cache is bounded too (least recently used go first).
public final class EventRecorder: Sendable {
    public static let bufferLimit = 1000
    public static let cacheLimit = 4096

    public struct Event: Sendable {
        public var involved: JSONValue
        public var type: String
        public var reason: String
        public var message: String
        public var component: String
    }

    private struct State {
        var pending: [Event] = []
        var waiter: CheckedContinuation<Void, Never>?
        var dropped = 0
    }

    private struct Aggregate {
        var namespace: String
        var name: String
        var count: Int64
        var lastUse: UInt64
    }

    private let client: KubeClient
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let state = Mutex(State())
    private let cache = Mutex<(entries: [String: Aggregate], clock: UInt64)>(([:], 0))

    public init(client: KubeClient, now: @escaping @Sendable () -> Date, logger: Logger) {
        self.client = client
        self.now = now
        self.logger = logger
    }

    /// Records an event about `object` (anything with `apiVersion`, `kind` and `metadata`).
    public func record(
        _ object: JSONValue, type: String = "Normal", reason: String, message: String, component: String
    ) {
        let event = Event(involved: object, type: type, reason: reason, message: message, component: component)
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            if state.pending.count >= Self.bufferLimit {
                state.pending.removeFirst()
                state.dropped += 1
            }
            state.pending.append(event)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Events dropped at the buffer's bound.
    public var droppedEvents: Int { state.withLock { $0.dropped } }

    /// Writes buffered events until cancelled.
    public func run() async {
        while !Task.isCancelled {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let ready = state.withLock { state -> Bool in
                        if state.pending.isEmpty, !Task.isCancelled {
                            state.waiter = continuation
                            return false
                        }
                        return true
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                state.withLock { state in
                    defer { state.waiter = nil }
                    return state.waiter
                }?.resume()
            }
            let batch = state.withLock { state in
                defer { state.pending = [] }
                return state.pending
            }
            for event in batch { await write(event) }
        }
    }

    private func write(_ event: Event) async {
        let metadata = event.involved["metadata"] ?? [:]
        let uid = metadata["uid"]?.stringValue ?? ""
        let namespace = metadata["namespace"]?.stringValue ?? "default"
        let aggregateKey = [uid, event.type, event.reason, event.message, event.component].joined(separator: "\u{1}")
        let time = JSONValue.string(APITime.format(now()))
        let existing = cache.withLock { cache -> Aggregate? in
            cache.clock += 1
            guard var entry = cache.entries[aggregateKey] else { return nil }
            entry.count += 1
            entry.lastUse = cache.clock
            cache.entries[aggregateKey] = entry
            return entry
        }
        if let existing {
            let patch: JSONValue = ["count": .int(existing.count), "lastTimestamp": time]
            do {
                _ = try await client.patch(
                    KubeClient.path(
                        apiVersion: "v1", plural: "events", namespace: existing.namespace, name: existing.name), .merge,
                    patch)
                return
            } catch {
                // Gone (deleted, or expired): write a new one.
            }
        }
        let name =
            "\(metadata["name"]?.stringValue ?? "object").\(String(UInt64(now().timeIntervalSince1970 * 1e9), radix: 16))"
        var involved: JSONObject = [
            "kind": event.involved["kind"] ?? "", "name": metadata["name"] ?? "", "uid": .string(uid),
            "apiVersion": event.involved["apiVersion"] ?? "",
            "resourceVersion": metadata["resourceVersion"] ?? "",
        ]
        if let objectNamespace = metadata["namespace"] { involved["namespace"] = objectNamespace }
        let body: JSONValue = [
            "apiVersion": "v1", "kind": "Event",
            "metadata": ["name": .string(name), "namespace": .string(namespace)],
            "involvedObject": .object(involved), "reason": .string(event.reason), "message": .string(event.message),
            "source": ["component": .string(event.component)], "firstTimestamp": time, "lastTimestamp": time,
            "count": 1, "type": .string(event.type), "reportingComponent": .string(event.component),
            "reportingInstance": "",
        ]
        do {
            _ = try await client.create(KubeClient.path(apiVersion: "v1", plural: "events", namespace: namespace), body)
        } catch {
            logger.debug("event not recorded", metadata: ["reason": "\(event.reason)", "error": "\(error)"])
            return
        }
        cache.withLock { cache in
            cache.clock += 1
            cache.entries[aggregateKey] = Aggregate(namespace: namespace, name: name, count: 1, lastUse: cache.clock)
            if cache.entries.count > Self.cacheLimit {
                // Drop the least recently used quarter at once, so trimming is rare.
                let oldest = cache.entries.sorted { $0.value.lastUse < $1.value.lastUse }.prefix(Self.cacheLimit / 4)
                for (key, _) in oldest { cache.entries[key] = nil }
            }
        }
    }
}
