import Logging
import Synchronization

/// Limits and tuning of a `Store`. Every queue and batch has a bound.
public struct StoreConfiguration: Sendable {
    /// etcd's `--max-txn-ops`.
    public var maximumTxnOperations = 128
    /// Writes waiting for the committer; more fail with `.tooManyRequests`.
    public var maximumPendingWrites = 10_000
    /// Reads waiting for a read thread when the backend's reads wait on the network (`LogBackend.blockingReadThreads`);
    /// more fail with `.tooManyRequests`.
    public var maximumPendingReads = 10_000
    /// Writes committed together in one transaction (one fsync).
    public var maximumGroupSize = 1_000
    /// How long the committer keeps looking for the next write before it sleeps, after a write that came alone and
    /// was synced on its own thread. A client writing one request at a time sends the next about 100 µs after its
    /// answer; catching it awake spares a futex wake-up and a reschedule of the committer (put with one client:
    /// 4.8–5.3k against 3.3–4.1k puts/s in alternating runs). After a group of several writes the syncer pipelines
    /// and the committer does not spin, since there the two cores are better left to the event loops. Zero turns
    /// it off.
    public var committerSpin: Duration = .microseconds(100)
    /// Log rows examined per compaction transaction: a write waits for at most one such batch. 250 keeps that wait
    /// to a few milliseconds (1,000 measured a 96 ms worst case under `compare-etcd --compaction`).
    public var compactionBatchSize = 250
    /// Shortest lease TTL in seconds; shorter grants are raised to it (etcd: 2 s with default
    /// election timeouts, `ceil(1.5 × 1 s)`).
    public var minimumLeaseTTL: Int64 = 2
    /// Where lease expiry reads the time.
    public var leaseClock: any LeaseClock = SystemLeaseClock()

    public init() {}
}

/// The core: etcd's KV semantics over any `LogBackend`.
///
/// Every call that touches the backend goes through one door, `execute` (Store+Execution.swift), which alone
/// decides where it runs, and answers through a completion; reads are answered only once what they saw is durable.
/// Because a write is acknowledged only after its transaction is durable and visible, every read sees every write
/// acknowledged before it started (linearizable on one node). Writes go through the committer.
public final class Store: Sendable {
    public let configuration: StoreConfiguration
    let backend: any LogBackend
    let committer: Committer
    private let currentRevision: Atomic<Int64>
    let durable: DurableRevision
    private let observers = Mutex<[@Sendable ([CommittedRevision]) -> Void]>([])
    private let metadataObservers = Mutex<[@Sendable () -> Void]>([])
    /// Set when the backend's reads wait on the network (see `execute`).
    let readThreads: BlockingPool?
    /// Whole-database work (hashes, defragment, snapshots): one call at a time, off every shared thread.
    let maintenanceThread: BlockingPool
    let lessor: Lessor
    /// Set when other processes share the backend (see `SharedLogBackend`): leases live there.
    let sharedBackend: (any SharedLogBackend)?
    /// Shared backends: expired leases whose revoke is queued (so a lease is not queued twice).
    let revoking = Mutex<Set<Int64>>([])

