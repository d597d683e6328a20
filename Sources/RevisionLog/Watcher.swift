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
    /// revision for a live watcher, the store's revision for one catching up from the log.
    case events(revision: Int64, events: [WatchEvent])
    /// History the watcher needs was compacted away; the watcher is finished.
    case compacted(compactRevision: Int64)
}

/// A registered watch. Live revisions are pushed into a bounded buffer by the committer's
/// notification; a watcher that falls behind (buffer full, or a start in the past) is marked
/// unsynced and reads the log instead until it reaches the head, so nothing is ever dropped and
/// memory stays bounded.
public final class Watcher: Sendable {
    public let request: WatchRequest
    let hub: WatchHub

    struct State {
        /// The first revision not yet handed to the buffer or read from the log.
        var nextRevision: Int64
        var synced: Bool
        var pending: [(revision: Int64, events: [WatchEvent])] = []
        var pendingEvents = 0
        var cancelled = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    let state: Mutex<State>

    init(request: WatchRequest, hub: WatchHub, nextRevision: Int64, synced: Bool) {
        self.request = request
        self.hub = hub
        state = Mutex(State(nextRevision: nextRevision, synced: synced))
    }

    /// True when every revision up to the hub's latest has been handed out (etcd: "synced", which
    /// progress notifications require).
    public var isCaughtUp: Bool {
        state.withLock { $0.synced && $0.pending.isEmpty }
    }

    /// Waits for the next deliverable events. Returns nil once the watcher is cancelled.
    public func next() async throws(StoreError) -> WatchDelivery? {
        while true {
            enum Step { case deliver(Int64, [WatchEvent]), catchUp(Int64), wait, finished }
            let step: Step = state.withLock { state in
                if state.cancelled { return .finished }
                if !state.pending.isEmpty {
                    let batch = state.pending.removeFirst()
                    state.pendingEvents -= batch.events.count
                    return .deliver(batch.revision, batch.events)
                }
                return state.synced ? .wait : .catchUp(state.nextRevision)
            }
            switch step {
            case .finished: return nil
            case .deliver(let revision, let events): return .events(revision: revision, events: events)
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.cancelled || !state.pending.isEmpty || !state.synced { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            case .catchUp(let from):
                if let delivery = try catchUp(from: from) { return delivery }
            }
        }
    }

    /// Reads one slice of the log. Returns a delivery, or nil when the slice had nothing for this
    /// watcher (the loop then looks again).
    private func catchUp(from: Int64) throws(StoreError) -> WatchDelivery? {
        let replay = try hub.store.replay(
            from: from, limit: hub.catchUpBatchEvents,
            previousValues: request.previousKeyValues)
        if from < replay.compactRevision {
            cancel()
            return .compacted(compactRevision: replay.compactRevision)
        }
        // A short read covered the log up to the snapshot's head; a full one only up to its last revision.
        let complete = replay.changes.count < hub.catchUpBatchEvents
        let readThrough = complete ? replay.revision : replay.changes.last!.revision
        let events = replay.changes.compactMap(event(for:))
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
