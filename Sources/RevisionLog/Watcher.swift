import Synchronization

/// What a watcher wants (etcd's `WatchCreateRequest` without the wire details).
public struct WatchRequest: Sendable {
    public var range: KeyRange
    /// First revision to deliver; 0 means "from now" (the next revision).
    public var startRevision: Int64 = 0
    public var previousKeyValues = false
    public var dropPuts = false
    public var dropDeletes = false

    public init(range: KeyRange) { self.range = range }
}

/// One event as a watcher sees it.
public struct WatchEvent: Sendable, Equatable {
    public var kind: Change.Kind
    /// For a delete: only the key and the deleting revision.
    public var keyValue: KeyValue
    /// The state before, when requested and still available.
    public var previous: KeyValue?
}

/// What `Watcher.next()` hands out.
public enum WatchDelivery: Sendable, Equatable {
    /// Events of whole revisions, in order. `revision` is the header revision: the last event's
    /// revision for a live watcher, the revision read through for one catching up from the log.
    /// Confirm with `Watcher.confirmSent()` once it is on its way to the client.
    case events(revision: Int64, events: [WatchEvent])
    /// History the watcher needs was compacted away; the watcher is finished.
    case compacted(compactRevision: Int64)
    /// A progress notification was asked for (`Watcher.requestProgress`) and every event handed out so far is
    /// confirmed sent; `WatchHub.progressRevision(of:)` gives the revision it may carry.
    case progress
}

/// A registered watch. Live revisions are pushed into a bounded buffer by the committer's
/// notification; a watcher that falls behind (buffer full, or a start in the past) is marked
/// unsynced and reads the log instead until it reaches the head, so nothing is ever dropped and
/// memory stays bounded (in events and in bytes, `WatchLimits`).
public final class Watcher: Sendable {
    public let request: WatchRequest
    /// The hub's published revision when the watcher was registered: what etcd's `created` response carries (never
    /// ahead of the watch's start).
    public let createdRevision: Int64
    let hub: WatchHub

    struct State {
        /// Unsynced: the first revision not yet read from the log. Synced: the first revision it may see (later
        /// than the hub's published revision only for a start in the future); the hub's published revision is
        /// its position then (see `WatchHub`).
        var nextRevision: Int64
        var synced: Bool
        var pending: [(revision: Int64, events: [WatchEvent], bytes: Int)] = []
        var pendingEvents = 0
        var pendingBytes = 0
        /// A delivery was handed out and not yet confirmed sent: a progress notification must wait for it.
        var inFlight = false
        var progressRequested = false
        /// Changes per catch-up read: smaller when the log holds large values, so one read stays near the byte
        /// budget.
        var catchUpLimit: Int
        var cancelled = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    let state: Mutex<State>

    init(request: WatchRequest, hub: WatchHub, nextRevision: Int64, synced: Bool, createdRevision: Int64) {
        self.request = request
        self.createdRevision = createdRevision
        self.hub = hub
        state = Mutex(
            State(nextRevision: nextRevision, synced: synced, catchUpLimit: hub.limits.catchUpBatchEvents))
    }

    /// Bytes of events waiting in the buffer (bounded by `WatchLimits.bufferedBytesMaximum`, give or take one
    /// revision).
    public var bufferedBytes: Int { state.withLock { $0.pendingBytes } }

    /// Waits for the next delivery. Returns nil once the watcher is cancelled.
    public func next() async throws(StoreError) -> WatchDelivery? {
        while true {
            enum Step { case deliver(Int64, [WatchEvent]), progress, catchUp(Int64, Int), wait, finished }
            let step: Step = state.withLock { state in
                if state.cancelled { return .finished }
                if !state.pending.isEmpty {
                    let batch = state.pending.removeFirst()
                    state.pendingEvents -= batch.events.count
                    state.pendingBytes -= batch.bytes
                    state.inFlight = true
                    return .deliver(batch.revision, batch.events)
                }
                if !state.synced { return .catchUp(state.nextRevision, state.catchUpLimit) }
                if state.progressRequested && !state.inFlight {
                    state.progressRequested = false
                    return .progress
                }
                return .wait
            }
            switch step {
            case .finished: return nil
            case .deliver(let revision, let events): return .events(revision: revision, events: events)
            case .progress: return .progress
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.cancelled || !state.pending.isEmpty || !state.synced
                            || (state.progressRequested && !state.inFlight)
                        {
                            return true
                        }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            case .catchUp(let from, let limit):
                if let delivery = try await catchUp(from: from, limit: limit) { return delivery }
            }
        }
    }

    /// The delivery `next()` handed out is on its way to the client (queued on its stream, in order): a progress
    /// notification may now cover it.
    public func confirmSent() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.inFlight = false
            guard state.progressRequested else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Asks for a `.progress` delivery once everything handed out before it is confirmed sent and the watcher is
    /// synced: it comes through the same queue as the events, so it can never overtake one.
    public func requestProgress() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.progressRequested = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Reads one slice of the log, up to what live watchers have been given (so no header goes past a revision
    /// another watcher has yet to receive). Returns a delivery, or nil when the slice had nothing for this watcher
    /// (the loop then looks again).
    private func catchUp(from: Int64, limit: Int) async throws(StoreError) -> WatchDelivery? {
        let replay = try await hub.store.replay(
            from: from, through: hub.publishedRevision, limit: limit, previousValues: request.previousKeyValues)
        if from < replay.compactRevision {
            cancel()
            return .compacted(compactRevision: replay.compactRevision)
        }
        // A short read covered the log up to the snapshot's head; a full one only up to its last revision.
        let complete = replay.changes.count < limit
        let readThrough = complete ? replay.revision : replay.changes.last!.revision
        let events = replay.changes.compactMap(event(for:))
        let bytes = replay.changes.reduce(0) { $0 + 64 + $1.keyValue.key.count + $1.keyValue.value.count }
        state.withLock { state in
            // Aim the next read at the byte budget: 1,000 changes of 1.5 MiB would be 1.5 GB at once.
            let average = max(bytes / max(replay.changes.count, 1), 1)
            state.catchUpLimit = min(max(hub.limits.bufferedBytesMaximum / average, 1), hub.limits.catchUpBatchEvents)
            if !events.isEmpty { state.inFlight = true }
        }
        hub.finishCatchUp(self, readThrough: readThrough)
        if events.isEmpty { return nil }
        return .events(revision: replay.revision, events: events)
    }
    /// The event this watcher sees for `change`, or nil when its range or filters exclude it.
    func event(for change: Change) -> WatchEvent? {
        guard request.range.contains(change.keyValue.key) else { return nil }
        if change.kind == .put && request.dropPuts { return nil }
        if change.kind == .delete && request.dropDeletes { return nil }
        let previous = request.previousKeyValues && !change.isCreate ? change.previous : nil
        return WatchEvent(kind: change.kind, keyValue: change.keyValue, previous: previous)
    }

    /// Stops the watcher: `next()` returns nil and the hub forgets it.
    public func cancel() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.cancelled = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
        hub.remove(self)
    }

}
