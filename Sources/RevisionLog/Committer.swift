import Foundation
import Logging
import Synchronization

/// A metadata update: from the stored value (nil = none) to the value to store and the caller's
/// result. A failed result writes nothing and reaches the caller as it is.
typealias MetadataUpdate = @Sendable ([UInt8]?) -> (value: [UInt8]?, result: Result<any Sendable, any Error>)

/// A write waiting for the committer, with the closure that acknowledges it.
struct PendingWrite: Sendable {
    enum Operation: Sendable {
        case put(PutRequest)
        case delete(DeleteRequest)
        case txn(TxnRequest)
        case compact(revision: Int64, physical: Bool)
        case grantLease(LeaseRecord)
        case revokeLease(Int64)
        case updateMetadata(name: String, MetadataUpdate)
    }
    enum Outcome: Sendable {
        case put(PutResult)
        case delete(DeleteResult)
        case txn(TxnResult)
        case compact(CompactResult)
        case grantLease(LeaseGrantResult)
        /// The store's revision after the revoke.
        case revokeLease(Int64)
        case updateMetadata(Result<any Sendable, any Error>)
    }
    let operation: Operation
    /// Checked again when the write is applied (see `WriteCondition`).
    var condition: WriteCondition? = nil
    let completion: @Sendable (Result<Outcome, StoreError>) -> Void
}

/// A condition a write was admitted under, checked again on the committer when the write is applied, against a named
/// metadata value as the write's own transaction sees it: etcd checks permissions at apply time too, so a permission
/// revoked while a write waits in the queue stops it. `check` answers the error to fail the write with, or nil.
public struct WriteCondition: Sendable {
    public var metadataName: String
    public var check: @Sendable ([UInt8]?) -> StoreError?

    public init(metadataName: String, check: @escaping @Sendable ([UInt8]?) -> StoreError?) {
        self.metadataName = metadataName
        self.check = check
    }
}

/// The single place revisions are assigned. One dedicated thread drains a bounded queue in groups:
/// every write of a group is applied in one backend transaction (one fsync), each with its own
/// revision, and acknowledged only after that transaction is durable. Between groups it removes
/// compacted history in bounded batches, so a big compaction never blocks writers for long.
///
/// A request that fails its checks fails alone (checks run before its first change). A backend
/// failure fails the whole group and leaves the store as it was before the group.
final class Committer: @unchecked Sendable {
    private let backend: any LogBackend
    private let configuration: StoreConfiguration
    private let logger: Logger
    private let onCommit: @Sendable ([CommittedRevision], Int64) -> Void
    /// Present when the backend defers durability: it syncs, publishes and acknowledges committed groups.
    private let syncer: Syncer?
    /// Present when other processes write the same backend: it publishes and acknowledges committed groups,
    /// with the other processes' revisions between them.
    let follower: LogFollower?
    /// Set for a `SharedLogBackend` while this process holds the maintenance role; only then does it remove
    /// compacted history.
    private let shared: Bool
    private let leadsMaintenance = Atomic<Bool>(false)
    /// Set once a write may have reached the disk without being known durable (see `fail`).
    private let failureState = Mutex<StoreError?>(nil)
    private let hasFailed = Atomic<Bool>(false)
    private let onFailure: @Sendable (StoreError) -> Void

    private let queue: WorkQueue<PendingWrite>

    // Owned by the committer thread.
    private var revision: Int64
    /// Whether the last group was alone: one write, synced on this thread (see `StoreConfiguration.committerSpin`).
    private var lastGroupAlone = false
    private var compactRevision: Int64 { didSet { compactPoint.store(compactRevision, ordering: .releasing) } }
    /// `compactRevision` for other threads (watch registration reads it without a backend call).
    let compactPoint: Atomic<Int64>
    private var compactedThrough: Int64
    private var compactionCursor: Int64 = 0
    private var physicalCompactionWaiters: [(revision: Int64, write: PendingWrite, result: CompactResult)] = []

