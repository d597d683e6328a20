/// Writes a copy of another store's live state into an empty backend (what `kelson migrate` does),
/// keeping every key's create revision, mod revision, version and lease, and the store's revision.
///
/// Only the live state is copied, not history: each key becomes one put in the log at its mod revision
/// (keys sharing a mod revision get sub-revisions 0, 1, 2… in key order), and the store ends up
/// compacted at the source's revision, so nothing claims to hold history it does not have.
///
/// Keys must arrive in ascending (mod revision, key) order: the log is written in (revision,
/// sub-revision) order, as the committer would. Writes go in bounded transactions; while the import
/// runs, a metadata marker makes `Store` refuse to open the backend, so a half-copied store is never
/// served. Not thread-safe: one caller feeds it.
public struct StoreImport {
    /// Bounds on one write transaction.
    public struct Limits: Sendable {
        public var maximumKeys: Int
        public var maximumBytes: Int

        public init(maximumKeys: Int = 1_000, maximumBytes: Int = 8 << 20) {
            self.maximumKeys = max(maximumKeys, 1)
            self.maximumBytes = max(maximumBytes, 1)
        }
    }

    /// Metadata present while an import is unfinished.
    static let unfinishedMarker = "import-unfinished"

    private let backend: any LogBackend
    /// The source's revision: the destination's revision and compaction point once finished.
    public let revision: Int64
    private let limits: Limits
    private var pending: [Change] = []
    private var pendingBytes = 0
    private var last: (modRevision: Int64, key: [UInt8])?
    private var nextSubRevision: Int64 = 0
    public private(set) var keysWritten: Int64 = 0
    private var finished = false

    /// Checks that `backend` is empty, marks the import as started and stores `leases`.
    public init(into backend: any LogBackend, revision: Int64, leases: [LeaseRecord], limits: Limits = Limits())
        throws(StoreError)
    {
        guard revision >= 1 else { throw StoreError(.corrupt, "the source's revision is \(revision)") }
        if let bad = leases.first(where: { $0.id == 0 }) {
            throw StoreError(.corrupt, "the source has a lease with ID 0 (ttl \(bad.ttl))")
        }
        self.backend = backend
        self.revision = revision
        self.limits = limits
        // The check and the marker share one transaction, so two imports cannot both start.
        let chunks = stride(from: 0, to: leases.count, by: limits.maximumKeys).map {
            leases[$0..<min($0 + limits.maximumKeys, leases.count)]
        }
        try Self.call {
            try backend.write { writer in
                try Self.checkEmpty(writer)
                try writer.setMetadata(Self.unfinishedMarker, Array("kelson migrate".utf8))
                for lease in chunks.first ?? [] { try writer.putLease(lease) }
            }
            for chunk in chunks.dropFirst() {
                try backend.write { writer in for lease in chunk { try writer.putLease(lease) } }
            }
        }
    }

    /// Fails with `.notEmpty` unless `backend` has never changed a key and holds no key or lease.
    public static func requireEmpty(_ backend: any LogBackend) throws(StoreError) {
        try call { try backend.read { try checkEmpty($0) } }
    }

    private static func checkEmpty(_ reader: any BackendReader) throws {
        let hasKeys = try !reader.range(.fromKey([]), at: 0, limit: 1).isEmpty
        let hasLeases = try !reader.leases().isEmpty
        guard reader.revision != 1 || hasKeys || hasLeases else { return }
        if try reader.metadata(unfinishedMarker) != nil {
            throw StoreError(
                .notEmpty, "an earlier import into it did not finish and left partial data; empty it and retry")
        }
        throw StoreError(
            .notEmpty,
            "it already holds data (revision \(reader.revision)\(hasKeys ? ", keys" : "")\(hasLeases ? ", leases" : "")); import only into an empty store"
        )
    }

    /// Adds one live key. Keys must come in ascending (mod revision, key) order.
    public mutating func add(_ keyValue: KeyValue) throws(StoreError) {
        precondition(!finished, "StoreImport.add after finish")
        let key = keyValue.key
        guard !key.isEmpty, keyValue.version >= 1, keyValue.createRevision >= 1,
            keyValue.createRevision <= keyValue.modRevision, keyValue.modRevision <= revision
        else {
            throw StoreError(
                .corrupt,
                "key \(String(decoding: key, as: UTF8.self)): create revision \(keyValue.createRevision), mod revision \(keyValue.modRevision), version \(keyValue.version) do not fit a store at revision \(revision)"
            )
        }
        if let last {
            guard
                last.modRevision < keyValue.modRevision
                    || (last.modRevision == keyValue.modRevision && last.key.lexicographicallyPrecedes(key))
            else { throw StoreError(.corrupt, "keys must be imported in ascending (mod revision, key) order") }
            if last.modRevision != keyValue.modRevision { nextSubRevision = 0 }
        }
        last = (keyValue.modRevision, key)
        pending.append(Change(kind: .put, keyValue: keyValue, subRevision: nextSubRevision))
        nextSubRevision += 1
        pendingBytes += key.count + keyValue.value.count + 64
        if pending.count >= limits.maximumKeys || pendingBytes >= limits.maximumBytes { try flush() }
    }

    /// Writes what is buffered, sets the store's revision and compaction point, and clears the marker.
    public mutating func finish() throws(StoreError) {
        try flush()
        let revision = revision
        try Self.call {
            try backend.write { writer in
                try writer.setRevision(revision)
                // History before `revision` is not copied: reads and watches below it must fail as compacted.
                // A source that never changed a key (revision 1) has no history to hide.
                if revision > 1 {
                    try writer.setCompactRevision(revision)
                    try writer.setCompactedThrough(revision)
                }
                try writer.setMetadata(Self.unfinishedMarker, nil)
            }
            // A backend that defers durability (PostgreSQL) has committed but maybe not flushed: make it durable
            // before the import reports success.
            if backend.defersDurability { try backend.sync() }
        }
        finished = true
    }

    private mutating func flush() throws(StoreError) {
        guard !pending.isEmpty else { return }
        let changes = pending
        try Self.call { try backend.write { writer in for change in changes { try writer.append(change) } } }
        keysWritten += Int64(changes.count)
        pending.removeAll(keepingCapacity: true)
        pendingBytes = 0
    }

    /// Fails when an import into `backend` started and did not finish (`Store` will not open it).
    static func refuseUnfinished(_ backend: any LogBackend) throws(StoreError) {
        let unfinished = try call { try backend.read { try $0.metadata(unfinishedMarker) } }
        if unfinished != nil {
            throw StoreError(
                .corrupt,
                "an import (kelson migrate) into this store did not finish, so it holds partial data; empty it and migrate again"
            )
        }
    }

    /// Every live key of `reader`'s snapshot in key order, in pages of at most `pageSize`.
    /// Reads the head of the snapshot (the live index), not a past revision: within one snapshot they are
    /// the same, and a past-revision read would scan the log.
    public static func forEachLiveKey(
        _ reader: any BackendReader, pageSize: Int, _ body: ([KeyValue]) throws -> Void
    ) throws {
        let size = max(pageSize, 1)
        var start: [UInt8] = []
        while true {
            let page = try reader.range(.fromKey(start), at: 0, limit: size)
            if page.isEmpty { return }
            try body(page)
            guard page.count >= size, let last = page.last else { return }
            start = last.key + [0]
        }
    }

    /// Runs `body`, turning foreign errors into `.backendFailure`.
    static func call<Result>(_ body: () throws -> Result) throws(StoreError) -> Result {
        do {
            return try body()
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.backendFailure, "\(error)")
        }
    }
}
