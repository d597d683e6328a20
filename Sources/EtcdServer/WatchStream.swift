import EtcdAPI
import Foundation
import GRPCWire
import RevisionLog
import Synchronization

/// Sends on one Watch stream in a single order (etcd `v3rpc/watch.go` sendLoop): one send at a time, whole, so
/// - the header revision never goes backwards and a watcher's `created` response precedes its events;
/// - the fragments of a split response go out with nothing between them (etcd's client drops other watchers'
///   messages while a fragment is pending, so an interleaved message would lose events);
/// - a progress notification is decided and sent in the same step (`sendProgress`), after every event it covers.
///
/// A send waits for the one before it (FIFO), not just for the actor: `call.send` may suspend, and an actor lets
/// other calls in at every suspension.
actor WatchStreamSender {
    private let call: GRPCStreamingCall
    private let identity: ServerIdentity
    /// etcd splits a response only when it passes `--max-request-bytes` + 512 KiB of gRPC overhead (2 MiB by
    /// default), and makes each fragment smaller than that.
    private let fragmentBytes: Int
    private var lastHeaderRevision: Int64 = 0
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(call: GRPCStreamingCall, identity: ServerIdentity, fragmentBytes: Int) {
        self.call = call
        self.identity = identity
        self.fragmentBytes = fragmentBytes
    }

    /// Stamps the header (never below one already sent) and sends; splits a large event response into fragments
    /// when the watcher asked for it (a single event is never split). A nil revision leaves the header revision 0,
    /// as etcd does in its compaction-cancel response. Then tells `watcher` its delivery is on its way.
    func send(
        _ response: Etcdserverpb_WatchResponse, revision: Int64?, fragment: Bool = false,
        confirming watcher: Watcher? = nil
    ) async throws {
        await acquire()
        defer { release() }
        try await sendNow(response, revision: revision, fragment: fragment)
        watcher?.confirmSent()
    }

    /// Sends a progress notification (watch ID `id`) for the watchers `claim` names, at the revision the hub allows
    /// for them (`WatchHub.progressRevision`), deciding and sending in one step; `claim` answering nil, or a watcher
    /// still having events on their way, sends nothing. Returns whether it sent.
    @discardableResult
    func sendProgress(
        id: Int64, hub: WatchHub, claim: @Sendable () -> [Watcher]?, onSent: @Sendable () -> Void = {}
    ) async throws -> Bool {
        await acquire()
        defer { release() }
        guard let watchers = claim(), let revision = hub.progressRevision(of: watchers) else { return false }
        var response = Etcdserverpb_WatchResponse()
        response.watchID = id
        try await sendNow(response, revision: revision, fragment: false)
        onSent()
        return true
    }

    private func sendNow(_ response: Etcdserverpb_WatchResponse, revision: Int64?, fragment: Bool) async throws {
        var response = response
        if let revision {
            lastHeaderRevision = max(lastHeaderRevision, revision)
            response.header = identity.header(revision: lastHeaderRevision)
        } else {
            response.header = identity.header(revision: 0)
        }
        let bytes: [UInt8] = try response.serializedBytes()
        guard fragment, response.events.count > 1, bytes.count >= fragmentBytes else {
            try await call.send(bytes)
            return
        }
        for part in fragments(of: response) { try await call.send(try part.serializedBytes() as [UInt8]) }
    }

    private func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()  // stays busy: handed over
        }
    }

    /// etcd's `sendFragments`: events are added while the fragment stays under the limit (a fragment always holds at
    /// least one event); every part but the last has `fragment` set.
    func fragments(of response: Etcdserverpb_WatchResponse) -> [Etcdserverpb_WatchResponse] {
        var parts: [Etcdserverpb_WatchResponse] = []
        var current = response
        current.events = []
        var currentBytes = ((try? current.serializedBytes()) as [UInt8]?)?.count ?? 0
        let emptyBytes = currentBytes
        for event in response.events {
            // An event's share of the message: its bytes plus the field tag and length.
            let eventBytes = (((try? event.serializedBytes()) as [UInt8]?)?.count ?? 0) + 6
            if !current.events.isEmpty && currentBytes + eventBytes >= fragmentBytes {
                current.fragment = true
                parts.append(current)
                current.events = []
                currentBytes = emptyBytes
            }
            current.events.append(event)
            currentBytes += eventBytes
        }
        current.fragment = false
        parts.append(current)
        return parts
    }
}

