import Synchronization

/// Fans committed revisions out to watchers, straight from the committer (no polling).
///
/// Invariant: `publishedRevision` is the last revision handed to live watchers. A watcher is
/// *synced* when its `nextRevision == publishedRevision + 1` (or later, for a future start); only
/// synced watchers receive pushes. Everything else reads the log until it is synced again; the
/// switch happens under the watcher's lock after comparing with `publishedRevision`, so no revision
/// is delivered twice or skipped.
public final class WatchHub: Sendable {
    let store: Store
    /// Events a live watcher may buffer before it is switched to reading the log.
    let bufferedEventsMaximum: Int
    /// Changes read from the log per catch-up step.
    let catchUpBatchEvents: Int

    private struct State {
        var publishedRevision: Int64
        var watchers: [ObjectIdentifier: Watcher] = [:]
    }
    private let state: Mutex<State>

    public init(store: Store, bufferedEventsMaximum: Int = 1_000, catchUpBatchEvents: Int = 1_000) {
        self.store = store
        self.bufferedEventsMaximum = bufferedEventsMaximum
        self.catchUpBatchEvents = catchUpBatchEvents
        state = Mutex(State(publishedRevision: store.revision))
        store.observeCommits { [weak self] revisions in self?.publish(revisions) }
        // A commit between reading the revision and registering is caught by `publish` skipping
        // what is already counted, and by the store's revision being read again here.
        let revision = store.revision
        state.withLock { $0.publishedRevision = max($0.publishedRevision, revision) }
    }

    /// The store's compaction point (-1 before the first compaction), or -1 when it cannot be read.
    public var compactRevision: Int64 { (try? store.revisions().compactRevision) ?? -1 }

    /// How many revisions the slowest watcher is behind what has been published (0 with no watchers).
    public var slowestWatcherLag: Int64 {
        let (published, watchers) = state.withLock { ($0.publishedRevision, Array($0.watchers.values)) }
        let delivered = watchers.map { watcher in
            watcher.state.withLock { state in (state.pending.first?.revision ?? state.nextRevision) - 1 }
        }
        return max(published - (delivered.min() ?? published), 0)
    }

    /// The last revision delivered to live watchers.
    public var publishedRevision: Int64 { state.withLock { $0.publishedRevision } }

    /// Registers a watcher. A start below the compaction point fails with `.compacted`.
    public func watch(_ request: WatchRequest) throws(StoreError) -> Watcher {
        let compactRevision = try store.revisions().compactRevision
        if request.startRevision != 0 && request.startRevision < compactRevision { throw .compacted }
        return state.withLock { state in
            let live = state.publishedRevision + 1
            let next = request.startRevision == 0 ? live : request.startRevision
            let watcher = Watcher(request: request, hub: self, nextRevision: next, synced: next >= live)
            state.watchers[ObjectIdentifier(watcher)] = watcher
            return watcher
        }
    }

    func remove(_ watcher: Watcher) {
        _ = state.withLock { $0.watchers.removeValue(forKey: ObjectIdentifier(watcher)) }
    }

    /// Called on the committer thread with each committed group, in order.
    private func publish(_ revisions: [CommittedRevision]) {
        let watchers = state.withLock { state -> [Watcher] in
            state.publishedRevision = max(state.publishedRevision, revisions.last?.revision ?? 0)
            return Array(state.watchers.values)
        }
        for watcher in watchers { deliver(revisions, to: watcher) }
    }

    private func deliver(_ revisions: [CommittedRevision], to watcher: Watcher) {
        let waiter = watcher.state.withLock { state -> CheckedContinuation<Void, Never>? in
            for revision in revisions where revision.revision >= state.nextRevision {
                guard state.synced, !state.cancelled else { break }
                let events = revision.changes.compactMap(watcher.event(for:))
                if state.pendingEvents + events.count > bufferedEventsMaximum {
                    // Too far behind to buffer: read this and later revisions from the log instead.
                    state.synced = false
                    break
                }
                if !events.isEmpty {
                    state.pending.append((revision.revision, events))
                    state.pendingEvents += events.count
                }
                state.nextRevision = revision.revision + 1
            }
            guard state.waiter != nil, !state.pending.isEmpty || !state.synced else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// After a log read that covered everything up to `readThrough`: advance the watcher and, if
    /// it reached what live watchers have been given, make it live again.
    func finishCatchUp(_ watcher: Watcher, readThrough: Int64) {
        state.withLock { hubState in
            watcher.state.withLock { state in
                state.nextRevision = max(state.nextRevision, readThrough + 1)
                if state.nextRevision > hubState.publishedRevision { state.synced = true }
            }
        }
    }
}
