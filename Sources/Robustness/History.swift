/// A recorded history of client operations against an etcd API (Kelson or etcd), as the robustness tests record it:
/// every operation's request, when it was invoked, and when and how it returned. A call that failed without a
/// definite answer (a timeout, a lost connection) has no response: it may or may not have taken effect.
///
/// The operations are the shapes Kubernetes uses: gets, blind puts, creates (`Txn` with `mod_revision(key) == 0`),
/// guarded updates and deletes (`Txn` with `mod_revision(key) == X`), plain deletes, and paginated lists.
public struct History: Sendable {
    public var operations: [Operation]

    public init(_ operations: [Operation] = []) { self.operations = operations }
}

public struct Operation: Sendable, Hashable {
    public enum Request: Sendable, Hashable {
        case get(key: String)
        case put(key: String, value: String)
        /// Txn: if `mod_revision(key) == 0` then put.
        case create(key: String, value: String)
        /// Txn: if `mod_revision(key) == modRevision` then put.
        case update(key: String, modRevision: Int64, value: String)
        /// Txn: if `mod_revision(key) == modRevision` then delete; nil: a plain DeleteRange of the key.
        case delete(key: String, modRevision: Int64?)
        /// Every key under `prefix`, `limit` per Range, as kube-apiserver lists: the first page at the latest
        /// revision, each next one from the last key + `\0` at the first page's revision.
        case list(prefix: String, limit: Int64)
    }

    /// One key as a list returned it.
    public struct KeyValue: Sendable, Hashable {
        public var key: String
        public var value: String
        public var modRevision: Int64

        public init(key: String, value: String, modRevision: Int64) {
            self.key = key
            self.value = value
            self.modRevision = modRevision
        }
    }

    /// One Range of a paginated list: its keys, `more`, `count` (the keys left in the range, this page's
    /// included) and the header revision.
    public struct Page: Sendable, Hashable {
        public var keyValues: [KeyValue]
        public var more: Bool
        public var count: Int64
        public var headerRevision: Int64

        public init(keyValues: [KeyValue], more: Bool, count: Int64, headerRevision: Int64) {
            self.keyValues = keyValues
            self.more = more
            self.count = count
            self.headerRevision = headerRevision
        }
    }

    public enum Response: Sendable, Hashable {
        /// The key's value and mod revision (nil, 0 when absent) and the header revision.
        case get(value: String?, modRevision: Int64, revision: Int64)
        case put(revision: Int64)
        /// A guarded write: whether the compare held, and the header revision.
        case txn(succeeded: Bool, revision: Int64)
        /// A plain delete: keys deleted, header revision.
        case delete(deleted: Int64, revision: Int64)
        /// A paginated list: the revision every page read (the first page's header revision) and the pages in
        /// order. All pages read that one revision, so the whole list is one read of the state at `revision`,
        /// taking effect when the first page did (`Operation.returned` is the first page's answer).
        case list(revision: Int64, pages: [Page])
    }

    public var client: Int
    public var request: Request
    /// Monotonic nanoseconds when the call was made and when it returned (nil: no definite answer); for a list, when
    /// its first page returned.
    public var invoked: UInt64
    public var returned: UInt64?
    public var response: Response?

    public init(client: Int, request: Request, invoked: UInt64, returned: UInt64?, response: Response?) {
        self.client = client
        self.request = request
        self.invoked = invoked
        self.returned = returned
        self.response = response
    }

    /// The key the operation reads or writes; a list's prefix.
    public var key: String {
        switch request {
        case .get(let key), .put(let key, _), .create(let key, _), .update(let key, _, _), .delete(let key, _),
            .list(let key, _):
            key
        }
    }
}
