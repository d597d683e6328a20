/// Requests the core understands. They mirror etcd's KV messages but are Kelson's own types, so the
/// core never sees protobuf. Adapters translate; the core validates and applies.

public struct RangeRequest: Sendable, Equatable {
    public enum SortOrder: Sendable, Equatable { case none, ascend, descend }
    public enum SortTarget: Sendable, Equatable { case key, version, create, mod, value }

    public var range: KeyRange
    /// 0 (or negative) reads the head; otherwise the state at that revision.
    public var revision: Int64 = 0
    /// 0 (or negative) means no limit.
    public var limit: Int64 = 0
    public var sortOrder: SortOrder = .none
    public var sortTarget: SortTarget = .key
    public var keysOnly = false
    public var countOnly = false
    public var minModRevision: Int64 = 0
    public var maxModRevision: Int64 = 0
    public var minCreateRevision: Int64 = 0
    public var maxCreateRevision: Int64 = 0

    public init(range: KeyRange) { self.range = range }

    /// More than a handful of keys may have to be read or counted.
    var mayBeLarge: Bool {
        if case .single = range { return false }
        return countOnly || limit <= 0 || limit > 16
    }
}

public struct RangeResult: Sendable, Equatable {
    public var keyValues: [KeyValue]
    public var more: Bool
    /// Keys in the range at the read revision, ignoring limit and the min/max filters.
    public var count: Int64
    /// The header revision: the store's revision when the read ran (never the requested one).
    public var revision: Int64

    public init(keyValues: [KeyValue], more: Bool, count: Int64, revision: Int64) {
        self.keyValues = keyValues
        self.more = more
        self.count = count
        self.revision = revision
    }
}

public struct PutRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    public var lease: Int64 = 0
    public var previousKeyValue = false
    public var ignoreValue = false
    public var ignoreLease = false

    public init(key: [UInt8], value: [UInt8], lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.lease = lease
    }
}

public struct PutResult: Sendable, Equatable {
    public var revision: Int64
    public var previousKeyValue: KeyValue?
}

public struct DeleteRequest: Sendable, Equatable {
    public var range: KeyRange
    public var previousKeyValues = false

    public init(range: KeyRange, previousKeyValues: Bool = false) {
        self.range = range
        self.previousKeyValues = previousKeyValues
    }
}

public struct DeleteResult: Sendable, Equatable {
    public var revision: Int64
    public var deleted: Int64
    public var previousKeyValues: [KeyValue]
}

public struct Compare: Sendable, Equatable {
    public enum Target: Sendable, Equatable {
        case version(Int64)
        case createRevision(Int64)
        case modRevision(Int64)
        case value([UInt8])
        case lease(Int64)
    }
    public enum Operator: Sendable, Equatable { case equal, greater, less, notEqual }

    public var range: KeyRange
    public var target: Target
    public var comparison: Operator

    public init(range: KeyRange, target: Target, comparison: Operator) {
        self.range = range
        self.target = target
        self.comparison = comparison
    }
}

public indirect enum TxnOperation: Sendable, Equatable {
    case range(RangeRequest)
    case put(PutRequest)
    case delete(DeleteRequest)
    case txn(TxnRequest)
    /// A request op with no member of etcd's oneof set; rejected as "key not found" like etcd.
    case empty
}

public struct TxnRequest: Sendable, Equatable {
    public var compares: [Compare]
    public var success: [TxnOperation]
    public var failure: [TxnOperation]

    public init(compares: [Compare] = [], success: [TxnOperation] = [], failure: [TxnOperation] = []) {
        self.compares = compares
        self.success = success
        self.failure = failure
    }
}

public indirect enum TxnOperationResult: Sendable, Equatable {
    case range(RangeResult)
    case put(PutResult)
    case delete(DeleteResult)
    case txn(TxnResult)
    case empty
}

public struct TxnResult: Sendable, Equatable {
    public var succeeded: Bool
    public var results: [TxnOperationResult]
    public var revision: Int64
}

public struct CompactResult: Sendable, Equatable {
    /// The store's revision when the compaction was recorded.
    public var revision: Int64
}
