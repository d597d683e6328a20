import EtcdAPI
import Foundation
import GRPCWire
import RevisionLog
import Synchronization

/// Sends on one Watch stream in a single order, so the header revision never goes backwards and a
/// watcher's `created` response always precedes its events (etcd `v3rpc/watch.go` sendLoop).
actor WatchStreamSender {
    private let call: GRPCStreamingCall
    private let identity: ServerIdentity
    private let maximumResponseBytes: Int
    private var lastHeaderRevision: Int64 = 0

    init(call: GRPCStreamingCall, identity: ServerIdentity, maximumResponseBytes: Int) {
        self.call = call
        self.identity = identity
        self.maximumResponseBytes = maximumResponseBytes
    }

    /// Stamps the header (never below one already sent) and sends; splits large event responses into
    /// fragments when the watcher asked for it. A single event is never split. A nil revision leaves
    /// the header revision 0, as etcd does in its compaction-cancel response.
    func send(_ response: Etcdserverpb_WatchResponse, revision: Int64?, fragment: Bool = false) async throws {
        var response = response
        if let revision {
            lastHeaderRevision = max(lastHeaderRevision, revision)
            response.header = identity.header(revision: lastHeaderRevision)
        } else {
            response.header = identity.header(revision: 0)
        }
        let bytes: [UInt8] = try response.serializedBytes()
        guard fragment, response.events.count > 1, bytes.count > maximumResponseBytes else {
            try await call.send(bytes)
            return
        }
        for part in fragments(of: response) { try await call.send(try part.serializedBytes() as [UInt8]) }
    }

    private func fragments(of response: Etcdserverpb_WatchResponse) -> [Etcdserverpb_WatchResponse] {
        var parts: [Etcdserverpb_WatchResponse] = []
        var current = response
        current.events = []
        var currentBytes = 0
        for event in response.events {
            let eventBytes = ((try? event.serializedBytes()) as [UInt8]?)?.count ?? 0
            if !current.events.isEmpty && currentBytes + eventBytes > maximumResponseBytes {
                current.fragment = true
                parts.append(current)
                current.events = []
                currentBytes = 0
            }
            current.events.append(event)
            currentBytes += eventBytes
        }
        current.fragment = false
        parts.append(current)
        return parts
    }
}

/// The watchers of one stream, by watch ID.
final class WatchStreamRegistry: Sendable {
    struct Entry {
        let watcher: Watcher
        let progressNotify: Bool
        let fragment: Bool
        /// Set when events were sent since the last progress tick (etcd skips the tick then).
        var sentSinceTick = false
    }
    private struct State {
        var entries: [Int64: Entry] = [:]
        var nextID: Int64 = 0
        var progressRequested = false
    }
    private let state = Mutex(State())

    /// Assigns `requested` (if free) or the next free ID from 0; nil when `requested` is taken.
    func add(requested: Int64, entry: Entry) -> Int64? {
        state.withLock { state in
            var id = requested
            if id == 0 {
                while state.entries[state.nextID] != nil { state.nextID += 1 }
                id = state.nextID
                state.nextID += 1
            } else if state.entries[id] != nil {
                return nil
            }
            state.entries[id] = entry
            return id
        }
    }

    func remove(_ id: Int64) -> Entry? { state.withLock { $0.entries.removeValue(forKey: id) } }
    func entry(_ id: Int64) -> Entry? { state.withLock { $0.entries[id] } }
    func all() -> [(Int64, Entry)] { state.withLock { $0.entries.map { ($0.key, $0.value) } } }
    func markSent(_ id: Int64) { state.withLock { $0.entries[id]?.sentSinceTick = true } }

    /// Watchers due a periodic progress notification; resets the "sent since tick" marks.
    func progressTick() -> [(Int64, Watcher)] {
        state.withLock { state in
            var due: [(Int64, Watcher)] = []
            for (id, entry) in state.entries where entry.progressNotify {
                if !entry.sentSinceTick { due.append((id, entry.watcher)) }
                state.entries[id]?.sentSinceTick = false
            }
            return due
        }
    }

    func requestProgress() { state.withLock { $0.progressRequested = true } }

    /// True (once) when a progress request is pending and every watcher is caught up.
    func takeProgressIfCaughtUp() -> Bool {
        state.withLock { state in
            guard state.progressRequested, !state.entries.isEmpty,
                state.entries.values.allSatisfy({ $0.watcher.isCaughtUp })
            else { return false }
            state.progressRequested = false
            return true
        }
    }

    func cancelAll() {
        let watchers = state.withLock { state -> [Watcher] in
            defer { state.entries = [:] }
            return state.entries.values.map(\.watcher)
        }
        watchers.forEach { $0.cancel() }
    }
}
