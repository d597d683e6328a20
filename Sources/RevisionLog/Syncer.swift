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

    // `queue` and `failure` are guarded by `worker.condition`.
    private let worker = WorkerThread()
    private var condition: NSCondition { worker.condition }
    private var queue: [SyncBatch] = []
    private var failure: StoreError?

    init(
        backend: any LogBackend, logger: Logger, onDurable: @escaping @Sendable ([CommittedRevision], Int64) -> Void,
        forward: (@Sendable (SyncBatch) -> Void)? = nil,
        onFinalFailure: @escaping @Sendable (StoreError) -> Void = { _ in }
    ) {
        self.onFinalFailure = onFinalFailure
        self.backend = backend
        self.logger = logger
        self.onDurable = onDurable
        self.forward = forward
        failuresAreFinal = !(backend is any SharedLogBackend)
    }

    func start() { worker.start(name: "kelson-syncer") { [self] in run() } }

    func enqueue(_ batch: SyncBatch) {
        condition.lock()
        queue.append(batch)
        condition.signal()
        condition.unlock()
    }

    /// Makes everything queued durable and acknowledged, then ends the thread.
    func stop() { worker.stop() }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !worker.stopping { condition.wait() }
            let batches = queue
            queue = []
            let done = worker.stopping && batches.isEmpty
            var failure = self.failure
            condition.unlock()
            if done { break }

            if failure == nil {
                do {
                    let started = ContinuousClock.now
                    try backend.sync()
                    StoreMetrics.syncDuration.recordNanoseconds(Committer.nanoseconds(since: started))
                } catch  where !failuresAreFinal {
                    let error = (error as? StoreError) ?? StoreError(.unavailable, "\(error)")
                    logger.warning("sync failed; its writes fail", metadata: ["error": "\(error)"])
                    failure = StoreError(error.code, "the outcome of this write is unknown: \(error.detail)")
                } catch {
                    let error = StoreError(.backendFailure, "fsync failed; writes are refused from now on: \(error)")
                    logger.critical("sync failed", metadata: ["error": "\(error)"])
                    failure = error
                    condition.lock()
                    self.failure = error
                    condition.unlock()
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
}

/// The durable revision and the reads waiting for it. A read's snapshot can be a group ahead of what is
/// durable when the backend defers durability (and, for an instant, with any backend: between a group's
/// commit and its publication); such a read answers only once its revision is durable, so no client ever
/// sees a write that a crash could still take back.
final class DurableRevision: Sendable {
    private struct State {
        var revision: Int64
        var waiters: [(revision: Int64, body: @Sendable () -> Void)] = []
        /// Set by `releaseAll`: nothing will become durable any more, so no body waits.
        var stopped = false
    }

    private let state: Mutex<State>

    init(_ revision: Int64) { state = Mutex(State(revision: revision)) }

    /// True when `revision` is durable: the common case, checked first so a read allocates no waiter.
    func isDurable(_ revision: Int64) -> Bool { state.withLock { revision <= $0.revision } }

    /// Runs `body` now if `revision` is durable, else once it is (on the thread that publishes it).
    func whenDurable(_ revision: Int64, _ body: @escaping @Sendable () -> Void) {
        let now = state.withLock { state in
            if revision <= state.revision || state.stopped { return true }
            state.waiters.append((revision, body))
            return false
        }
        if now { body() }
    }

    /// Runs every waiting body now (the store stopped; they answer with its failure).
    func releaseAll() {
        let ready = state.withLock { state in
            state.stopped = true
            defer { state.waiters = [] }
            return state.waiters.map(\.body)
        }
        for body in ready { body() }
    }

    func advance(to revision: Int64) {
        let ready: [@Sendable () -> Void] = state.withLock { state in
            state.revision = max(state.revision, revision)
            guard !state.waiters.isEmpty else { return [] }
            var ready: [@Sendable () -> Void] = []
            state.waiters.removeAll { waiter in
                guard waiter.revision <= state.revision else { return false }
                ready.append(waiter.body)
                return true
            }
            return ready
        }
        for body in ready { body() }
    }
}
