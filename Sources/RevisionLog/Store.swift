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
/// Reads run on the caller's thread against a consistent backend snapshot; because a write is
/// acknowledged only after its transaction is durable and visible, every read sees every write
/// acknowledged before it started (linearizable on one node). Writes go through the committer.
public final class Store: Sendable {
    public let configuration: StoreConfiguration
    private let backend: any LogBackend
    let committer: Committer
    private let currentRevision: Atomic<Int64>
    private let durable: DurableRevision
    private let observers = Mutex<[@Sendable ([CommittedRevision]) -> Void]>([])
    private let metadataObservers = Mutex<[@Sendable () -> Void]>([])
    /// Set when the backend's reads wait on the network (see `offload`).
    private let blockingReads: BlockingPool?
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
        blockingReads = backend.blockingReadThreads.map {
            BlockingPool(threads: $0, queueLimit: configuration.maximumPendingReads, name: "kelson-reads")
        }
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

    // MARK: Reads

    /// A range answered only once everything it saw is durable (what clients get; see `whenDurable`).
    ///
    /// Where it runs: on the store's read threads when the backend's reads wait on the network (`offload`); else a
    /// one-key get right here (the caller's event loop: cheapest), and a list, which can take milliseconds to read
    /// and encode, on Swift's shared pool, so lists use every core and never hold up the caller's other work.
    public func range(
        _ request: RangeRequest, completion: @escaping @Sendable (Result<RangeResult, StoreError>) -> Void
    ) {
        let answer = { @Sendable [self] in
            answerWhenDurable(Result { () throws(StoreError) in try range(request) }, { $0.revision }, completion)
        }
        if blockingReads == nil && request.mayBeLarge {
            Task.detached { answer() }
        } else {
            offload(answer, refused: { completion(.failure($0)) })
        }
    }

    /// Runs `body`, which may call the backend, where that may block: at once on this thread when the backend reads
    /// a local file, else on the store's read threads (`LogBackend.blockingReadThreads`), so that event loops and
    /// Swift's cooperative threads never wait on the network. When too many calls already wait, `refused` gets
    /// `.tooManyRequests` instead.
    public func offload(_ body: @escaping @Sendable () -> Void, refused: @escaping @Sendable (StoreError) -> Void) {
        guard let blockingReads else { return body() }
        switch blockingReads.submit(body) {
        case nil: break
        case .stopped?: refused(.stopped)
        case .full?:
            refused(
                StoreError(.tooManyRequests, "\(blockingReads.queueLimit) reads are already waiting for the database"))
        }
    }