/// The watchers of one stream, by watch ID, and the progress notifications asked of them.
final class WatchStreamRegistry: Sendable {
    struct Entry {
        let watcher: Watcher
        let progressNotify: Bool
        let fragment: Bool
        /// Set when events were sent since the last progress tick (etcd skips the tick then).
        var sentSinceTick = false
        /// A periodic progress notification is owed once the watcher is caught up.
        var tickDue = false
    }
    private struct State {
        var entries: [Int64: Entry] = [:]
        var nextID: Int64 = 0
        var progressRequested = false
    }
    private let state = Mutex(State())
    let maximumWatchers: Int

    init(maximumWatchers: Int) { self.maximumWatchers = maximumWatchers }

    enum Refusal: Error { case duplicateID, full }

    /// Assigns `requested` (if free) or the next free ID from 0; refuses a taken ID, or a stream already holding
    /// `maximumWatchers`.
    func add(requested: Int64, entry: Entry) -> Result<Int64, Refusal> {
        state.withLock { state in
            if state.entries.count >= maximumWatchers { return .failure(.full) }
            var id = requested
            if id == 0 {
                while state.entries[state.nextID] != nil { state.nextID += 1 }
                id = state.nextID
                state.nextID += 1
            } else if state.entries[id] != nil {
                return .failure(.duplicateID)
            }
            state.entries[id] = entry
            return .success(id)
        }
    }

    func remove(_ id: Int64) -> Entry? { state.withLock { $0.entries.removeValue(forKey: id) } }
    func entry(_ id: Int64) -> Entry? { state.withLock { $0.entries[id] } }
    func markSent(_ id: Int64) { state.withLock { $0.entries[id]?.sentSinceTick = true } }

    /// Marks the watchers due a periodic progress notification (created with `progress_notify`, no events sent since
    /// the last tick) and returns them; resets the "sent since tick" marks.
    func progressTick() -> [Watcher] {
        state.withLock { state in
            var due: [Watcher] = []
            for (id, entry) in state.entries where entry.progressNotify {
                if !entry.sentSinceTick {
                    due.append(entry.watcher)
                    state.entries[id]?.tickDue = true
                }
                state.entries[id]?.sentSinceTick = false
            }
            return due
        }
    }

    /// True (once) when the watcher owes a periodic progress notification.
    func takeTickDue(_ id: Int64) -> Bool {
        state.withLock { state in
            guard state.entries[id]?.tickDue == true else { return false }
            state.entries[id]?.tickDue = false
            return true
        }
    }

    /// Records a progress request for the whole stream and returns its watchers (each is asked for a progress
    /// delivery, so every one reports back once caught up).
    func requestProgress() -> [Watcher] {
        state.withLock { state in
            state.progressRequested = true
            return state.entries.values.map(\.watcher)
        }
    }

    /// The watchers a pending stream-wide progress request covers; nil when none is pending (or the stream has no
    /// watchers: etcd answers nothing then).
    func pendingProgressWatchers() -> [Watcher]? {
        state.withLock { state in
            guard state.progressRequested, !state.entries.isEmpty else { return nil }
            return state.entries.values.map(\.watcher)
        }
    }

    func progressAnswered() { state.withLock { $0.progressRequested = false } }

    /// True while a stream-wide progress request waits for its answer.
    var hasPendingProgress: Bool { state.withLock { $0.progressRequested } }

    func cancelAll() {
        let watchers = state.withLock { state -> [Watcher] in
            defer { state.entries = [:] }
            return state.entries.values.map(\.watcher)
        }
        watchers.forEach { $0.cancel() }
    }
}
