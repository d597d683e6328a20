/// A recorded history of client operations against an etcd API (Kelson or etcd), as the robustness tests record it:
/// every operation's request, when it was invoked, and when and how it returned. A call that failed without a
/// definite answer (a timeout, a lost connection) has no response: it may or may not have taken effect.
///
/// The operations are the shapes Kubernetes uses: gets, blind puts, creates (`Txn` with `mod_revision(key) == 0`),
/// guarded updates and deletes (`Txn` with `mod_revision(key) == X`), and plain deletes.
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
    }

    public enum Response: Sendable, Hashable {
        /// The key's value and mod revision (nil, 0 when absent) and the header revision.
        case get(value: String?, modRevision: Int64, revision: Int64)
        case put(revision: Int64)
        /// A guarded write: whether the compare held, and the header revision.
        case txn(succeeded: Bool, revision: Int64)
        /// A plain delete: keys deleted, header revision.
        case delete(deleted: Int64, revision: Int64)
    }

    public var client: Int
    public var request: Request
    /// Monotonic nanoseconds when the call was made and when it returned (nil: no definite answer).
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

    public var key: String {
        switch request {
        case .get(let key), .put(let key, _), .create(let key, _), .update(let key, _, _), .delete(let key, _): key
        }
    }
}
