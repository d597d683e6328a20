import Crypto
import EtcdAPI
import Foundation
import GRPCWire
import RevisionLog

/// etcd's `Maintenance` service (`v3rpc/maintenance.go`) for a single member, plus the standard
/// gRPC health service. Work that reads or rewrites the whole database (defragment, hashes,
/// snapshots) runs on the store's maintenance thread (`Store.execute`).
final class MaintenanceService: Sendable {
    /// What Status reports as the server version. Kubernetes enables watch progress requests only
    /// for versions it knows have them fixed (>= 3.5.13), and Kelson behaves like 3.6 there.
    static let reportedVersion = "3.6.0"

    private let store: Store
    private let identity: ServerIdentity
    private let alarms: AlarmList
    private let snapshotDirectory: String
    private let auth: AuthStore

    init(store: Store, identity: ServerIdentity, alarms: AlarmList, snapshotDirectory: String, auth: AuthStore) {
        self.store = store
        self.identity = identity
        self.alarms = alarms
        self.snapshotDirectory = snapshotDirectory
        self.auth = auth
    }

    func register(into router: inout GRPCServerRouter) {
        router.registerUnary("/etcdserverpb.Maintenance/Status", Etcdserverpb_StatusRequest.self) {
            [self] _, _, respond in
            status(respond: respond)
        }
        // Permissions as in etcd 3.4 (`v3rpc/maintenance.go`): alarms need a valid token; whole-database
        // operations need root; Status and MoveLeader need nothing.
        router.registerUnary(
            "/etcdserverpb.Maintenance/Alarm", Etcdserverpb_AlarmRequest.self, auth: auth,
            requires: { _ in .validToken }
        ) { [self] request, _, respond in
            alarm(request, respond: respond)
        }
        router.registerUnary(
            "/etcdserverpb.Maintenance/Defragment", Etcdserverpb_DefragmentRequest.self, auth: auth,
            requires: { _ in .root }
        ) { [self] _, _, respond in
            // etcd answers with an empty response, without a header.
            store.defragment { respond($0.map { Etcdserverpb_DefragmentResponse() }.mapError(GRPCStatus.init)) }
        }
        router.registerUnary(
            "/etcdserverpb.Maintenance/Hash", Etcdserverpb_HashRequest.self, auth: auth, requires: { _ in .root }
        ) { [self] _, _, respond in
            store.hashKV(revision: 0) { [identity] result in
                respond(
                    result.map { hash in
                        var response = Etcdserverpb_HashResponse()
                        response.header = identity.header(revision: hash.revision)
                        response.hash = hash.hash
                        return response
                    }.mapError(GRPCStatus.init))
            }
        }
        router.registerUnary(
            "/etcdserverpb.Maintenance/HashKV", Etcdserverpb_HashKVRequest.self, auth: auth, requires: { _ in .root }
        ) { [self] request, _, respond in
            let revision = store.revision
            store.hashKV(revision: request.revision) { [identity] result in
                respond(
                    result.map { hash in
                        var response = Etcdserverpb_HashKVResponse()
                        // etcd's header carries the head revision; hash_revision the one hashed.
                        response.header = identity.header(revision: max(revision, hash.revision))
                        response.hash = hash.hash
                        response.compactRevision = hash.compactRevision
                        response.hashRevision = hash.revision
                        return response
                    }.mapError(GRPCStatus.init))
            }
        }
        router.registerUnary("/etcdserverpb.Maintenance/MoveLeader", Etcdserverpb_MoveLeaderRequest.self) {
            [self] request, _, respond in
            respond(moveLeader(to: request.targetID))
        }
        router.registerStreaming("/etcdserverpb.Maintenance/Snapshot") { [self] call in try await snapshot(call) }
        router.registerUnary("/grpc.health.v1.Health/Check", Grpc_Health_V1_HealthCheckRequest.self) { _, _, respond in
            var response = Grpc_Health_V1_HealthCheckResponse()
            response.status = .serving
            respond(.success(response))
        }
    }

    private func status(respond: @escaping @Sendable (Result<Etcdserverpb_StatusResponse, GRPCStatus>) -> Void) {
        store.storageSize { [self] size in
            alarms.current { [self] alarms in
                respond(
                    size.flatMap { size in alarms.map { (size, $0) } }.map { size, alarms in
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
                        response.errors = alarms.map(AlarmList.describe)
                        return response
                    }.mapError(GRPCStatus.init))
            }
        }
    }

    /// The only member is the leader already; any other target is not a member.
    private func moveLeader(to target: UInt64) -> Result<Etcdserverpb_MoveLeaderResponse, GRPCStatus> {
        guard target == identity.memberID else { return .failure(EtcdWireError.badLeaderTransferee.grpcStatus) }
        var response = Etcdserverpb_MoveLeaderResponse()
        response.header = identity.header(revision: store.revision)
        return .success(response)
    }

    private func alarm(
        _ request: Etcdserverpb_AlarmRequest,
        respond: @escaping @Sendable (Result<Etcdserverpb_AlarmResponse, GRPCStatus>) -> Void
    ) {
        let answer: @Sendable (Result<[Etcdserverpb_AlarmMember], StoreError>) -> Void = { [store, identity] result in
            respond(
                result.map { alarms in
                    var response = Etcdserverpb_AlarmResponse()
                    response.alarms = alarms
                    response.header = identity.header(revision: store.revision)
                    return response
                }.mapError(GRPCStatus.init))
        }
        switch request.action {
        case .get:
            alarms.current { answer($0.map { $0.filter { request.alarm == .none || $0.alarm == request.alarm } }) }
        case .activate: alarms.activate(memberID: request.memberID, alarm: request.alarm, completion: answer)
        case .deactivate: alarms.deactivate(memberID: request.memberID, alarm: request.alarm, completion: answer)
        case .UNRECOGNIZED:
            respond(.failure(GRPCStatus(code: .invalidArgument, message: "kelson: unknown alarm action")))
        }
    }

    /// Streams a consistent copy of the database in 32 KiB chunks, then its SHA-256 (see
    /// `SnapshotFile`). The copy is a temporary file, removed when the stream ends.
    private func snapshot(_ call: GRPCStreamingCall) async throws {
        if let denied = auth.authorize(call.metadata, .root) { throw denied.grpcStatus }
        let path = snapshotDirectory + "/kelson-snapshot-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        do throws(StoreError) {
            _ = try await Store.awaiting { store.snapshot(to: path, completion: $0) }
        } catch {
            throw GRPCStatus(error)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw GRPCStatus(code: .internalError, message: "kelson: snapshot file vanished")
        }
        defer { try? handle.close() }
        let total = Int(try handle.seekToEnd())
        precondition(total % 512 == 0, "a SQLite file is a whole number of pages")
        try handle.seek(toOffset: 0)
        var hash = SHA256()
        var sent = 0
        while sent < total {
            let chunk = try handle.read(upToCount: SnapshotFile.chunkSize) ?? Data()
            if chunk.isEmpty { throw GRPCStatus(code: .internalError, message: "kelson: snapshot file ended early") }
            sent += chunk.count
            hash.update(data: chunk)
            var response = Etcdserverpb_SnapshotResponse()
            response.remainingBytes = UInt64(total - sent)
            response.blob = chunk
            try await call.send(try response.serializedBytes())
        }
        var trailer = Etcdserverpb_SnapshotResponse()
        trailer.blob = Data(hash.finalize())
        try await call.send(try trailer.serializedBytes())
    }
}
