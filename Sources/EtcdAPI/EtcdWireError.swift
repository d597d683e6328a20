/// etcd's wire errors: the exact gRPC status code and message etcd sends
/// (`api/v3rpc/rpctypes/error.go`). Clients match on the message text byte for byte (the Go client
/// turns a known message back into a typed error, and Kubernetes compares those), so these strings
/// must never be reworded.
public struct EtcdWireError: Sendable, Equatable, Error {
    /// The gRPC status code (`google.golang.org/grpc/codes`).
    public let grpcCode: Int
    public let message: String

    public init(grpcCode: Int, message: String) {
        self.grpcCode = grpcCode
        self.message = message
    }
}

extension EtcdWireError {
    // gRPC status codes used below.
    private static let canceled = 1, unknown = 2, invalidArgument = 3, deadlineExceeded = 4, notFound = 5
    private static let permissionDeniedCode = 7, resourceExhausted = 8, failedPrecondition = 9
    private static let outOfRange = 11, unavailable = 14, dataLoss = 15, unauthenticated = 16

    public static let emptyKey = EtcdWireError(grpcCode: invalidArgument, message: "etcdserver: key is not provided")
    public static let keyNotFound = EtcdWireError(grpcCode: invalidArgument, message: "etcdserver: key not found")
    public static let valueProvided = EtcdWireError(grpcCode: invalidArgument, message: "etcdserver: value is provided")
    public static let leaseProvided = EtcdWireError(grpcCode: invalidArgument, message: "etcdserver: lease is provided")
    public static let tooManyOperations = EtcdWireError(
        grpcCode: invalidArgument, message: "etcdserver: too many operations in txn request")
    public static let duplicateKey = EtcdWireError(
        grpcCode: invalidArgument, message: "etcdserver: duplicate key given in txn request")
    public static let invalidClientAPIVersion = EtcdWireError(
        grpcCode: invalidArgument, message: "etcdserver: invalid client api version")
    public static let invalidSortOption = EtcdWireError(
        grpcCode: invalidArgument, message: "etcdserver: invalid sort option")
    public static let compacted = EtcdWireError(
        grpcCode: outOfRange, message: "etcdserver: mvcc: required revision has been compacted")
    public static let futureRevision = EtcdWireError(
        grpcCode: outOfRange, message: "etcdserver: mvcc: required revision is a future revision")
    public static let noSpace = EtcdWireError(
        grpcCode: resourceExhausted, message: "etcdserver: mvcc: database space exceeded")
    public static let leaseNotFound = EtcdWireError(
        grpcCode: notFound, message: "etcdserver: requested lease not found")
    public static let leaseExists = EtcdWireError(
        grpcCode: failedPrecondition, message: "etcdserver: lease already exists")
    public static let leaseTTLTooLarge = EtcdWireError(grpcCode: outOfRange, message: "etcdserver: too large lease TTL")
    public static let watchCanceled = EtcdWireError(grpcCode: canceled, message: "etcdserver: watch canceled")
    public static let memberNotFound = EtcdWireError(grpcCode: notFound, message: "etcdserver: member not found")
    public static let memberNotLearner = EtcdWireError(
        grpcCode: failedPrecondition, message: "etcdserver: can only promote a learner member")
    public static let badLeaderTransferee = EtcdWireError(
        grpcCode: failedPrecondition, message: "etcdserver: bad leader transferee")
    public static let requestTooLarge = EtcdWireError(
        grpcCode: invalidArgument, message: "etcdserver: request is too large")
    public static let tooManyRequests = EtcdWireError(
        grpcCode: resourceExhausted, message: "etcdserver: too many requests")
    public static let permissionDenied = EtcdWireError(
        grpcCode: permissionDeniedCode, message: "etcdserver: permission denied")
    public static let authNotEnabled = EtcdWireError(
        grpcCode: failedPrecondition, message: "etcdserver: authentication is not enabled")
    public static let invalidAuthToken = EtcdWireError(
        grpcCode: unauthenticated, message: "etcdserver: invalid auth token")
    public static let authOldRevision = EtcdWireError(
        grpcCode: invalidArgument, message: "etcdserver: revision of auth store is old")
    public static let rootUserNotExist = EtcdWireError(
        grpcCode: failedPrecondition, message: "etcdserver: root user does not exist")
    public static let rootRoleNotExist = EtcdWireError(
        grpcCode: failedPrecondition, message: "etcdserver: root user does not have root role")
    public static let userAlreadyExist = EtcdWireError(
        grpcCode: failedPrecondition, message: "etcdserver: user name already exists")
    public static let userEmpty = EtcdWireError(grpcCode: invalidArgument, message: "etcdserver: user name is empty")
    public static let userNotFound = EtcdWireError(
        grpcCode: failedPrecondition, message: "etcdserver: user name not found")
    public static let roleAlreadyExist = EtcdWireError(
        grpcCode: failedPrecondition, message: "etcdserver: role name already exists")
    public static let roleNotFound = EtcdWireError(
        grpcCode: failedPrecondition, message: "etcdserver: role name not found")
    public static let roleEmpty = EtcdWireError(grpcCode: invalidArgument, message: "etcdserver: role name is empty")
    public static let authFailed = EtcdWireError(
        grpcCode: invalidArgument, message: "etcdserver: authentication failed, invalid user ID or password")
    /// etcd 3.5's answer to RoleGrantPermission without a permission (3.4 crashes).
    public static let permissionNotGiven = EtcdWireError(
        grpcCode: invalidArgument, message: "etcdserver: permission not given")
    public static let roleNotGranted = EtcdWireError(
        grpcCode: failedPrecondition, message: "etcdserver: role is not granted to the user")
    public static let permissionNotGranted = EtcdWireError(
        grpcCode: failedPrecondition, message: "etcdserver: permission is not granted to the role")
    public static let invalidAuthManagement = EtcdWireError(
        grpcCode: invalidArgument, message: "etcdserver: invalid auth management")
    /// etcd has no wire error for this one: its message and `Unknown` reach the client as they are.
    public static let noPasswordUser = EtcdWireError(
        grpcCode: unknown, message: "auth: authentication failed, password was given for no password user")
    public static let noLeader = EtcdWireError(grpcCode: unavailable, message: "etcdserver: no leader")
    public static let notCapable = EtcdWireError(grpcCode: failedPrecondition, message: "etcdserver: not capable")
    public static let stopped = EtcdWireError(grpcCode: unavailable, message: "etcdserver: server stopped")
    public static let timeout = EtcdWireError(grpcCode: unavailable, message: "etcdserver: request timed out")
    public static let corrupt = EtcdWireError(grpcCode: dataLoss, message: "etcdserver: corrupt cluster")
    public static let canceledRequest = EtcdWireError(grpcCode: canceled, message: "etcdserver: request canceled")
    public static let contextDeadlineExceeded = EtcdWireError(
        grpcCode: deadlineExceeded, message: "etcdserver: context deadline exceeded")
}