    init(
        backend: any LogBackend, configuration: StoreConfiguration, logger: Logger,
        onCommit: @escaping @Sendable ([CommittedRevision], Int64) -> Void,
        onFailure: @escaping @Sendable (StoreError) -> Void = { _ in },
        onSyncFailure: @escaping @Sendable (_ from: Int64, StoreError) -> Void = { _, _ in }
    ) throws {
        self.backend = backend
        self.configuration = configuration
        self.logger = logger
        self.onCommit = onCommit
        queue = WorkQueue(limit: configuration.maximumPendingWrites)
        self.onFailure = onFailure
        // Only backends that defer durability get a syncer; otherwise the committer publishes and acknowledges
        // itself: a second thread saves it work under load but costs every write a thread hand-off, which
        // measured worse for one client and for watch latency than it gained at 16 and 64 (docs/benchmarks.md).
        let stored = try backend.read { reader in
            (reader.revision, reader.compactRevision, reader.compactedThrough)
        }
        (revision, compactRevision, compactedThrough) = stored
        compactPoint = Atomic(stored.1)
        shared = backend is any SharedLogBackend
        let published = revision
        let follower = (backend as? any SharedLogBackend).map {
            LogFollower(
                backend: $0, published: published, logger: logger, onPublish: onCommit, onSyncFailure: onSyncFailure)
        }
        self.follower = follower
        var forward: (@Sendable (SyncBatch) -> Void)?
        if let follower { forward = { batch in follower.enqueue(batch) } }
        let failed = FailureForwarder()
        syncer =
            backend.defersDurability
            ? Syncer(
                backend: backend, logger: logger, onDurable: onCommit, forward: forward,
                onFinalFailure: { failed.committer?.fail($0) }, onFailure: onSyncFailure) : nil
        failed.committer = self
    }

    /// Set once the store stopped writing and answering because a write may be on disk without being known
    /// durable; nil while all is well (one atomic load).
    var failure: StoreError? { hasFailed.load(ordering: .acquiring) ? failureState.withLock { $0 } : nil }

    /// Stops the store for good: a write reached the disk, or may have, but the backend could not say it is
    /// durable (a failed fsync). Retrying could report success for data the kernel already dropped, and answering
    /// reads could show what a crash takes back, so from now on every write and read fails with this error until
    /// the process restarts and recovers from what is really on disk (etcd stops on a failed fsync too).
    func fail(_ error: StoreError) {
        let first = failureState.withLock { state in
            guard state == nil else { return false }
            state = error
            return true
        }
        guard first else { return }
        hasFailed.store(true, ordering: .releasing)
        logger.critical(
            "the store stopped: writes and reads are refused until a restart", metadata: ["error": "\(error)"])
        onFailure(error)
    }

    /// After a group failed on a backend that only this process writes: either the backend rolled it back (its
    /// revisions are what they were, and the next group goes on), or it may have committed it (a failed fsync
    /// after the commit, or no answer at all), and the store stops (`fail`).
    private func confirmRolledBack(after error: StoreError) {
        let state = try? backend.read { ($0.revision, $0.compactRevision) }
        if let state, state == (revision, compactRevision) { return }
        fail(
            StoreError(
                .backendFailure,
                "a write failed after it may have reached the disk; the store refuses writes and reads until "
                    + "restarted: \(error.detail)"))
    }