    /// Opens the store on `backend` and starts its committer thread.
    public init(backend: any LogBackend, configuration: StoreConfiguration = StoreConfiguration(), logger: Logger)
        throws
    {
        try StoreImport.refuseUnfinished(backend)
        self.backend = backend
        self.configuration = configuration
        let owner = WeakStore()
        committer = try Committer(
            backend: backend, configuration: configuration, logger: logger,
            onCommit: { revisions, head in
                owner.store?.currentRevision.store(head, ordering: .releasing)
                owner.store?.notify(revisions)
                owner.store?.durable.advance(to: head)
            },
            // Reads waiting for a revision that will never be durable now get the failure.
            onFailure: { owner.store?.durable.releaseAll($0) },
            // Reads waiting for a revision a failed sync may have lost get the failure (see `DurableRevision`).
            onSyncFailure: { owner.store?.durable.fail(from: $0, $1) })
        readThreads = backend.blockingReadThreads.map {
            BlockingPool(threads: $0, queueLimit: configuration.maximumPendingReads, name: "kelson-reads")
        }
        maintenanceThread = BlockingPool(threads: 1, queueLimit: 64, name: "kelson-maintain")
        currentRevision = Atomic(committer.initialRevision)
        durable = DurableRevision(committer.initialRevision)
        sharedBackend = backend as? any SharedLogBackend
        lessor = Lessor(
            clock: configuration.leaseClock, leases: sharedBackend == nil ? try backend.read { try $0.leases() } : [])
        owner.store = self  // set before the committer thread starts, which orders it before any read
        if let sharedBackend, let follower = committer.follower {
            sharedBackend.useLeaseClock(configuration.leaseClock)
            sharedBackend.watchExternalChanges(
                commits: { follower.wake() }, metadata: { owner.store?.notifyMetadataObservers() })
        }
        committer.start()
    }

    /// Set once the store stopped because a write may be on disk without being known durable (a failed fsync):
    /// every write and read fails with it until the process opens the store again (see `Committer.fail`).
    public var failure: StoreError? { committer.failure }

    /// True when this process runs lease expiry and compaction on its own initiative: always, unless other processes
    /// share the backend and another one holds that role (see `SharedLogBackend`). Auto-compaction asks this, as
    /// only etcd's leader compacts automatically.
    public var runsMaintenance: Bool { committer.runsMaintenance }

    /// The compaction point as the committer last set or saw it (-1 before the first compaction); no backend call.
    public var compactRevision: Int64 { committer.compactPoint.load(ordering: .acquiring) }

    /// The latest committed (durable and published) revision.
    public var revision: Int64 { currentRevision.load(ordering: .acquiring) }

    /// Runs `body` with nil once `revision` is durable and published: at once for any revision a caller has seen
    /// acknowledged; a moment later for a read whose snapshot caught a group still being synced. With an error
    /// instead when it may never be: a failed sync may have lost it, or the store stopped.
    public func whenDurable(_ revision: Int64, _ body: @escaping @Sendable (StoreError?) -> Void) {
        durable.whenDurable(revision, body)
    }

    /// Registers a function called on the committer thread (the syncer thread when the backend defers
    /// durability) with every committed group of revisions, in order, before their writers are
    /// acknowledged. It must be quick and must not block.
    public func observeCommits(_ observer: @escaping @Sendable ([CommittedRevision]) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// Registers a function called (on a backend thread) whenever another process sharing the backend may have
    /// changed a metadata value, so a cache of one (auth state) can read it again; also every second or so as a
    /// safety net. Never called when only this process writes the backend. It may read the store.
    public func observeExternalMetadataChanges(_ observer: @escaping @Sendable () -> Void) {
        metadataObservers.withLock { $0.append(observer) }
    }

    private func notifyMetadataObservers() {
        for observer in metadataObservers.withLock({ $0 }) { observer() }
    }

    private func notify(_ revisions: [CommittedRevision]) {
        for observer in observers.withLock({ $0 }) { observer(revisions) }
    }

    /// Stops accepting writes, commits the queued ones, and closes the backend.
    public func close() {
        committer.stop()
        readThreads?.stop()
        maintenanceThread.stop()
        backend.close()
    }
}

extension Change {
    /// A put that started a new generation (etcd: `create_revision == mod_revision`).
    public var isCreate: Bool { kind == .put && keyValue.createRevision == keyValue.modRevision }
}

/// Lets the committer's callback reach the store that owns it without a retain cycle.
private final class WeakStore: @unchecked Sendable { weak var store: Store? }

extension TxnRequest {
    /// True when no branch, at any depth, writes (etcd `isTxnReadonly`).
    public var isReadOnly: Bool {
        (success + failure).allSatisfy { operation in
            switch operation {
            case .range, .empty: return true
            case .txn(let nested): return nested.isReadOnly
            case .put, .delete: return false
            }
        }
    }
}
