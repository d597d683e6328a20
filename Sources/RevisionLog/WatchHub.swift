import Synchronization

/// Limits of a `WatchHub`: every watcher's buffer and the number of watchers are bounded.
public struct WatchLimits: Sendable {
    /// Events a live watcher may buffer before it is switched to reading the log.
    public var bufferedEventsMaximum = 1_000
    /// Bytes (keys, values and previous values) a live watcher may buffer before it is switched to reading the
    /// log: with etcd's 1.5 MiB values, 1,000 buffered events would otherwise be 1.5 GB for one slow watcher.
    public var bufferedBytesMaximum = 8 << 20
    /// Changes read from the log per catch-up step (fewer when the changes are large, see `Watcher`).
    public var catchUpBatchEvents = 1_000
    /// Watchers registered at once on this hub (the whole server); more fail with `.tooManyRequests`.
    public var watchersMaximum = 100_000

    public init() {}
}

/// Fans committed revisions out to watchers, straight from the committer (no polling).
///
/// Invariant (kept under the hub's lock): `publishedRevision` is the last revision handed to live watchers, and
/// every *synced* watcher has every event up to it either in its buffer or handed out. `publish` fills every
/// buffer before it lets go of the lock, so whoever reads `publishedRevision` under the lock (registration,
/// catch-up, progress) sees it delivered everywhere. Everything else reads the log until it is synced again; the
/// switch happens under both locks after comparing with `publishedRevision`, so no revision is delivered twice or
/// skipped.
///
/// Watchers of one key are indexed by that key, so a commit costs nothing for the watchers of other keys; range
/// watchers are checked one by one (docs/benchmarks.md "Watchers on other keys").
public final class WatchHub: Sendable {
    let store: Store
    let limits: WatchLimits

    private struct State {
        var publishedRevision: Int64
        var keyWatchers: [[UInt8]: [ObjectIdentifier: Watcher]] = [:]
        var rangeWatchers: [ObjectIdentifier: Watcher] = [:]
        var count = 0
    }
    private let state: Mutex<State>

    public init(store: Store, limits: WatchLimits = WatchLimits()) {
        self.store = store
        self.limits = limits
        state = Mutex(State(publishedRevision: store.revision))
        store.observeCommits { [weak self] revisions in self?.publish(revisions) }
        // A commit between reading the revision and registering is caught by `publish` skipping
        // what is already counted, and by the store's revision being read again here.
        let revision = store.revision
        state.withLock { $0.publishedRevision = max($0.publishedRevision, revision) }
    }

    /// How many revisions the slowest watcher is behind what has been published (0 with no watchers).
    public var slowestWatcherLag: Int64 {
        state.withLock { state in
            var delivered = state.publishedRevision
            func visit(_ watcher: Watcher) {
                watcher.state.withLock { watcher in
                    let through =
                        watcher.pending.first.map { $0.revision - 1 }
                        ?? (watcher.synced ? state.publishedRevision : watcher.nextRevision - 1)
                    delivered = min(delivered, through)
                }
            }
            state.rangeWatchers.values.forEach(visit)
            for watchers in state.keyWatchers.values { watchers.values.forEach(visit) }
            return max(state.publishedRevision - delivered, 0)
        }
    }

    /// The store's compaction point (-1 before the first compaction), as the committer last set or saw it.
    public var compactRevision: Int64 { store.compactRevision }

    /// The last revision delivered to live watchers.
    public var publishedRevision: Int64 { state.withLock { $0.publishedRevision } }

    /// Registers a watcher (`Watcher.createdRevision` is the revision it was registered at). A start below the
    /// compaction point fails with `.compacted`; past `watchersMaximum`, with `.tooManyRequests`.
    public func watch(_ request: WatchRequest) throws(StoreError) -> Watcher {
        if request.startRevision != 0 && request.startRevision < store.compactRevision { throw .compacted }
        return try state.withLock { state throws(StoreError) in
            guard state.count < limits.watchersMaximum else {
                throw StoreError(.tooManyRequests, "the server already has \(limits.watchersMaximum) watchers")
            }
            let live = state.publishedRevision + 1
            let next = request.startRevision == 0 ? live : request.startRevision
            let watcher = Watcher(
                request: request, hub: self, nextRevision: next, synced: next >= live,
                createdRevision: state.publishedRevision)
            if case .single(let key) = request.range {
                state.keyWatchers[key, default: [:]][ObjectIdentifier(watcher)] = watcher
            } else {
                state.rangeWatchers[ObjectIdentifier(watcher)] = watcher
            }
            state.count += 1
            return watcher
        }
    }

