import Foundation
import Logging
import Synchronization

/// What the committer hands to the syncer for one committed group: its revisions and its writers' outcomes.
struct SyncBatch {
    var committed: [CommittedRevision]
    var head: Int64
    var acknowledgements: [(write: PendingWrite, outcome: Result<PendingWrite.Outcome, StoreError>)]
}

/// Pipelined durability, for backends whose `write` returns before the transaction is durable
/// (`LogBackend.defersDurability`). While the committer applies the next group, this thread makes the
/// previous ones durable with one `LogBackend.sync()` (one fsync for every group committed since the last),
/// then — in commit order — publishes them to commit observers and acknowledges their writers. So the
/// committer never waits for the disk, and still nothing is acknowledged or published before it is durable.
///
/// A failed sync is not retried: what was written may or may not be on disk, so every write of those groups
/// and every later one fails with `.backendFailure` and the store stops accepting writes (PostgreSQL's lesson
/// from "fsyncgate": retrying an fsync can report success for data the kernel already dropped).
final class Syncer: @unchecked Sendable {
    private let backend: any LogBackend
    private let logger: Logger
    private let onDurable: @Sendable ([CommittedRevision], Int64) -> Void
    /// Set on a shared backend: durable groups go on to the log follower, which publishes and acknowledges them.
    private let forward: (@Sendable (SyncBatch) -> Void)?
    /// A shared backend's failed sync is a lost connection, not a lost fsync (PostgreSQL stops itself on those):
    /// the groups it covered fail with its error, and the next sync is tried again.
    private let failuresAreFinal: Bool
    /// Told of a final failure, so the whole store stops (`Committer.fail`).
    private let onFinalFailure: @Sendable (StoreError) -> Void
    /// Told of any other failure, with the first revision it may have lost (see `DurableRevision.fail`).
    private let onFailure: @Sendable (_ from: Int64, StoreError) -> Void

    private let queue = WorkQueue<SyncBatch>()
    /// Batches queued or being synced. While it is 0 the thread is idle, and `syncInline` may claim the work for the
    /// calling thread by raising it; the count so also keeps the thread and an inline sync from running at once.
    private let outstanding = Mutex(0)
    // Owned by the syncer thread: a final failure, after which nothing is synced any more; and every revision up to
    // `syncedHead` was made durable by a sync that succeeded.
    private var failure: StoreError?
    private var syncedHead: Int64 = 0

    init(
        backend: any LogBackend, logger: Logger, onDurable: @escaping @Sendable ([CommittedRevision], Int64) -> Void,
        forward: (@Sendable (SyncBatch) -> Void)? = nil,
        onFinalFailure: @escaping @Sendable (StoreError) -> Void = { _ in },
        onFailure: @escaping @Sendable (_ from: Int64, StoreError) -> Void = { _, _ in }
    ) {
        self.onFinalFailure = onFinalFailure
        self.onFailure = onFailure
        self.backend = backend
        self.logger = logger
        self.onDurable = onDurable
        self.forward = forward
        failuresAreFinal = !(backend is any SharedLogBackend)
    }

    func start() { queue.start(name: "kelson-syncer") { [self] in run() } }

    /// Queues a committed group (the committer's queue bounds how many there can be).
    func enqueue(_ batch: SyncBatch) {
        outstanding.withLock { $0 += 1 }
        queue.enqueueUnbounded(batch)
    }

    /// Syncs, publishes and acknowledges `batch` on the calling thread (the committer) when nothing is queued or being
    /// synced: a write that arrives alone then costs no hand-off to this thread and back (put with one client spent
    /// most of its time in those hand-offs on a busy machine). Answers false, doing nothing, otherwise.
    func syncInline(_ batch: SyncBatch) -> Bool {
        let claimed = outstanding.withLock { count in
            guard count == 0 else { return false }
            count = 1
            return true
        }
        guard claimed else { return false }
        process([batch])
        outstanding.withLock { $0 -= 1 }
        return true
    }

    /// Makes everything queued durable and acknowledged, then ends the thread.
    func stop() { queue.stop() }

    private func run() {
        while true {
            let next = queue.next()
            let batches = next.items
            if next.done && batches.isEmpty { break }
            process(batches)
            outstanding.withLock { $0 -= batches.count }
        }
    }

    private func process(_ batches: [SyncBatch]) {
        var failure = self.failure

        if failure == nil {
            do {
                let started = ContinuousClock.now
                try backend.sync()
                StoreMetrics.syncDuration.recordNanoseconds(Committer.nanoseconds(since: started))
            } catch  where !failuresAreFinal {
                let error = (error as? StoreError) ?? StoreError(.unavailable, "\(error)")
                logger.warning("sync failed; its writes fail", metadata: ["error": "\(error)"])
                failure = StoreError(error.code, "the outcome of this write is unknown: \(error.detail)")
                // The database may have lost every revision above the last one synced, this process's and
                // others' alike, and hand the numbers out again: reads that saw them must not wait for those.
                onFailure(syncedHead + 1, error)
            } catch {
                let error = StoreError(.backendFailure, "fsync failed; writes are refused from now on: \(error)")
                logger.critical("sync failed", metadata: ["error": "\(error)"])
                failure = error
                self.failure = error
                onFinalFailure(error)
            }
        }
        for batch in batches {
            if let failure {
                for acknowledgement in batch.acknowledgements {
                    acknowledgement.write.completion(.failure(failure))
                }
                continue
            }
            syncedHead = max(syncedHead, batch.head)
            if let forward {
                forward(batch)
                continue
            }
            if !batch.committed.isEmpty { onDurable(batch.committed, batch.head) }
            for acknowledgement in batch.acknowledgements {
                acknowledgement.write.completion(acknowledgement.outcome)
            }
        }
    }
}

