/// Applies one write request (Put, DeleteRange, Txn) inside the committer's backend transaction,
/// with etcd's MVCC rules (`mvcc/kvstore_txn.go`, `etcdserver/apply.go`):
/// - every change of the request shares revision `beginRevision + 1`, ordered by sub-revision;
/// - the revision advances only if at least one key changed;
/// - a put keeps the key's `createRevision` and bumps `version`; a put of an absent key starts a
///   new generation (`createRevision = modRevision`, version 1);
/// - a delete writes a tombstone holding only the key and the deleting revision.
/// All checks that can fail run before the first change is appended, so a rejected request leaves
/// no trace.
///
/// A read-only txn (only Range ops) runs through the same code with `writer == nil`.
struct RevisionWriter {
    let reader: any BackendReader
    let writer: (any BackendWriter)?
    let beginRevision: Int64
    let compactRevision: Int64
    private(set) var changes: [Change] = []

    init(reader: any BackendReader, writer: (any BackendWriter)?, beginRevision: Int64, compactRevision: Int64) {
        self.reader = reader
        self.writer = writer
        self.beginRevision = beginRevision
        self.compactRevision = compactRevision
    }

    /// The revision writes of this request get.
    var writeRevision: Int64 { beginRevision + 1 }
    /// What reads inside the request see as "current" (etcd: `beginRev`, +1 once something changed).
    var visibleRevision: Int64 { changes.isEmpty ? beginRevision : beginRevision + 1 }

    mutating func put(_ request: PutRequest) throws -> PutResult {
        if request.lease != 0, try reader.lease(request.lease) == nil { throw StoreError.leaseNotFound }
        return try applyPut(request)
    }

    mutating func delete(_ request: DeleteRequest) throws -> DeleteResult {
        let existing = request.range.isEmpty ? [] : try reader.range(request.range, at: 0, limit: 0)
        for keyValue in existing {
            try record(
                .delete,
                KeyValue(
                    key: keyValue.key, createRevision: 0, modRevision: writeRevision,
                    version: 0, value: [], lease: 0), previous: keyValue)
        }
        let revision = changes.isEmpty ? beginRevision : writeRevision
        return DeleteResult(
            revision: revision, deleted: Int64(existing.count),
            previousKeyValues: request.previousKeyValues ? existing : [])
    }

    /// Stores a new lease; ID 0 picks an unused positive ID (etcd picks from its request-ID
    /// generator; any unused positive ID serves clients the same).
    mutating func grantLease(_ requested: LeaseRecord) throws -> LeaseRecord {
        var lease = requested
        if lease.id == 0 {
            repeat { lease.id = Int64.random(in: 1...Int64.max) } while try reader.lease(lease.id) != nil
        } else if try reader.lease(lease.id) != nil {
            throw StoreError.leaseExists
        }
        try requireWriter().putLease(lease)
        return lease
    }

    /// Deletes every key attached to the lease, all in one revision, then the lease itself.
    /// Returns the revision the store is at afterwards.
    mutating func revokeLease(_ id: Int64) throws -> Int64 {
        guard try reader.lease(id) != nil else { throw StoreError.leaseNotFound }
        for key in try reader.keys(attachedTo: id, limit: 0) {
            _ = try delete(DeleteRequest(range: .single(key)))
        }
        try requireWriter().deleteLease(id)
        return visibleRevision
    }

    /// Runs a metadata update; nothing is written when the update fails or changes nothing.
    mutating func updateMetadata(_ name: String, _ update: MetadataUpdate) throws -> Result<any Sendable, any Error> {
        let old = try reader.metadata(name)
        let (new, result) = update(old)
        if case .success = result, new != old { try requireWriter().setMetadata(name, new) }
        return result
    }

    mutating func txn(_ request: TxnRequest) throws -> TxnResult {
        // Every compare, nested ones included, sees the state before any op runs.
        let path = try TxnPath.compute(request, reader: reader)
        var checkCursor = path[...]
        try check(request, path: &checkCursor)
        var applyCursor = path[...]
        return try apply(request, path: &applyCursor)
    }

    private mutating func apply(_ request: TxnRequest, path: inout ArraySlice<Bool>) throws -> TxnResult {
        let succeeded = path.removeFirst()
        var results: [TxnOperationResult] = []
        for operation in succeeded ? request.success : request.failure {
            switch operation {
            case .range(let range):
                results.append(
                    .range(
                        try RangeExecution.run(
                            range, reader: reader, currentRevision: visibleRevision, compactRevision: compactRevision)))
            case .put(let put): results.append(.put(try applyPut(put)))
            case .delete(let delete): results.append(.delete(try self.delete(delete)))
            case .txn(let nested): results.append(.txn(try apply(nested, path: &path)))
            case .empty: results.append(.empty)
            }
        }
        return TxnResult(succeeded: succeeded, results: results, revision: visibleRevision)
    }

