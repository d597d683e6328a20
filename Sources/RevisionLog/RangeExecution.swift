/// How a Range is answered, identically on the read path and inside a write transaction
/// (etcd `applierV3backend.Range` plus `storeTxnRead.rangeKeys`).
enum RangeExecution {
    /// `currentRevision` is the revision the reader sees (inside a write txn that already changed
    /// keys it is the txn's own revision); `compactRevision` the store's compaction point.
    static func run(
        _ request: RangeRequest, reader: any BackendReader, currentRevision: Int64, compactRevision: Int64
    ) throws -> RangeResult {
        if request.revision > currentRevision { throw StoreError.futureRevision }
        let revision = request.revision <= 0 ? currentRevision : request.revision
        if revision < compactRevision { throw StoreError.compacted }
        // 0 tells the backend "head", which it answers from the live index, not from history.
        let readAt: Int64 = revision == currentRevision ? 0 : revision
        if request.range.isEmpty {
            return RangeResult(keyValues: [], more: false, count: 0, revision: currentRevision)
        }
        if request.countOnly {
            let count = try reader.count(request.range, at: readAt)
            return RangeResult(keyValues: [], more: false, count: count, revision: currentRevision)
        }

        // Sorting or filtering needs every key; otherwise read one past the limit to learn `more`.
        let hasFilters =
            request.minModRevision != 0 || request.maxModRevision != 0
            || request.minCreateRevision != 0 || request.maxCreateRevision != 0
        let readsEverything = request.sortOrder != .none || hasFilters
        let fetchLimit = (readsEverything || request.limit <= 0) ? 0 : Int(request.limit) + 1
        var keyValues = try reader.range(request.range, at: readAt, limit: fetchLimit)
        let count: Int64
        if fetchLimit == 0 || keyValues.count < fetchLimit {
            count = Int64(keyValues.count)
        } else {
            count = try reader.count(request.range, at: readAt)
        }

        if hasFilters { keyValues.removeAll { !passesFilters($0, request) } }
        sort(&keyValues, request)
        var more = false
        if request.limit > 0 && keyValues.count > Int(request.limit) {
            keyValues.removeLast(keyValues.count - Int(request.limit))
            more = true
        }
        if request.keysOnly {
            for index in keyValues.indices { keyValues[index].value = [] }
        }
        return RangeResult(keyValues: keyValues, more: more, count: count, revision: currentRevision)
    }

    private static func passesFilters(_ keyValue: KeyValue, _ request: RangeRequest) -> Bool {
        if request.maxModRevision != 0 && keyValue.modRevision > request.maxModRevision { return false }
        if request.minModRevision != 0 && keyValue.modRevision < request.minModRevision { return false }
        if request.maxCreateRevision != 0 && keyValue.createRevision > request.maxCreateRevision { return false }
        if request.minCreateRevision != 0 && keyValue.createRevision < request.minCreateRevision { return false }
        return true
    }

    /// etcd sorts ascending when a non-key target is given without an order. Ties keep key order
    /// (what etcd's sort yields for the small result sets its tests and tools use).
    private static func sort(_ keyValues: inout [KeyValue], _ request: RangeRequest) {
        var order = request.sortOrder
        if request.sortTarget != .key && order == .none { order = .ascend }
        if order == .none || (order == .ascend && request.sortTarget == .key) { return }
        let target = request.sortTarget
        let descending = order == .descend
        let indexed = keyValues.enumerated().map { ($0.offset, $0.element) }
        let sorted = indexed.sorted { lhs, rhs in
            let comparison = compare(lhs.1, rhs.1, by: target)
            if comparison != 0 { return descending ? comparison > 0 : comparison < 0 }
            return lhs.0 < rhs.0
        }
        keyValues = sorted.map(\.1)
    }

    private static func compare(_ lhs: KeyValue, _ rhs: KeyValue, by target: RangeRequest.SortTarget) -> Int {
        switch target {
        case .key: return compareBytes(lhs.key, rhs.key)
        case .value: return compareBytes(lhs.value, rhs.value)
        case .version: return compareInts(lhs.version, rhs.version)
        case .create: return compareInts(lhs.createRevision, rhs.createRevision)
        case .mod: return compareInts(lhs.modRevision, rhs.modRevision)
        }
    }
}

func compareInts(_ lhs: Int64, _ rhs: Int64) -> Int { lhs < rhs ? -1 : (lhs > rhs ? 1 : 0) }

/// Byte-wise lexicographic comparison, Go's `bytes.Compare`.
func compareBytes(_ lhs: [UInt8], _ rhs: [UInt8]) -> Int {
    if lhs == rhs { return 0 }
    return lhs.lexicographicallyPrecedes(rhs) ? -1 : 1
}