// Kelson's own errors, for conditions etcd does not have.
extension EtcdWireError {
    /// The stored auth state cannot be read: every call that needs auth fails rather than run unchecked.
    public static func authStateUnreadable(_ detail: String) -> EtcdWireError {
        EtcdWireError(grpcCode: dataLoss, message: "kelson: stored auth state is unreadable: \(detail)")
    }

    /// A permission type number etcd does not define (etcdctl never sends one).
    public static func unknownPermissionType(_ type: Int) -> EtcdWireError {
        EtcdWireError(grpcCode: invalidArgument, message: "kelson: unknown permission type \(type)")
    }

    /// A cap on what clients can make Kelson store (etcd has none).
    public static func authLimit(_ what: String, _ maximum: Int) -> EtcdWireError {
        EtcdWireError(grpcCode: resourceExhausted, message: "kelson: too many \(what) (at most \(maximum))")
    }
}

extension EtcdWireError {
    /// The text of grpc-go's `status.Error(...).Error()`, which etcd puts into some messages (a
    /// refused watch's `cancel_reason`): `rpc error: code = PermissionDenied desc = etcdserver: ...`.
    public var goErrorDescription: String {
        let names = [
            "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
            "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
            "Internal", "Unavailable", "DataLoss", "Unauthenticated",
        ]
        let name = names.indices.contains(grpcCode) ? names[grpcCode] : "Code(\(grpcCode))"
        return "rpc error: code = \(name) desc = \(message)"
    }
}
