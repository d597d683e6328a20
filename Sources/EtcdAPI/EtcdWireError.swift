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
    private static let canceled = 1, invalidArgument = 3, deadlineExceeded = 4, notFound = 5
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
    public static let noLeader = EtcdWireError(grpcCode: unavailable, message: "etcdserver: no leader")
    public static let notCapable = EtcdWireError(grpcCode: failedPrecondition, message: "etcdserver: not capable")
    public static let stopped = EtcdWireError(grpcCode: unavailable, message: "etcdserver: server stopped")
    public static let timeout = EtcdWireError(grpcCode: unavailable, message: "etcdserver: request timed out")
    public static let corrupt = EtcdWireError(grpcCode: dataLoss, message: "etcdserver: corrupt cluster")
    public static let canceledRequest = EtcdWireError(grpcCode: canceled, message: "etcdserver: request canceled")
    public static let contextDeadlineExceeded = EtcdWireError(
        grpcCode: deadlineExceeded, message: "etcdserver: context deadline exceeded")
}