    /// `offload` for async callers: `body`'s result.
    public func offloaded<Value: Sendable>(
        _ body: @escaping @Sendable () throws(StoreError) -> Value
    ) async throws(StoreError) -> Value {
        guard blockingReads != nil else { return try body() }
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<Value, StoreError>, Never>) in
            offload(
                { continuation.resume(returning: Result { () throws(StoreError) in try body() }) },
                refused: { continuation.resume(returning: .failure($0)) })
        }
        return try result.get()
    }

    /// Answers a read once everything it saw is durable: a snapshot can hold a group committed but not yet
    /// synced (its fsync still running, or deferred by the backend), which a crash could still take back. If the
    /// store stops meanwhile (`Committer.fail`), or a sync fails that may have lost what the read saw (the mark
    /// taken before `read` takes its snapshot tells; see `DurableRevision`), the read gets that failure instead.
    private func answerWhenDurable<Answer: Sendable>(
        _ read: @autoclosure () -> Result<Answer, StoreError>, _ revision: (Answer) -> Int64,
        _ completion: @escaping @Sendable (Result<Answer, StoreError>) -> Void
    ) {
        let mark = durable.mark()
        let result = read()
        guard case .success(let answer) = result, !durable.isDurable(revision(answer), since: mark) else {
            return completion(result)
        }
        durable.whenDurable(revision(answer), since: mark) { failure in
            completion(failure.map { .failure($0) } ?? result)
        }
    }

    /// A range from a snapshot that may include a group whose sync is still running (see `range(_:completion:)`).
    public func range(_ request: RangeRequest) throws(StoreError) -> RangeResult {
        try RequestValidation.check(request)
        return try read { reader in
            try RangeExecution.run(
                request, reader: reader, currentRevision: reader.revision, compactRevision: reader.compactRevision)
        }
    }

    /// Current and compacted revisions from one snapshot.
    public func revisions() throws(StoreError) -> (revision: Int64, compactRevision: Int64) {
        try read { ($0.revision, $0.compactRevision) }
    }

    /// Bytes on disk and bytes in use (see `LogBackend.storageSize`).
    public func storageSize() throws(StoreError) -> StorageSize {
        try backendCall { try $0.storageSize() }
    }

    /// Runs `body` on the backend, turning foreign errors into `.backendFailure`.
    func backendCall<Result>(_ body: (any LogBackend) throws -> Result) throws(StoreError) -> Result {
        do {
            return try body(backend)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.backendFailure, "\(error)")
        }
    }

    /// Committed changes in `[from, through]`, whole revisions only, at most about `limit` changes.
    public func changes(from: Int64, through: Int64, limit: Int) throws(StoreError) -> [Change] {
        try read { try $0.changes(from: from, through: through, limit: limit) }
    }

    /// What a catching-up watcher reads: committed changes from `from` on (whole revisions, about
    /// `limit` changes), with the head and compaction point of the same snapshot. With
    /// `previousValues`, each non-create change carries the key's state one revision earlier when
    /// that is still above the compaction point (etcd omits it otherwise).
    public func replay(from: Int64, limit: Int, previousValues: Bool) throws(StoreError) -> Replay {
        // Only what is durable and published: a group still being synced reaches watchers through the hub.
        let published = revision
        return try read { reader in
            let compactRevision = reader.compactRevision
            let head = min(reader.revision, published)
            guard from >= compactRevision else {
                return Replay(changes: [], revision: head, compactRevision: compactRevision)
            }
            var changes = try reader.changes(from: from, through: head, limit: limit)
            if previousValues {
                for index in changes.indices where !changes[index].isCreate {
                    let before = changes[index].revision - 1
                    if before >= compactRevision {
                        changes[index].previous = try reader.get(changes[index].keyValue.key, at: before)
                    }
                }
            }
            return Replay(changes: changes, revision: head, compactRevision: compactRevision)
        }
    }

    /// Every read goes through here: none is answered once the store stopped (`Committer.fail`).
    func read<Result>(_ body: (any BackendReader) throws -> Result) throws(StoreError) -> Result {
        if let failure = committer.failure { throw failure }
        return try backendCall { try $0.read(body) }
    }

    // MARK: Writes (callback form: no task per call; the callback runs on the committer thread)

    public func put(_ request: PutRequest, completion: @escaping @Sendable (Result<PutResult, StoreError>) -> Void) {
        do throws(StoreError) { try RequestValidation.check(request) } catch { return completion(.failure(error)) }
        committer.submit(PendingWrite(operation: .put(request)) { completion($0.map { $0.put! }) })
    }

    public func delete(
        _ request: DeleteRequest, completion: @escaping @Sendable (Result<DeleteResult, StoreError>) -> Void
    ) {
        do throws(StoreError) { try RequestValidation.check(request) } catch { return completion(.failure(error)) }
        committer.submit(PendingWrite(operation: .delete(request)) { completion($0.map { $0.delete! }) })
    }

    /// A txn with only Range ops is answered from a snapshot; any other goes through the committer.
    public func txn(_ request: TxnRequest, completion: @escaping @Sendable (Result<TxnResult, StoreError>) -> Void) {
        do throws(StoreError) {
            try RequestValidation.check(request, maximumOperations: configuration.maximumTxnOperations)
        } catch {
            return completion(.failure(error))
        }
        if request.isReadOnly {
            return offload(
                { [self] in
                    answerWhenDurable(
                        Result { () throws(StoreError) in try readOnlyTxn(request) }, { $0.revision }, completion)
                }, refused: { completion(.failure($0)) })
        }
        committer.submit(PendingWrite(operation: .txn(request)) { completion($0.map { $0.txn! }) })
    }

    /// Compacts history below `revision`. With `physical`, returns only after the removed history is
    /// gone from the backend; otherwise once the compaction point is durable.
    public func compact(
        revision: Int64, physical: Bool, completion: @escaping @Sendable (Result<CompactResult, StoreError>) -> Void
    ) {
        committer.submit(
            PendingWrite(operation: .compact(revision: revision, physical: physical)) {
                completion($0.map { $0.compact! })
            })
    }

    /// Queues any committer operation and waits for its outcome. `beforeReply` runs on the
    /// committer thread once the outcome is known, before the caller resumes.
    func submit(
        _ operation: PendingWrite.Operation,
        beforeReply: @escaping @Sendable (Result<PendingWrite.Outcome, StoreError>) -> Void = { _ in }
    ) async throws(StoreError) -> PendingWrite.Outcome {
        try await withCheckedContinuation { continuation in
            committer.submit(
                PendingWrite(operation: operation) { result in
                    beforeReply(result)
                    continuation.resume(returning: result)
                })
        }.get()
    }

    /// Queues a committer operation; `completion` runs on the committer thread.
    func submit(
        _ operation: PendingWrite.Operation,
        completion: @escaping @Sendable (Result<PendingWrite.Outcome, StoreError>) -> Void
    ) {
        committer.submit(PendingWrite(operation: operation, completion: completion))
    }

    private func readOnlyTxn(_ request: TxnRequest) throws(StoreError) -> TxnResult {
        try read { reader in
            var writer = RevisionWriter(
                reader: reader, writer: nil, beginRevision: reader.revision,
                compactRevision: reader.compactRevision)
            return try writer.txn(request)
        }
    }

    // MARK: Writes (async form)

    public func put(_ request: PutRequest) async throws(StoreError) -> PutResult {
        try await withCheckedContinuation { continuation in put(request) { continuation.resume(returning: $0) } }.get()
    }

    public func delete(_ request: DeleteRequest) async throws(StoreError) -> DeleteResult {
        try await withCheckedContinuation { continuation in delete(request) { continuation.resume(returning: $0) } }
            .get()
    }

    public func txn(_ request: TxnRequest) async throws(StoreError) -> TxnResult {
        try await withCheckedContinuation { continuation in txn(request) { continuation.resume(returning: $0) } }.get()
    }

    public func compact(revision: Int64, physical: Bool = false) async throws(StoreError) -> CompactResult {
        try await withCheckedContinuation { continuation in
            compact(revision: revision, physical: physical) { continuation.resume(returning: $0) }
        }.get()
    }

    /// Stops accepting writes, commits the queued ones, and closes the backend.
    public func close() {
        committer.stop()
        blockingReads?.stop()
        backend.close()
    }
}

/// A slice of the log read in one snapshot (see `Store.replay`).
public struct Replay: Sendable {
    public var changes: [Change]
    /// The store's revision in that snapshot.
    public var revision: Int64
    public var compactRevision: Int64
}

extension Change {
    /// A put that started a new generation (etcd: `create_revision == mod_revision`).
    public var isCreate: Bool { kind == .put && keyValue.createRevision == keyValue.modRevision }
}

/// Lets the committer's callback reach the store that owns it without a retain cycle.
private final class WeakStore: @unchecked Sendable { weak var store: Store? }

extension PendingWrite.Outcome {
    var put: PutResult? { if case .put(let result) = self { return result } else { return nil } }
    var delete: DeleteResult? { if case .delete(let result) = self { return result } else { return nil } }
    var txn: TxnResult? { if case .txn(let result) = self { return result } else { return nil } }
    var compact: CompactResult? { if case .compact(let result) = self { return result } else { return nil } }
}

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
