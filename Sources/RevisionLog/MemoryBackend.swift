import Synchronization

/// A `LogBackend` in memory: for tests, examples and embedding without persistence.
///
/// State is a value; a write mutates a copy and publishes it on success, so readers always see a
/// committed snapshot and a failed write leaves nothing behind (the same contract as SQLite's).
public final class MemoryBackend: LogBackend {
    struct State {
        var revision: Int64 = 1
        var compactRevision: Int64 = -1
        var compactedThrough: Int64 = -1
        /// The log in commit order; `nil` marks a row removed by compaction.
        var log: [Change?] = []
        /// Live state by key.
        var live: [[UInt8]: KeyValue] = [:]
        var leases: [Int64: Int64] = [:]
        var metadata: [String: [UInt8]] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    public init() {}

    public func read<Result>(_ body: (any BackendReader) throws -> Result) throws -> Result {
        let snapshot = state.withLock { $0 }
        if snapshot.closed { throw StoreError.stopped }
        return try body(MemoryView(state: snapshot))
    }

    public func write<Result>(_ body: (any BackendWriter) throws -> Result) throws -> Result {
        let view = MemoryView(state: state.withLock { $0 })
        if view.state.closed { throw StoreError.stopped }
        let result = try body(view)
        state.withLock { $0 = view.state }
        return result
    }

    public func compactBatch(revision: Int64, cursor: Int64, limit: Int) throws -> Int64? {
        try state.withLock { state -> Int64? in
            if state.closed { throw StoreError.stopped }
            // Latest log position of each key at or below `revision`.
            var latest: [[UInt8]: Int] = [:]
            var end = 0  // after the last row at or below `revision`
            for (position, change) in state.log.enumerated() {
                guard let change, change.revision <= revision else { continue }
                latest[change.keyValue.key] = position
                end = position + 1
            }
            var position = Int(cursor)
            var examined = 0
            // Rows already removed do not count: a walk over compacted history stays short.
            while position < end && examined < limit {
                if let change = state.log[position] {
                    if change.revision <= revision, change.kind == .delete || latest[change.keyValue.key] != position {
                        state.log[position] = nil
                    }
                    examined += 1
                }
                position += 1
            }
            return position < end ? Int64(position) : nil
        }
    }

    /// An estimate: the bytes of keys and values held in the log.
    public func storageSize() throws -> StorageSize {
        let bytes = state.withLock { state in
            state.log.reduce(into: Int64(0)) { total, change in
                total += Int64((change?.keyValue.key.count ?? 0) + (change?.keyValue.value.count ?? 0))
            }
        }
        return StorageSize(totalBytes: bytes, inUseBytes: bytes)
    }

    /// Nothing to give back: memory is freed as it is dropped.
    public func defragment() throws {}

    public func snapshot(to path: String) throws {
        throw StoreError(.notSupported, "an in-memory store has no file to snapshot")
    }

    public func close() { state.withLock { $0.closed = true } }
}

/// Reads and writes over one copy of the state.
final class MemoryView: BackendWriter {
    var state: MemoryBackend.State

    init(state: MemoryBackend.State) { self.state = state }

    var revision: Int64 { state.revision }
    var compactRevision: Int64 { state.compactRevision }
    var compactedThrough: Int64 { state.compactedThrough }

    func get(_ key: [UInt8], at revision: Int64) throws -> KeyValue? {
        if revision == 0 { return state.live[key] }
        return try range(.single(key), at: revision, limit: 1).first
    }

    func range(_ range: KeyRange, at revision: Int64, limit: Int) throws -> [KeyValue] {
        var matches: [KeyValue]
        if revision == 0 {
            matches = state.live.values.filter { range.contains($0.key) }
        } else {
            var latest: [[UInt8]: Change] = [:]
            for case let change? in state.log where change.revision <= revision && range.contains(change.keyValue.key) {
                latest[change.keyValue.key] = change
            }
            matches = latest.values.filter { $0.kind == .put }.map(\.keyValue)
        }
        matches.sort { $0.key.lexicographicallyPrecedes($1.key) }
        return limit > 0 ? Array(matches.prefix(limit)) : matches
    }

    func count(_ range: KeyRange, at revision: Int64) throws -> Int64 {
        Int64(try self.range(range, at: revision, limit: 0).count)
    }

    func changes(from: Int64, through: Int64, limit: Int) throws -> [Change] {
        var result: [Change] = []
        for case let change? in state.log where change.revision >= from && change.revision <= through {
            if result.count >= limit, let last = result.last, last.revision != change.revision { break }
            result.append(change)
        }
        return result
    }

    func leases() throws -> [LeaseRecord] {
        state.leases.map { LeaseRecord(id: $0.key, ttl: $0.value) }.sorted { $0.id < $1.id }
    }

    func lease(_ id: Int64) throws -> LeaseRecord? { state.leases[id].map { LeaseRecord(id: id, ttl: $0) } }

    func keys(attachedTo lease: Int64, limit: Int) throws -> [[UInt8]] {
        let keys = state.live.values.filter { $0.lease == lease }.map(\.key).sorted {
            $0.lexicographicallyPrecedes($1)
        }
        return limit > 0 ? Array(keys.prefix(limit)) : keys
    }

    func metadata(_ name: String) throws -> [UInt8]? { state.metadata[name] }

    func putLease(_ lease: LeaseRecord) throws { state.leases[lease.id] = lease.ttl }
    func deleteLease(_ id: Int64) throws { state.leases[id] = nil }
    func setMetadata(_ name: String, _ value: [UInt8]?) throws { state.metadata[name] = value }

    func append(_ change: Change) throws {
        state.log.append(change)
        switch change.kind {
        case .put: state.live[change.keyValue.key] = change.keyValue
        case .delete: state.live[change.keyValue.key] = nil
        }
    }

    func setRevision(_ revision: Int64) throws { state.revision = revision }
    func setCompactRevision(_ revision: Int64) throws { state.compactRevision = revision }
    func setCompactedThrough(_ revision: Int64) throws { state.compactedThrough = revision }
}
