/// What the API server needs from a store: etcd's semantics, in the few shapes kube-apiserver's etcd3 storage
/// uses (a get, a paged range at a revision, a create-if-absent txn, a compare-and-swap on the mod revision, a
/// prefix watch from a revision). The local store implements it in-process; an external etcd or Kelson would
/// implement it over `EtcdClient` with the same transactions.
public protocol ObjectStorage: Sendable {
    /// The store's current revision.
    func currentRevision() async throws(StorageFailure) -> Int64
    func get(_ key: String) async throws(StorageFailure) -> StoredObject?
    /// Keys under `prefix` from `startKey` (inclusive; nil: the prefix's first), at most `limit` (0: all), read at
    /// `revision` (0: latest).
    func list(prefix: String, startKey: String?, limit: Int, revision: Int64) async throws(StorageFailure)
        -> StoredList
    /// Creates `key`; `.alreadyExists` when it is there.
    func create(_ key: String, value: [UInt8]) async throws(StorageFailure) -> Int64
    /// Replaces `key` if its mod revision is still `expectedModRevision`; `.conflict` (with what is stored now)
    /// otherwise, `.notFound` when it is gone.
    func update(_ key: String, value: [UInt8], expectedModRevision: Int64) async throws(StorageFailure) -> Int64
    /// Deletes `key` if its mod revision is still `expectedModRevision`.
    func delete(_ key: String, expectedModRevision: Int64) async throws(StorageFailure) -> Int64
    /// Events for keys under `prefix` after `afterRevision`.
    func watch(prefix: String, afterRevision: Int64) throws(StorageFailure) -> any StorageWatch
}

public struct StoredObject: Sendable {
    public var key: String
    public var value: [UInt8]
    public var modRevision: Int64
    public var createRevision: Int64

    public init(key: String, value: [UInt8], modRevision: Int64, createRevision: Int64) {
        self.key = key
        self.value = value
        self.modRevision = modRevision
        self.createRevision = createRevision
    }
}

public struct StoredList: Sendable {
    public var objects: [StoredObject]
    /// The revision the list was read at.
    public var revision: Int64
    /// More keys follow the last one returned.
    public var more: Bool
    /// Keys under the prefix from `startKey` on, returned or not.
    public var count: Int64

    public init(objects: [StoredObject], revision: Int64, more: Bool, count: Int64) {
        self.objects = objects
        self.revision = revision
        self.more = more
        self.count = count
    }
}

public struct StorageEvent: Sendable {
    public enum Kind: Sendable { case added, modified, deleted }
    public var kind: Kind
    /// For `.deleted`, the last stored value with the deletion's revision.
    public var object: StoredObject
    /// The value before this change (for `.modified`), so a selector can tell an object leaving its set.
    public var previous: StoredObject?

    public init(kind: Kind, object: StoredObject, previous: StoredObject?) {
        self.kind = kind
        self.object = object
        self.previous = previous
    }
}

public protocol StorageWatch: Sendable {
    /// The next batch of events, nil when the watch ended. Throws `.compacted` when history it needs is gone.
    func next() async throws(StorageFailure) -> [StorageEvent]?
    func cancel()
}

public enum StorageFailure: Error, Sendable {
    case alreadyExists
    case notFound
    case conflict(current: StoredObject?)
    /// The revision asked for was compacted away; carries the compaction point.
    case compacted(compactRevision: Int64)
    case futureRevision
    case tooManyRequests
    case unavailable(String)
}
