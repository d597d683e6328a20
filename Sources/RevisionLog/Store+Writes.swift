/// Writes: stateless checks at once, then the committer (the callback runs on the committer or syncer thread, once
/// the write is durable and published; no task per call).
extension Store {
    /// `condition` (for every write here) is checked again when the write is applied (`WriteCondition`).
    public func put(
        _ request: PutRequest, condition: WriteCondition? = nil,
        completion: @escaping @Sendable (Result<PutResult, StoreError>) -> Void
    ) {
        do throws(StoreError) { try RequestValidation.check(request) } catch { return completion(.failure(error)) }
        submit(.put(request), \.put, condition: condition, completion)
    }

    public func delete(
        _ request: DeleteRequest, condition: WriteCondition? = nil,
        completion: @escaping @Sendable (Result<DeleteResult, StoreError>) -> Void
    ) {
        do throws(StoreError) { try RequestValidation.check(request) } catch { return completion(.failure(error)) }
        submit(.delete(request), \.delete, condition: condition, completion)
    }

    /// A txn with only Range ops is answered from a snapshot (`.point` work); any other goes through the committer.
    public func txn(
        _ request: TxnRequest, condition: WriteCondition? = nil,
        completion: @escaping @Sendable (Result<TxnResult, StoreError>) -> Void
    ) {
        do throws(StoreError) {
            try RequestValidation.check(request, maximumOperations: configuration.maximumTxnOperations)
        } catch {
            return completion(.failure(error))
        }
        if request.isReadOnly {
            return executeDurably(
                .point, { [self] () throws(StoreError) in try readOnlyTxn(request) }, revision: \.revision,
                completion: completion)
        }
        submit(.txn(request), \.txn, condition: condition, completion)
    }

    /// Compacts history below `revision`. With `physical`, answers only after the removed history is
    /// gone from the backend; otherwise once the compaction point is durable.
    public func compact(
        revision: Int64, physical: Bool, completion: @escaping @Sendable (Result<CompactResult, StoreError>) -> Void
    ) {
        submit(.compact(revision: revision, physical: physical), \.compact, completion)
    }

    /// Queues a committer operation whose outcome `answer` turns into the caller's result.
    func submit<Value>(
        _ operation: PendingWrite.Operation, _ answer: KeyPath<PendingWrite.Outcome, Result<Value, StoreError>>,
        condition: WriteCondition? = nil, _ completion: @escaping @Sendable (Result<Value, StoreError>) -> Void
    ) {
        nonisolated(unsafe) let answer = answer  // key paths are immutable
        committer.submit(
            PendingWrite(operation: operation, condition: condition) { completion($0.flatMap { $0[keyPath: answer] }) })
    }
}

/// Each outcome as the result its operation's caller expects. The committer answers every operation with the outcome
/// of its own kind, so the failures here never happen; they are errors rather than crashes all the same.
extension PendingWrite.Outcome {
    var put: Result<PutResult, StoreError> { if case .put(let result) = self { .success(result) } else { mismatch() } }
    var delete: Result<DeleteResult, StoreError> {
        if case .delete(let result) = self { .success(result) } else { mismatch() }
    }
    var txn: Result<TxnResult, StoreError> { if case .txn(let result) = self { .success(result) } else { mismatch() } }
    var compact: Result<CompactResult, StoreError> {
        if case .compact(let result) = self { .success(result) } else { mismatch() }
    }
    var grantLease: Result<LeaseGrantResult, StoreError> {
        if case .grantLease(let result) = self { .success(result) } else { mismatch() }
    }
    var revokeLease: Result<Int64, StoreError> {
        if case .revokeLease(let revision) = self { .success(revision) } else { mismatch() }
    }
    var updateMetadata: Result<Result<any Sendable, any Error>, StoreError> {
        if case .updateMetadata(let result) = self { .success(result) } else { mismatch() }
    }

    private func mismatch<Value>() -> Result<Value, StoreError> {
        .failure(StoreError(.backendFailure, "the committer answered with \(self)"))
    }
}