/// The durable revision and the reads waiting for it. A read's snapshot can be a group ahead of what is
/// durable when the backend defers durability (and, for an instant, with any backend: between a group's
/// commit and its publication); such a read answers only once its revision is durable, so no client ever
/// sees a write that a crash could still take back.
///
/// Waiting for a revision number is only sound while the revisions above the durable one are not lost: a shared
/// backend's failed sync is not final (`Syncer`), and the database may have lost what it did not flush and then
/// number the next commits the same. So a failed sync fails the reads waiting at or above the first revision it
/// may have lost (`fail`), and a read that was already under way then (its `mark` is older) fails unless what it saw
/// was durable when it began.
final class DurableRevision: Sendable {
    /// Taken before a read's snapshot: how many syncs had failed, and the durable revision then.
    struct Mark: Sendable {
        fileprivate let failures: Int
        fileprivate let revision: Int64
    }

    private struct State {
        var revision: Int64
        var waiters: [(revision: Int64, body: @Sendable (StoreError?) -> Void)] = []
        /// Failed syncs so far (see `fail`), and the error the last one gave reads.
        var failures = 0
        var failure: StoreError?
        /// Set by `releaseAll`: nothing will become durable any more, so no body waits.
        var stopped: StoreError?

        /// The failure for a read marked at `mark` that saw `revision`, when a sync failed since the mark and
        /// `revision` was not durable then: what the read saw may be gone.
        func lost(_ revision: Int64, since mark: Mark?) -> StoreError? {
            guard let mark, mark.failures != failures, revision > mark.revision else { return nil }
            return failure
        }
    }

    private let state: Mutex<State>

    init(_ revision: Int64) { state = Mutex(State(revision: revision)) }

    /// Taken before a read's snapshot, and given to `isDurable` and `whenDurable` with what it saw.
    func mark() -> Mark { state.withLock { Mark(failures: $0.failures, revision: $0.revision) } }

    /// True when `revision` is durable and a read marked at `mark` may answer with it: the common case, checked
    /// first so a read allocates no waiter.
    func isDurable(_ revision: Int64, since mark: Mark? = nil) -> Bool {
        state.withLock { revision <= $0.revision && $0.lost(revision, since: mark) == nil }
    }

    /// Runs `body` with nil now if `revision` is durable, else once it is (on the thread that publishes it); with an
    /// error instead if it may never be (see `fail`) or the store stopped (`releaseAll`).
    func whenDurable(_ revision: Int64, since mark: Mark? = nil, _ body: @escaping @Sendable (StoreError?) -> Void) {
        let now: (run: Bool, failure: StoreError?) = state.withLock { state in
            if let failure = state.stopped ?? state.lost(revision, since: mark) { return (true, failure) }
            if revision <= state.revision { return (true, nil) }
            state.waiters.append((revision, body))
            return (false, nil)
        }
        if now.run { body(now.failure) }
    }

    /// A sync failed without stopping the store (`Syncer`): revisions from `revision` on may be lost, and the
    /// numbers given to other writes. Bodies waiting for them run now with the failure; reads under way are refused
    /// in `whenDurable`.
    func fail(from revision: Int64, _ error: StoreError) {
        let failure = StoreError(
            error.code, "what this read saw may have been lost by the database (a sync failed): \(error.detail)")
        let failed = state.withLock { state in
            state.failures += 1
            state.failure = failure
            var failed: [@Sendable (StoreError?) -> Void] = []
            state.waiters.removeAll { waiter in
                guard waiter.revision >= revision else { return false }
                failed.append(waiter.body)
                return true
            }
            return failed
        }
        for body in failed { body(failure) }
    }

    /// Runs every waiting body now with `error` (the store stopped), and every later one at once.
    func releaseAll(_ error: StoreError) {
        let ready = state.withLock { state in
            state.stopped = error
            defer { state.waiters = [] }
            return state.waiters.map(\.body)
        }
        for body in ready { body(error) }
    }

    func advance(to revision: Int64) {
        let ready: [@Sendable (StoreError?) -> Void] = state.withLock { state in
            state.revision = max(state.revision, revision)
            guard !state.waiters.isEmpty else { return [] }
            var ready: [@Sendable (StoreError?) -> Void] = []
            state.waiters.removeAll { waiter in
                guard waiter.revision <= state.revision else { return false }
                ready.append(waiter.body)
                return true
            }
            return ready
        }
        for body in ready { body(nil) }
    }
}
