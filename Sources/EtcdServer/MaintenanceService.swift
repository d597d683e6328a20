import EtcdAPI
import GRPCWire
import RevisionLog

/// The parts of etcd's `Maintenance` and `Cluster` services and the standard gRPC health service
/// that a single-member Kelson answers today: Status, Alarm (no alarms are ever raised yet),
/// MemberList, and Health/Check. (etcd `v3rpc/maintenance.go`, `member.go`.)
final class MaintenanceService: Sendable {
    /// What Status reports as the server version. Kubernetes enables watch progress requests only
    /// for versions it knows have them fixed (>= 3.5.13), and Kelson behaves like 3.6 there.
    static let reportedVersion = "3.6.0"

    private let store: Store
    private let identity: ServerIdentity
    private let clientURLs: [String]
    private let peerURLs: [String]

    init(store: Store, identity: ServerIdentity, clientURLs: [String], peerURLs: [String]) {
        self.store = store
        self.identity = identity
        self.clientURLs = clientURLs
        self.peerURLs = peerURLs
    }

    func register(into router: inout GRPCServerRouter) {
        router.registerUnary("/etcdserverpb.Maintenance/Status", Etcdserverpb_StatusRequest.self) {
            [self] _, _, respond in
            respond(status())
        }
        router.registerUnary("/etcdserverpb.Maintenance/Alarm", Etcdserverpb_AlarmRequest.self) {
            [self] _, _, respond in
            var response = Etcdserverpb_AlarmResponse()
            response.header = identity.header(revision: store.revision)
            respond(.success(response))
        }
        router.registerUnary("/etcdserverpb.Cluster/MemberList", Etcdserverpb_MemberListRequest.self) {
            [self] _, _, respond in
            var member = Etcdserverpb_Member()
            member.id = identity.memberID
            member.name = identity.name
            member.clientUrls = clientURLs
            member.peerUrls = peerURLs
            var response = Etcdserverpb_MemberListResponse()
            response.header = identity.header(revision: store.revision)
            response.members = [member]
            respond(.success(response))
        }
        router.registerUnary("/grpc.health.v1.Health/Check", Grpc_Health_V1_HealthCheckRequest.self) { _, _, respond in
            var response = Grpc_Health_V1_HealthCheckResponse()
            response.status = .serving
            respond(.success(response))
        }
    }

    private func status() -> Result<Etcdserverpb_StatusResponse, GRPCStatus> {
        do throws(StoreError) {
            let size = try store.storageSize()
            let revision = store.revision
            var response = Etcdserverpb_StatusResponse()
            response.header = identity.header(revision: revision)
            response.version = Self.reportedVersion
            response.dbSize = size.totalBytes
            response.dbSizeInUse = size.inUseBytes
            response.leader = identity.memberID
            // No raft: the revision is the applied index, which only grows.
            response.raftIndex = UInt64(max(revision, 0))
            response.raftAppliedIndex = UInt64(max(revision, 0))
            response.raftTerm = identity.raftTerm
            return .success(response)
        } catch {
            return .failure(GRPCStatus(error))
        }
    }
}