    /// Shared backends: asks the backend whether this process holds the maintenance role (lease expiry and
    /// physical compaction), taking it when free. On gaining it, every lease gets its full TTL from now (etcd's
    /// new leader does the same), so leases renewed at a dead process are not expired early; if that fails the
    /// role is not claimed this time. Called by lease expiry and by this thread; returns the role now held.
    func refreshMaintenanceRole() -> Bool {
        guard let backend = backend as? any SharedLogBackend else { return true }
        roleChecked.withLock { $0 = ContinuousClock.now }
        var leads = backend.holdsMaintenanceRole()
        if leads && !leadsMaintenance.load(ordering: .acquiring) {
            do {
                try backend.restartLeaseClocks()
                logger.info("this process now runs lease expiry and compaction")
            } catch {
                leads = false
            }
        }
        if leadsMaintenance.exchange(leads, ordering: .acquiringAndReleasing) != leads && leads { queue.wake() }
        return leads
    }
    private let roleChecked = Mutex<ContinuousClock.Instant?>(nil)

    /// True when this process runs maintenance: always for a backend only it writes; for a shared one, while it
    /// holds the role (as last checked by `refreshMaintenanceRole`).
    var runsMaintenance: Bool { !shared || leadsMaintenance.load(ordering: .acquiring) }

    var initialRevision: Int64 { revision }

    func start() {
        syncer?.start()
        follower?.start()
        queue.start(name: "kelson-committer") { [self] in run() }
    }

    /// Queues a write; fails it at once when the queue is full or the committer is stopping.
    func submit(_ write: PendingWrite) {
        switch queue.enqueue(write) {
        case nil: break
        case .stopping?: write.completion(.failure(.stopped))
        case .full?:
            write.completion(
                .failure(StoreError(.tooManyRequests, "write queue holds \(queue.limit) requests")))
        }
    }

    /// Stops accepting writes, commits what is queued, and waits for the thread to finish.
    func stop() { queue.stop() }

    private func run() {
        while true {
            // Another process may move the compaction point: a shared backend looks again every second.
            let batch = queue.next(
                maximum: configuration.maximumGroupSize, until: shared ? Date().addingTimeInterval(1) : nil,
                spin: lastGroupAlone && !hasCompactionWork ? configuration.committerSpin : .zero,
                hasOtherWork: { hasCompactionWork })
            let (group, done) = (batch.items, batch.done)

            if !group.isEmpty {
                let syncedHere = commit(group)
                lastGroupAlone = group.count == 1 && syncedHere
            }
            if batch.timedOut { refreshSharedState() }
            if shared && compactedThrough < compactRevision && !leadsMaintenance.load(ordering: .acquiring)
                && roleChecked.withLock({ $0.map { ContinuousClock.now - $0 > .seconds(1) } ?? true })
            {
                _ = refreshMaintenanceRole()
            }
            if hasCompactionWork && !done { compactOneBatch() }
            if done { break }
        }
        for waiter in physicalCompactionWaiters { waiter.write.completion(.failure(.stopped)) }
        physicalCompactionWaiters = []
        syncer?.stop()
        follower?.stop()
    }

    private var hasCompactionWork: Bool {
        compactedThrough < compactRevision && (!shared || leadsMaintenance.load(ordering: .acquiring))
    }

    /// Shared backends: picks up a compaction point set, or a compaction finished, by another process.
    private func refreshSharedState() {
        guard let (stored, through) = try? backend.read({ ($0.compactRevision, $0.compactedThrough) }) else { return }
        if stored != compactRevision {
            compactRevision = stored
            compactionCursor = 0
        }
        compactedThrough = max(compactedThrough, through)
        acknowledgeFinishedCompactions()
    }

