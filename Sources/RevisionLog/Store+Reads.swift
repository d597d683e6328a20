/// Reads of keys and of the log. Each runs through `execute` and is answered once what it saw is durable.
extension Store {
    /// A range. A one-key get is `.point` work, a range that may return many keys `.list` (see `execute`).
    public func range(
        _ request: RangeRequest, completion: @escaping @Sendable (Result<RangeResult, StoreError>) -> Void
    ) {
        executeDurably(
            request.mayBeLarge ? .list : .point, { [self] () throws(StoreError) in try rangeNow(request) },
            revision: \.revision, completion: completion)
    }

    /// Current and compacted revisions from one snapshot.
    public func revisions(completion: @escaping @Sendable (Result<StoreRevisions, StoreError>) -> Void) {
        executeDurably(
            .point,
            { [self] () throws(StoreError) in
                try read { StoreRevisions(revision: $0.revision, compactRevision: $0.compactRevision) }
            }, revision: \.revision, completion: completion)
    }

    /// Bytes on disk and bytes in use (see `LogBackend.storageSize`).
    public func storageSize(completion: @escaping @Sendable (Result<StorageSize, StoreError>) -> Void) {
        execute(
            .point, { [self] () throws(StoreError) in try backendCall { try $0.storageSize() } }, completion: completion
        )
    }

    /// Committed changes in `[from, through]`, whole revisions only, at most about `limit` changes.
    public func changes(
        from: Int64, through: Int64, limit: Int, completion: @escaping @Sendable (Result<[Change], StoreError>) -> Void
    ) {
        executeDurably(
            .list,
            { [self] () throws(StoreError) in try read { try $0.changes(from: from, through: through, limit: limit) } },
            revision: { $0.last?.revision ?? 0 }, completion: completion)
    }

    /// What a catching-up watcher reads: committed changes from `from` through `through` (at most the published
    /// head: a group still being synced reaches watchers through the hub), whole revisions, about `limit` changes,
    /// with the head read through and the compaction point of the same snapshot. With `previousValues`, each
    /// non-create change carries the key's state one revision earlier when that is still above the compaction
    /// point (etcd omits it otherwise).
    func replay(from: Int64, through: Int64, limit: Int, previousValues: Bool) async throws(StoreError) -> Replay {
        try await executing(.list) { [self] () throws(StoreError) in
            try read { reader in
                let compactRevision = reader.compactRevision
                let head = min(reader.revision, through, revision)
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
    }

    /// A range from a snapshot that may include a group whose sync is still running (the body of `range`).
    func rangeNow(_ request: RangeRequest) throws(StoreError) -> RangeResult {
        try RequestValidation.check(request)
        return try read { reader in
            try RangeExecution.run(
                request, reader: reader, currentRevision: reader.revision, compactRevision: reader.compactRevision)
        }
    }

    /// A txn of Range ops only, from one snapshot (the body of a read-only `txn`).
    func readOnlyTxn(_ request: TxnRequest) throws(StoreError) -> TxnResult {
        try read { reader in
            var writer = RevisionWriter(
                reader: reader, writer: nil, beginRevision: reader.revision,
                compactRevision: reader.compactRevision)
            return try writer.txn(request)
        }
    }
}

/// The store's revision and compaction point, read together (`Store.revisions`).
public struct StoreRevisions: Sendable, Equatable {
    public var revision: Int64
    public var compactRevision: Int64
}

/// A slice of the log read in one snapshot (see `Store.replay`).
public struct Replay: Sendable {
    public var changes: [Change]
    /// The revision read through (the snapshot's head, bounded by the published revision).
    public var revision: Int64
    public var compactRevision: Int64
}
