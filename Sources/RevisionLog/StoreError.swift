/// Errors are data: a small struct around a code, so adapters can map each one to the exact wire
/// error their protocol expects (the etcd table lives in `EtcdServer`), and tests can compare them.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable, Hashable {
        case emptyKey
        case keyNotFound
        case valueProvided
        case leaseProvided
        case tooManyOperations
        case duplicateKey
        case invalidSortOption
        case compacted
        case futureRevision
        case leaseNotFound
        case leaseExists
        case leaseTTLTooLarge
        case requestTooLarge
        /// The write queue is full: back off and retry.
        case tooManyRequests
        /// The store is shut down or shutting down.
        case stopped
        /// The storage engine failed; the message says how. Nothing from the failed group was acknowledged.
        case backendFailure
        /// The storage engine cannot be reached right now (a database server restarting); nothing was applied
        /// unless the message says the outcome is unknown. Retry.
        case unavailable
        /// The backend cannot do this (e.g. a snapshot of an in-memory store).
        case notSupported
        /// Stored data is not what Kelson wrote (bad schema version, impossible row).
        case corrupt
        /// An import (`kelson migrate`) found data in the store it was to fill.
        case notEmpty
        /// The caller's permissions changed between the check on arrival and the write's turn in the committer
        /// (`WriteCondition`); the write did nothing. Retry (etcd: "revision of auth store is old").
        case staleAuthorization
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String = "") {
        self.code = code
        self.detail = detail
    }

    public static func == (lhs: StoreError, rhs: StoreError) -> Bool { lhs.code == rhs.code }

    public var description: String { detail.isEmpty ? "\(code)" : "\(code): \(detail)" }

    public static let emptyKey = StoreError(.emptyKey)
    public static let keyNotFound = StoreError(.keyNotFound)
    public static let valueProvided = StoreError(.valueProvided)
    public static let leaseProvided = StoreError(.leaseProvided)
    public static let tooManyOperations = StoreError(.tooManyOperations)
    public static let duplicateKey = StoreError(.duplicateKey)
    public static let invalidSortOption = StoreError(.invalidSortOption)
    public static let compacted = StoreError(.compacted)
    public static let futureRevision = StoreError(.futureRevision)
    public static let leaseNotFound = StoreError(.leaseNotFound)
    public static let leaseExists = StoreError(.leaseExists)
    public static let leaseTTLTooLarge = StoreError(.leaseTTLTooLarge)
    public static let requestTooLarge = StoreError(.requestTooLarge)
    public static let tooManyRequests = StoreError(.tooManyRequests)
    public static let stopped = StoreError(.stopped)
}
