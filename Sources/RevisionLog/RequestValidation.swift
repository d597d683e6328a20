/// Stateless request checks, run before a request reaches the committer so a bad request never
/// touches stored data. The order of checks and the errors match etcd's `v3rpc/key.go`, because
/// clients see whichever error comes first.
enum RequestValidation {
    static func check(_ request: RangeRequest) throws(StoreError) {
        if request.range.start.isEmpty { throw .emptyKey }
    }

    static func check(_ request: PutRequest) throws(StoreError) {
        if request.key.isEmpty { throw .emptyKey }
        if request.ignoreValue && !request.value.isEmpty { throw .valueProvided }
        if request.ignoreLease && request.lease != 0 { throw .leaseProvided }
    }

    static func check(_ request: DeleteRequest) throws(StoreError) {
        if request.range.start.isEmpty { throw .emptyKey }
    }

    /// etcd's `checkTxnRequest` then `checkIntervals` on both branches.
    static func check(_ request: TxnRequest, maximumOperations: Int) throws(StoreError) {
        try checkShape(request, maximumOperations: maximumOperations)
        _ = try DuplicateKeyCheck.check(request.success)
        _ = try DuplicateKeyCheck.check(request.failure)
    }

    /// Operation counts (nested txns share the remaining budget), empty compare keys, empty ops.
    private static func checkShape(_ request: TxnRequest, maximumOperations: Int) throws(StoreError) {
        let operations = max(request.compares.count, request.success.count, request.failure.count)
        if operations > maximumOperations { throw .tooManyOperations }
        for compare in request.compares where compare.range.start.isEmpty { throw .emptyKey }
        for operation in request.success + request.failure {
            switch operation {
            case .range(let range): try check(range)
            case .put(let put): try check(put)
            case .delete(let delete): try check(delete)
            case .txn(let nested): try checkShape(nested, maximumOperations: maximumOperations - operations)
            case .empty: throw .keyNotFound
            }
        }
    }
}

/// etcd's `checkIntervals`: within one branch (and its nested txns) two puts of one key, or a put
/// inside a delete range, make the txn ambiguous and are refused. A put in both the then- and the
/// else-branch of one nested txn is fine (only one runs); overlapping deletes are fine.
///
/// The traversal order is etcd's, including its quirk that a nested txn's deletes only constrain
/// puts of later siblings and of the enclosing level.
enum DuplicateKeyCheck {
    /// A half-open key interval; `end == nil` is unbounded. etcd builds delete intervals from the
    /// raw `range_end` bytes (so `"\0"` yields an empty interval here, as it does there).
    struct Interval {
        var start: [UInt8]
        var end: [UInt8]?

        func contains(_ key: [UInt8]) -> Bool {
            guard !key.lexicographicallyPrecedes(start) else { return false }
            guard let end else { return true }
            return key.lexicographicallyPrecedes(end)
        }
    }

    static func check(_ operations: [TxnOperation]) throws(StoreError) -> (puts: Set<[UInt8]>, deletes: [Interval]) {
        var deletes: [Interval] = []
        for case .delete(let delete) in operations {
            deletes.append(interval(of: delete.range))
        }
        var puts = Set<[UInt8]>()
        for case .txn(let nested) in operations {
            let (putsThen, deletesThen) = try check(nested.success)
            let (putsElse, deletesElse) = try check(nested.failure)
            for key in putsThen {
                if puts.contains(key) || deletes.contains(where: { $0.contains(key) }) { throw .duplicateKey }
                puts.insert(key)
            }
            for key in putsElse {
                if puts.contains(key) && !putsThen.contains(key) { throw .duplicateKey }
                if deletes.contains(where: { $0.contains(key) }) { throw .duplicateKey }
                puts.insert(key)
            }
            deletes += deletesThen + deletesElse
        }
        for case .put(let put) in operations {
            if puts.contains(put.key) || deletes.contains(where: { $0.contains(put.key) }) { throw .duplicateKey }
            puts.insert(put.key)
        }
        return (puts, deletes)
    }

    private static func interval(of range: KeyRange) -> Interval {
        switch range {
        case .single(let key): return Interval(start: key, end: key + [0])
        case .interval(let start, let end): return Interval(start: start, end: end)
        // etcd's interval for range_end "\0" is [key, "\0"): empty for every non-empty key.
        case .fromKey(let start): return Interval(start: start, end: [0])
        }
    }
}