    /// Commits `group` and publishes it; answers whether it was synced on this thread (`publish`).
    private func commit(_ group: [PendingWrite]) -> Bool {
        if let failure {
            for write in group { write.completion(.failure(failure)) }
            return false
        }
        var outcomes: [Result<PendingWrite.Outcome, StoreError>] = []
        var committed: [CommittedRevision] = []
        var newRevision = revision
        var newCompactRevision = compactRevision
        outcomes.reserveCapacity(group.count)
        let started = ContinuousClock.now
        do {
            try backend.write(prefetching: Self.singleKeys(of: group)) { writer in
                if shared {
                    // Other processes may have committed since: the locked state row is the truth.
                    if writer.compactRevision != compactRevision { compactionCursor = 0 }
                    (revision, compactRevision, compactedThrough) =
                        (writer.revision, writer.compactRevision, max(compactedThrough, writer.compactedThrough))
                    (newRevision, newCompactRevision) = (revision, compactRevision)
                }
                // Metadata values conditions read, once per group (an update in the group is read again).
                var conditionValues: [String: [UInt8]?] = [:]
                for write in group {
                    if let condition = write.condition {
                        let name = condition.metadataName
                        let value = try conditionValues[name] ?? writer.metadata(name)
                        conditionValues[name] = value
                        if let error = condition.check(value) {
                            outcomes.append(.failure(error))
                            continue
                        }
                    }
                    if case .updateMetadata(let name, _) = write.operation { conditionValues[name] = nil }
                    var revisionWriter = RevisionWriter(
                        reader: writer, writer: writer, beginRevision: newRevision,
                        compactRevision: newCompactRevision)
                    do {
                        let outcome = try apply(write.operation, &revisionWriter, compactRevision: &newCompactRevision)
                        if !revisionWriter.changes.isEmpty {
                            newRevision += 1
                            committed.append(CommittedRevision(revision: newRevision, changes: revisionWriter.changes))
                        }
                        outcomes.append(.success(outcome))
                    } catch let error as StoreError
                        where revisionWriter.changes.isEmpty && error.code != .backendFailure
                    {
                        outcomes.append(.failure(error))
                    }
                }
                if newRevision != revision { try writer.setRevision(newRevision) }
                if newCompactRevision != compactRevision { try writer.setCompactRevision(newCompactRevision) }
            }
        } catch {
            let failure = (error as? StoreError) ?? StoreError(.backendFailure, "\(error)")
            logger.error("commit of \(group.count) writes failed", metadata: ["error": "\(failure)"])
            if !shared { confirmRolledBack(after: failure) }
            for write in group { write.completion(.failure(self.failure ?? failure)) }
            return false
        }
        StoreMetrics.commitDuration.recordNanoseconds(Self.nanoseconds(since: started))
        StoreMetrics.groupSize.record(group.count)
        for write in group {
            switch write.operation {
            case .put: StoreMetrics.puts.increment()
            case .delete: StoreMetrics.deletes.increment()
            case .txn: StoreMetrics.txns.increment()
            default: break
            }
        }
        StoreMetrics.currentRevision.record(newRevision)
        StoreMetrics.compactRevision.record(newCompactRevision)
        StoreMetrics.compactionPending.record(max(newCompactRevision - compactedThrough, 0))
        revision = newRevision
        if newCompactRevision != compactRevision {
            compactRevision = newCompactRevision
            compactionCursor = 0
        }
        var acknowledgements: [(write: PendingWrite, outcome: Result<PendingWrite.Outcome, StoreError>)] = []
        acknowledgements.reserveCapacity(group.count)
        for (write, outcome) in zip(group, outcomes) {
            if case .success(.compact(let result)) = outcome,
                case .compact(let target, physical: true) = write.operation, compactedThrough < target
            {
                physicalCompactionWaiters.append((target, write, result))
                continue
            }
            acknowledgements.append((write, outcome))
        }
        return publish(SyncBatch(committed: committed, head: revision, acknowledgements: acknowledgements))
    }

    static func nanoseconds(since start: ContinuousClock.Instant) -> Int64 {
        let elapsed = ContinuousClock.now - start
        return elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
    }