    func remove(_ watcher: Watcher) {
        state.withLock { state in
            let id = ObjectIdentifier(watcher)
            if case .single(let key) = watcher.request.range {
                guard state.keyWatchers[key]?.removeValue(forKey: id) != nil else { return }
                if state.keyWatchers[key]?.isEmpty == true { state.keyWatchers[key] = nil }
            } else {
                guard state.rangeWatchers.removeValue(forKey: id) != nil else { return }
            }
            state.count -= 1
        }
    }

    /// Called on the committer thread with each committed group, in order. Fills every buffer under the lock (see
    /// the invariant above) and wakes the waiting watchers after letting go of it.
    private func publish(_ revisions: [CommittedRevision]) {
        var woken: [CheckedContinuation<Void, Never>] = []
        state.withLock { state in
            let fresh = revisions.filter { $0.revision > state.publishedRevision }
            guard let last = fresh.last else { return }
            state.publishedRevision = last.revision
            if !state.keyWatchers.isEmpty {
                var touched: [ObjectIdentifier: Watcher] = [:]
                for revision in fresh {
                    for change in revision.changes {
                        state.keyWatchers[change.keyValue.key]?.forEach { touched[$0.key] = $0.value }
                    }
                }
                for watcher in touched.values { deliver(fresh, to: watcher, waking: &woken) }
            }
            for watcher in state.rangeWatchers.values { deliver(fresh, to: watcher, waking: &woken) }
        }
        for waiter in woken { waiter.resume() }
    }

    private func deliver(
        _ revisions: [CommittedRevision], to watcher: Watcher, waking woken: inout [CheckedContinuation<Void, Never>]
    ) {
        watcher.state.withLock { state in
            guard state.synced, !state.cancelled else { return }
            for revision in revisions where revision.revision >= state.nextRevision {
                let events = revision.changes.compactMap(watcher.event(for:))
                if events.isEmpty { continue }
                let bytes = events.reduce(0) { $0 + $1.estimatedBytes }
                if state.pendingEvents + events.count > limits.bufferedEventsMaximum
                    || (state.pendingBytes + bytes > limits.bufferedBytesMaximum && !state.pending.isEmpty)
                {
                    // Too far behind to buffer: read this and later revisions from the log instead.
                    state.synced = false
                    state.nextRevision = revision.revision
                    break
                }
                state.pending.append((revision.revision, events, bytes))
                state.pendingEvents += events.count
                state.pendingBytes += bytes
            }
            if let waiter = state.waiter, !state.pending.isEmpty || !state.synced {
                state.waiter = nil
                woken.append(waiter)
            }
        }
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

    /// The revision a progress notification for `watchers` may carry: the last published revision, when every one
    /// of them is synced and has handed out, and seen sent (`Watcher.confirmSent`), every event up to it; nil
    /// while one of them still has events on their way. A notification at that revision can then never overtake
    /// an event at or below it (Kubernetes' consistent reads from its watch cache depend on this).
    public func progressRevision(of watchers: [Watcher]) -> Int64? {
        state.withLock { hubState in
            let caughtUp = watchers.allSatisfy { watcher in
                watcher.state.withLock { $0.cancelled || ($0.synced && $0.pending.isEmpty && !$0.inFlight) }
            }
            return caughtUp ? hubState.publishedRevision : nil
        }
    }
}

extension WatchEvent {
    /// What the event holds in memory, roughly (keys and values dominate).
    var estimatedBytes: Int {
        64 + keyValue.key.count + keyValue.value.count
            + (previous.map { $0.key.count + $0.value.count } ?? 0)
    }
}
