import EtcdAPI
import Foundation
import GRPCWire
import RevisionLog

/// etcd's `Lease` service (`v3rpc/lease.go`, `v3_server.go`) over the store's leases.
final class LeaseService: Sendable {
    private let store: Store
    private let identity: ServerIdentity
    private let auth: AuthStore
    private let quota: SpaceQuota

    init(store: Store, identity: ServerIdentity, auth: AuthStore, quota: SpaceQuota) {
        self.store = store
        self.identity = identity
        self.auth = auth
        self.quota = quota
    }

    func register(into router: inout GRPCServerRouter) {
        // Permissions as in etcd 3.4 (`v3_server.go`): grant needs a valid token, revoke write access
        // to every attached key, time-to-live with keys read access to them (etcd 3.4.26's fix).
        router.registerUnary(
            "/etcdserverpb.Lease/LeaseGrant", Etcdserverpb_LeaseGrantRequest.self, auth: auth,
            requires: { _ in .validToken }
        ) { [self] request, _, respond in
            quota.admit(cost: SpaceQuota.leaseOverhead, refuse: { respond(.failure($0)) }) { [self] in
                grant(request, respond: respond)
            }
        }
        router.registerUnary(
            "/etcdserverpb.Lease/LeaseRevoke", Etcdserverpb_LeaseRevokeRequest.self, auth: auth,
            requires: { .writeLeaseKeys(leaseID: $0.id) }
        ) { [self] request, _, respond in
            store.revokeLease(id: request.id) { [identity] result in
                respond(
                    result.map { revision in
                        var response = Etcdserverpb_LeaseRevokeResponse()
                        response.header = identity.header(revision: revision)
                        return response
                    }.mapError(GRPCStatus.init))
            }
        }
        router.registerUnary(
            "/etcdserverpb.Lease/LeaseTimeToLive", Etcdserverpb_LeaseTimeToLiveRequest.self, auth: auth,
            requires: { $0.keys ? .readLeaseKeys(leaseID: $0.id) : nil }
        ) { [self] request, _, respond in
            // The header is taken before the read, as etcd does.
            let revision = store.revision
            store.leaseTimeToLive(id: request.id, keys: request.keys) { [identity] result in
                respond(
                    result.map { status in
                        var response = Etcdserverpb_LeaseTimeToLiveResponse()
                        response.header = identity.header(revision: revision)
                        response.id = request.id
                        // An unknown lease is not an error here: etcd answers TTL -1.
                        response.ttl = status?.remaining ?? -1
                        response.grantedTtl = status?.granted ?? 0
                        response.keys = status?.keys.map { Data($0) } ?? []
                        return response
                    }.mapError(GRPCStatus.init))
            }
        }
        router.registerUnary("/etcdserverpb.Lease/LeaseLeases", Etcdserverpb_LeaseLeasesRequest.self) {
            [self] _, _, respond in
            let revision = store.revision
            store.leaseIDs { [identity] result in
                respond(
                    result.map { ids in
                        var response = Etcdserverpb_LeaseLeasesResponse()
                        response.header = identity.header(revision: revision)
                        response.leases = ids.map { id in
                            var status = Etcdserverpb_LeaseStatus()
                            status.id = id
                            return status
                        }
                        return response
                    }.mapError(GRPCStatus.init))
            }
        }
        router.registerStreaming("/etcdserverpb.Lease/LeaseKeepAlive") { [self] call in try await keepAlive(call) }
    }

    private func grant(
        _ request: Etcdserverpb_LeaseGrantRequest,
        respond: @escaping @Sendable (Result<Etcdserverpb_LeaseGrantResponse, GRPCStatus>) -> Void
    ) {
        store.grantLease(id: request.id, ttl: request.ttl) { [identity] result in
            respond(
                result.map { result in
                    var response = Etcdserverpb_LeaseGrantResponse()
                    response.header = identity.header(revision: result.revision)
                    response.id = result.lease.id
                    response.ttl = result.lease.ttl
                    return response
                }.mapError(GRPCStatus.init))
        }
    }

    /// One response per request, in order. The header is taken before the renewal, so a client
    /// never sees a successful keep-alive at a revision after the lease's revoke. An unknown or
    /// expired lease gets TTL 0, not an error; a store that cannot answer (its database away) ends the stream
    /// with its error, so the client retries rather than believing the lease gone.
    private func keepAlive(_ call: GRPCStreamingCall) async throws {
        for try await bytes in call.requests {
            guard let request = try? Etcdserverpb_LeaseKeepAliveRequest(serializedBytes: bytes) else {
                throw GRPCStatus(code: .internalError, message: "grpc: error unmarshalling request")
            }
            var response = Etcdserverpb_LeaseKeepAliveResponse()
            response.header = identity.header(revision: store.revision)
            response.id = request.id
            do throws(StoreError) {
                response.ttl = try await Store.awaiting { store.renewLease(id: request.id, completion: $0) }
            } catch {
                throw GRPCStatus(error)
            }
            try await call.send(try response.serializedBytes())
        }
    }
}