    /// The single keys a group's writes and compares will look up (see `BackendWriter.prefetch`).
    private static func singleKeys(of group: [PendingWrite]) -> [[UInt8]] {
        var keys: [[UInt8]] = []
        func add(_ range: KeyRange) { if case .single(let key) = range { keys.append(key) } }
        func add(_ operations: [TxnOperation]) {
            for operation in operations {
                switch operation {
                case .put(let request): keys.append(request.key)
                case .delete(let request): add(request.range)
                case .range(let request): add(request.range)
                case .txn(let nested):
                    nested.compares.forEach { add($0.range) }
                    add(nested.success + nested.failure)
                case .empty: break
                }
            }
        }
        for write in group {
            switch write.operation {
            case .put(let request): keys.append(request.key)
            case .delete(let request): add(request.range)
            case .txn(let request):
                request.compares.forEach { add($0.range) }
                add(request.success + request.failure)
            default: break
            }
        }
        return keys
    }

    /// Publishes a committed group to observers and acknowledges its writers once it is durable: at once when
    /// `write` made it durable, else through the syncer after its next sync. Answers true when it synced the group on
    /// this thread.
    @discardableResult
    private func publish(_ batch: SyncBatch) -> Bool {
        if let syncer {
            // Alone in the queue: sync on this thread (see `Syncer.syncInline`); else pipeline with the syncer.
            if queue.isEmpty && syncer.syncInline(batch) { return true }
            syncer.enqueue(batch)
            return false
        }
        if let follower {
            follower.enqueue(batch)
            return false
        }
        if !batch.committed.isEmpty { onCommit(batch.committed, batch.head) }
        for acknowledgement in batch.acknowledgements { acknowledgement.write.completion(acknowledgement.outcome) }
        return false
    }

    private func apply(
        _ operation: PendingWrite.Operation, _ writer: inout RevisionWriter, compactRevision: inout Int64
    ) throws -> PendingWrite.Outcome {
        switch operation {
        case .put(let request): return .put(try writer.put(request))
        case .delete(let request): return .delete(try writer.delete(request))
        case .txn(let request): return .txn(try writer.txn(request))
        case .compact(let target, _):
            // etcd `store.compact`: compacting at or below the last point, or past the head, fails.
            if target <= compactRevision { throw StoreError.compacted }
            if target > writer.beginRevision { throw StoreError.futureRevision }
            compactRevision = target
            return .compact(CompactResult(revision: writer.beginRevision))
        case .grantLease(let lease):
            return .grantLease(LeaseGrantResult(lease: try writer.grantLease(lease), revision: writer.beginRevision))
        case .revokeLease(let id): return .revokeLease(try writer.revokeLease(id))
        case .updateMetadata(let name, let update): return .updateMetadata(try writer.updateMetadata(name, update))
        }
    }

    private func compactOneBatch() {
        let target = compactRevision
        do {
            if let next = try backend.compactBatch(
                revision: target, cursor: compactionCursor, limit: configuration.compactionBatchSize)
            {
                compactionCursor = next
                return
            }
            try backend.write { try $0.setCompactedThrough(target) }
            compactedThrough = target
            StoreMetrics.compactionPending.record(max(compactRevision - compactedThrough, 0))
            compactionCursor = 0
            logger.debug("compaction finished", metadata: ["revision": "\(target)"])
        } catch {
            logger.error("compaction batch failed; retrying later", metadata: ["error": "\(error)"])
            Thread.sleep(forTimeInterval: 0.1)
            return
        }
        acknowledgeFinishedCompactions()
    }

    private func acknowledgeFinishedCompactions() {
        var remaining: [(revision: Int64, write: PendingWrite, result: CompactResult)] = []
        var finished = SyncBatch(committed: [], head: revision, acknowledgements: [])
        for waiter in physicalCompactionWaiters {
            if waiter.revision <= compactedThrough {
                finished.acknowledgements.append((waiter.write, .success(.compact(waiter.result))))
            } else {
                remaining.append(waiter)
            }
        }
        physicalCompactionWaiters = remaining
        if !finished.acknowledgements.isEmpty { publish(finished) }
    }
}

/// Lets the syncer, created before the committer is complete, reach it.
private final class FailureForwarder: @unchecked Sendable {
    weak var committer: Committer?
}