    /// etcd's `checkRequests` over the branch the compares chose: lease existence and `ignore_*`
    /// targets for puts, and revision bounds for ranges, against the state before the txn.
    private func check(_ request: TxnRequest, path: inout ArraySlice<Bool>) throws {
        let succeeded = path.removeFirst()
        for operation in succeeded ? request.success : request.failure {
            switch operation {
            case .put(let put):
                if put.ignoreValue || put.ignoreLease, try reader.get(put.key, at: 0) == nil {
                    throw StoreError.keyNotFound
                }
                if put.lease != 0, try reader.lease(put.lease) == nil { throw StoreError.leaseNotFound }
            case .range(let range):
                if range.revision == 0 { continue }
                if range.revision > beginRevision { throw StoreError.futureRevision }
                if range.revision < compactRevision { throw StoreError.compacted }
            case .txn(let nested): try check(nested, path: &path)
            case .delete, .empty: continue
            }
        }
    }

    private mutating func applyPut(_ request: PutRequest) throws -> PutResult {
        let previous = try reader.get(request.key, at: 0)
        if (request.ignoreValue || request.ignoreLease) && previous == nil { throw StoreError.keyNotFound }
        let value = request.ignoreValue ? previous!.value : request.value
        let lease = request.ignoreLease ? previous!.lease : request.lease
        let keyValue = KeyValue(
            key: request.key,
            createRevision: previous?.createRevision ?? writeRevision,
            modRevision: writeRevision,
            version: (previous?.version ?? 0) + 1,
            value: value,
            lease: lease)
        try record(.put, keyValue, previous: previous)
        return PutResult(revision: writeRevision, previousKeyValue: request.previousKeyValue ? previous : nil)
    }

    private mutating func record(_ kind: Change.Kind, _ keyValue: KeyValue, previous: KeyValue?) throws {
        let change = Change(kind: kind, keyValue: keyValue, subRevision: Int64(changes.count), previous: previous)
        try requireWriter().append(change)
        changes.append(change)
    }

    private func requireWriter() -> any BackendWriter {
        guard let writer else { preconditionFailure("a read-only request reached a write") }
        return writer
    }
}

/// The branch every (nested) txn takes, in pre-order, decided up front (etcd `compareToPath`).
enum TxnPath {
    static func compute(_ request: TxnRequest, reader: any BackendReader) throws -> [Bool] {
        var path: [Bool] = []
        try append(request, reader: reader, to: &path)
        return path
    }

    private static func append(_ request: TxnRequest, reader: any BackendReader, to path: inout [Bool]) throws {
        var succeeded = true
        for compare in request.compares where try !holds(compare, reader: reader) {
            succeeded = false
            break
        }
        path.append(succeeded)
        for case .txn(let nested) in succeeded ? request.success : request.failure {
            try append(nested, reader: reader, to: &path)
        }
    }

    /// Every key of the range must satisfy the compare. Absent keys compare as a zero KeyValue,
    /// except that a VALUE compare on no key is always false (etcd `applyCompare`).
    static func holds(_ compare: Compare, reader: any BackendReader) throws -> Bool {
        let keyValues = compare.range.isEmpty ? [] : try reader.range(compare.range, at: 0, limit: 0)
        if keyValues.isEmpty {
            if case .value = compare.target { return false }
            return holds(
                compare, for: KeyValue(key: [], createRevision: 0, modRevision: 0, version: 0, value: [], lease: 0))
        }
        return keyValues.allSatisfy { holds(compare, for: $0) }
    }

    private static func holds(_ compare: Compare, for keyValue: KeyValue) -> Bool {
        let ordering: Int
        switch compare.target {
        case .version(let version): ordering = compareInts(keyValue.version, version)
        case .createRevision(let revision): ordering = compareInts(keyValue.createRevision, revision)
        case .modRevision(let revision): ordering = compareInts(keyValue.modRevision, revision)
        case .lease(let lease): ordering = compareInts(keyValue.lease, lease)
        case .value(let value): ordering = compareBytes(keyValue.value, value)
        }
        switch compare.comparison {
        case .equal: return ordering == 0
        case .notEqual: return ordering != 0
        case .greater: return ordering > 0
        case .less: return ordering < 0
        }
    }
}
