import EtcdAPI
import GRPCWire
import RevisionLog

/// etcd's `Cluster` service. Kelson runs as one member per database (several Kelson processes
/// share a database, not a raft log), so the membership is this member, and changing it is
/// refused with an explanation instead of etcd's raft reconfiguration.
final class ClusterService: Sendable {
    private let store: Store
    private let identity: ServerIdentity
    private let clientURLs: [String]
    private let peerURLs: [String]

    static let singleMember = GRPCStatus(
        code: .failedPrecondition,
        message: "kelson: membership cannot change: Kelson runs as one member per database "
            + "(to scale out, run several Kelson processes on one PostgreSQL database)")

    init(store: Store, identity: ServerIdentity, clientURLs: [String], peerURLs: [String]) {
        self.store = store
        self.identity = identity
        self.clientURLs = clientURLs
        self.peerURLs = peerURLs
    }

    func register(into router: inout GRPCServerRouter) {
        router.registerUnary("/etcdserverpb.Cluster/MemberList", Etcdserverpb_MemberListRequest.self) {
            [self] _, _, respond in
            var response = Etcdserverpb_MemberListResponse()
            response.header = identity.header(revision: store.revision)
            response.members = [member]
            respond(.success(response))
        }
        router.registerUnary("/etcdserverpb.Cluster/MemberAdd", Etcdserverpb_MemberAddRequest.self) { _, _, respond in
            respond(Result<Etcdserverpb_MemberAddResponse, GRPCStatus>.failure(Self.singleMember))
        }
        router.registerUnary("/etcdserverpb.Cluster/MemberRemove", Etcdserverpb_MemberRemoveRequest.self) {
            [self] request, _, respond in
            respond(Result<Etcdserverpb_MemberRemoveResponse, GRPCStatus>.failure(refusal(for: request.id)))
        }
        router.registerUnary("/etcdserverpb.Cluster/MemberUpdate", Etcdserverpb_MemberUpdateRequest.self) {
            [self] request, _, respond in
            respond(Result<Etcdserverpb_MemberUpdateResponse, GRPCStatus>.failure(refusal(for: request.id)))
        }
        router.registerUnary("/etcdserverpb.Cluster/MemberPromote", Etcdserverpb_MemberPromoteRequest.self) {
            [self] request, _, respond in
            // This member is a voting member already, so etcd's own answer fits.
            let error = request.id == identity.memberID ? EtcdWireError.memberNotLearner : .memberNotFound
            respond(Result<Etcdserverpb_MemberPromoteResponse, GRPCStatus>.failure(error.grpcStatus))
        }
    }

    private var member: Etcdserverpb_Member {
        var member = Etcdserverpb_Member()
        member.id = identity.memberID
        member.name = identity.name
        member.clientUrls = clientURLs
        member.peerUrls = peerURLs
        return member
    }

    /// An unknown member gets etcd's own error; this member gets the explanation.
    private func refusal(for id: UInt64) -> GRPCStatus {
        id == identity.memberID ? Self.singleMember : EtcdWireError.memberNotFound.grpcStatus
    }
}
