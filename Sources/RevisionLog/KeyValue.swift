/// A key's state at one revision, as etcd's `mvccpb.KeyValue` describes it.
///
/// `version` counts modifications since the key's latest creation (1 for a create); a delete
/// resets it, and the next put starts a new generation with a new `createRevision`.
public struct KeyValue: Sendable, Equatable, Hashable {
    public var key: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
    public var version: Int64
    public var value: [UInt8]
    public var lease: Int64

    public init(
        key: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, value: [UInt8], lease: Int64
    ) {
        self.key = key
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.value = value
        self.lease = lease
    }
}

/// One change recorded in the revision log: a put of `keyValue`, or a delete (tombstone) of its key.
///
/// For a delete, `keyValue` holds only the key and `modRevision` (the deleting revision), exactly
/// like the `kv` of an etcd DELETE watch event.
public struct Change: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case put, delete }
    public var kind: Kind
    public var keyValue: KeyValue
    /// Position of the change inside its revision (etcd's "sub-revision").
    public var subRevision: Int64
    /// The key's state before this change, when the committer knew it (changes fresh from a commit).
    /// Not stored: changes read back from the log have nil here.
    public var previous: KeyValue?

    public init(kind: Kind, keyValue: KeyValue, subRevision: Int64, previous: KeyValue? = nil) {
        self.kind = kind
        self.keyValue = keyValue
        self.subRevision = subRevision
        self.previous = previous
    }

    public var revision: Int64 { keyValue.modRevision }
}

/// Everything one committed revision changed, in sub-revision order (what watchers receive).
public struct CommittedRevision: Sendable, Equatable {
    public var revision: Int64
    public var changes: [Change]
}
