/// The storage interface under the core. Backends store and fetch; every MVCC rule (revisions,
/// versions, compare semantics, what a compaction keeps) is decided by the core above this line.
///
/// Contract every backend meets (checked by `RevisionLogTesting`'s conformance suite):
/// - A backend holds an append-only log of `Change`s plus an index of the live state, so head reads
///   and counts cost O(live keys in range), not O(history).
/// - `write` runs its body in one transaction that is durable (fsynced) when `write` returns, or
///   rolled back entirely when it throws. Only the core's committer calls `write`, one at a time.
///   A backend may instead defer durability (`defersDurability`): `write` returns once the transaction is
///   committed and visible, and `sync()` later makes every such transaction durable. The core then
///   acknowledges nothing, publishes nothing and answers no read that saw it until `sync()` returned.
/// - `read` runs its body against one consistent snapshot; readers never see a partial write.
public protocol LogBackend: Sendable {
    /// Runs `body` against a consistent snapshot.
    func read<Result>(_ body: (any BackendReader) throws -> Result) throws -> Result
    /// Runs `body` in one durable transaction (see the contract above).
    func write<Result>(_ body: (any BackendWriter) throws -> Result) throws -> Result
    /// `write`, told up front which keys `body` will read at the head (`BackendWriter.prefetch`): a backend far
    /// from its data fetches them in the same round trip that opens the transaction.
    func write<Result>(prefetching keys: [[UInt8]], _ body: (any BackendWriter) throws -> Result) throws -> Result
    /// Removes, in one bounded transaction, log rows made obsolete by compacting at `revision`:
    /// rows at or below `revision` that are tombstones or are superseded by a later row of the same
    /// key at or below `revision`. It examines at most `limit` rows still in the log after `cursor` (an
    /// opaque position; start with 0), so a walk over history already removed costs little, and returns
    /// where to continue, or nil when done. (PostgreSQL's batches end on a whole revision, so they may
    /// exceed `limit` by the rows of one revision.)
    func compactBatch(revision: Int64, cursor: Int64, limit: Int) throws -> Int64?
    /// Bytes the store occupies on disk, and how many of them hold live data (etcd's dbSize and
    /// dbSizeInUse).
    func storageSize() throws -> StorageSize
    /// Gives free space back to the file system (etcd's defragment). Blocks writes while it runs.
    func defragment() throws
    /// Writes a consistent, self-contained copy of the whole store to a new file at `path`
    /// (a backend that cannot be copied throws `.notSupported`).
    func snapshot(to path: String) throws
    /// Releases files and connections. Calls after `close` fail with `.stopped`.
    func close()
    /// True when `write` returns before its transaction is durable (see the contract above).
    var defersDurability: Bool { get }
    /// Makes every transaction `write` has returned from durable. Called from one thread, never during `write`'s
    /// own fsync-free commit on the same thread; it may run concurrently with the next `write`.
    func sync() throws
    /// nil when a read takes microseconds (a local file), so callers run it on their own thread; otherwise reads
    /// wait on the network, and the store runs them on this many threads of its own (see `Store.execute`).
    var blockingReadThreads: Int? { get }
}

extension LogBackend {
    public var defersDurability: Bool { false }
    public var blockingReadThreads: Int? { nil }
    public func sync() throws {}

    public func write<Result>(prefetching keys: [[UInt8]], _ body: (any BackendWriter) throws -> Result) throws
        -> Result
    {
        try write { writer in
            try writer.prefetch(keys)
            return try body(writer)
        }
    }
}

/// A consistent view of the store.
public protocol BackendReader {
    /// The store's revision: the last revision that changed a key (1 for a new store).
    var revision: Int64 { get }
    /// The revision the store was last compacted at, or -1 if never (etcd starts at -1 too).
    var compactRevision: Int64 { get }
    /// Revision up to which compaction has physically removed history (resumed after a restart).
    var compactedThrough: Int64 { get }
    /// The latest state of `key` at or below `revision` (0 = head); nil if absent or deleted.
    func get(_ key: [UInt8], at revision: Int64) throws -> KeyValue?
    /// Live keys of `range` at `revision` (0 = head) in ascending key order, at most `limit` (0 = all).
    func range(_ range: KeyRange, at revision: Int64, limit: Int) throws -> [KeyValue]
    /// Number of live keys of `range` at `revision` (0 = head).
    func count(_ range: KeyRange, at revision: Int64) throws -> Int64
    /// Committed changes with `from <= revision <= through`, in log order, at most `limit` changes
    /// but never splitting a revision (watch replay reads this).
    func changes(from: Int64, through: Int64, limit: Int) throws -> [Change]
    /// `changes`, with `previous` set on every change that is not a create: the key's state one revision
    /// earlier (nil when it did not exist then). A remote backend answers in one query.
    func changesWithPrevious(from: Int64, through: Int64, limit: Int) throws -> [Change]
    /// Every lease, in ID order.
    func leases() throws -> [LeaseRecord]
    func lease(_ id: Int64) throws -> LeaseRecord?
    /// Live keys attached to `lease` (a key is attached while its latest put names the lease), in
    /// key order, at most `limit` (0 = all).
    func keys(attachedTo lease: Int64, limit: Int) throws -> [[UInt8]]
    /// A value stored under `name` with `setMetadata` (member identity, auth state), or nil.
    func metadata(_ name: String) throws -> [UInt8]?
}

extension BackendReader {
    public func changesWithPrevious(from: Int64, through: Int64, limit: Int) throws -> [Change] {
        var changes = try changes(from: from, through: through, limit: limit)
        for index in changes.indices where !changes[index].isCreate {
            changes[index].previous = try get(changes[index].keyValue.key, at: changes[index].revision - 1)
        }
        return changes
    }
}

/// The view inside a write transaction: reads see the transaction's own earlier writes.
public protocol BackendWriter: BackendReader {
    /// Appends a change to the log and applies it to the live index.
    func append(_ change: Change) throws
    /// Records the store's new revision (the core calls this once per revision that changed keys).
    func setRevision(_ revision: Int64) throws
    func setCompactRevision(_ revision: Int64) throws
    func setCompactedThrough(_ revision: Int64) throws
    /// Stores a lease (insert or replace).
    func putLease(_ lease: LeaseRecord) throws
    func deleteLease(_ id: Int64) throws
    /// Stores (or, with nil, removes) a small named value outside the revision log.
    func setMetadata(_ name: String, _ value: [UInt8]?) throws
    /// A hint before a group is applied: the group will read these keys at the head. A backend far from its
    /// data (PostgreSQL) fetches them in one round trip instead of one each; local ones ignore it.
    func prefetch(_ keys: [[UInt8]]) throws
}

extension BackendWriter {
    public func prefetch(_ keys: [[UInt8]]) throws {}
}

/// Space used by a backend (see `LogBackend.storageSize`).
public struct StorageSize: Sendable, Equatable {
    public var totalBytes: Int64
    public var inUseBytes: Int64

    public init(totalBytes: Int64, inUseBytes: Int64) {
        self.totalBytes = totalBytes
        self.inUseBytes = inUseBytes
    }
}
