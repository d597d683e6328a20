/// The one door to the backend: every call that reads or changes the backend outside the committer and syncer threads
/// goes through `execute`, and only it decides where that call runs:
///
/// | work | local file (SQLite, memory) | network (PostgreSQL: `LogBackend.blockingReadThreads`) |
/// |---|---|---|
/// | `.point` (a key, a lease, a metadata value, a size) | inline, on the caller's thread | the store's read threads |
/// | `.list` (a range that may return many keys) | Swift's shared pool, so lists use every core | read threads |
/// | `.whole` (hashes, defragment, snapshot: seconds) | the store's maintenance thread | maintenance thread |
///
/// So no event loop and no cooperative thread ever waits on the network, a long file operation never holds a shared
/// thread, and a one-key get on SQLite costs no hand-off. Queues are bounded: a call beyond `maximumPendingReads`
/// (or 64 whole-database calls) fails at once with `.tooManyRequests`, and after `close` with `.stopped`.
extension Store {
    /// How long a backend call may take, which decides where it runs (see above).
    public enum BackendWork: Sendable {
        case point
        case list
        case whole
    }

    /// Runs `body` where `work` belongs and completes with its result (see above).
    func execute<Value>(
        _ work: BackendWork, _ body: @escaping @Sendable () throws(StoreError) -> Value,
        completion: @escaping @Sendable (Result<Value, StoreError>) -> Void
    ) {
        let run = { @Sendable in completion(Result { () throws(StoreError) in try body() }) }
        switch (work, readThreads) {
        case (.whole, _): submit(run, to: maintenanceThread, refused: completion)
        case (_, let threads?): submit(run, to: threads, refused: completion)
        case (.point, nil): run()
        case (.list, nil): Task.detached { run() }
        }
    }

    /// `execute`, answered only once the revision the body read at (`revision` of its value) is durable.
    func executeDurably<Value: Sendable>(
        _ work: BackendWork, _ body: @escaping @Sendable () throws(StoreError) -> Value,
        revision: @escaping @Sendable (Value) -> Int64,
        completion: @escaping @Sendable (Result<Value, StoreError>) -> Void
    ) {
        let mark = durable.mark()  // before the snapshot (see `answerWhenDurable`)
        // The common case, a point read of a local file, runs right here without wrapping its completion.
        if case .point = work, readThreads == nil {
            return answerWhenDurable(Result { () throws(StoreError) in try body() }, since: mark, revision, completion)
        }
        execute(work, body) { [self] result in answerWhenDurable(result, since: mark, revision, completion) }
    }

    /// `execute` for the core's own async callers (watch catch-up, lease expiry).
    func executing<Value: Sendable>(
        _ work: BackendWork, _ body: @escaping @Sendable () throws(StoreError) -> Value
    ) async throws(StoreError) -> Value {
        try await Self.awaiting { execute(work, body, completion: $0) }
    }

    /// Awaits any completion-form call of the store, e.g. `try await Store.awaiting { store.put(request, completion:
    /// $0) }`: the one bridge for async callers, so each operation has one form.
    public static func awaiting<Value: Sendable>(
        isolation: isolated (any Actor)? = #isolation,
        _ call: (@escaping @Sendable (Result<Value, StoreError>) -> Void) -> Void
    ) async throws(StoreError) -> Value {
        try await withCheckedContinuation(isolation: isolation) {
            (continuation: CheckedContinuation<Result<Value, StoreError>, Never>) in
            call { continuation.resume(returning: $0) }
        }.get()
    }

    private func submit<Value>(
        _ run: @escaping @Sendable () -> Void, to pool: BlockingPool,
        refused: @escaping @Sendable (Result<Value, StoreError>) -> Void
    ) {
        switch pool.submit(run) {
        case nil: break
        case .stopped?: refused(.failure(.stopped))
        case .full?:
            refused(
                .failure(StoreError(.tooManyRequests, "\(pool.queueLimit) calls are already waiting for the database")))
        }
    }

    /// Answers a read once everything it saw is durable: a snapshot can hold a group committed but not yet
    /// synced (its fsync still running, or deferred by the backend), which a crash could still take back. If the
    /// store stops meanwhile (`Committer.fail`), or a sync fails that may have lost what the read saw (`mark`, taken
    /// before its snapshot, tells; see `DurableRevision`), the read gets that failure instead.
    func answerWhenDurable<Answer: Sendable>(
        _ result: Result<Answer, StoreError>, since mark: DurableRevision.Mark, _ revision: (Answer) -> Int64,
        _ completion: @escaping @Sendable (Result<Answer, StoreError>) -> Void
    ) {
        guard case .success(let answer) = result, !durable.isDurable(revision(answer), since: mark) else {
            return completion(result)
        }
        durable.whenDurable(revision(answer), since: mark) { failure in
            completion(failure.map { .failure($0) } ?? result)
        }
    }

    /// Every backend read goes through here (inside an `execute` body): none is answered once the store stopped
    /// (`Committer.fail`).
    func read<Result>(_ body: (any BackendReader) throws -> Result) throws(StoreError) -> Result {
        if let failure = committer.failure { throw failure }
        return try backendCall { try $0.read(body) }
    }

    /// Runs `body` on the backend (inside an `execute` body), turning foreign errors into `.backendFailure`.
    func backendCall<Result>(_ body: (any LogBackend) throws -> Result) throws(StoreError) -> Result {
        do {
            return try body(backend)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.backendFailure, "\(error)")
        }
    }
}
