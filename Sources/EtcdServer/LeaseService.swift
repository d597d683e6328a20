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
            quota.admit(cost: SpaceQuota.leaseOverhead, refuse: { respond(.failure($0)) }) {
                grant(request, respond: respond)
            }
        }
        router.registerUnary(
            "/etcdserverpb.Lease/LeaseRevoke", Etcdserverpb_LeaseRevokeRequest.self, auth: auth,
            requires: { .writeLeaseKeys(leaseID: $0.id) }
        ) { [self] request, _, respond in
            Task {
                do throws(StoreError) {
                    let revision = try await store.revokeLease(id: request.id)
                    var response = Etcdserverpb_LeaseRevokeResponse()
                    response.header = identity.header(revision: revision)
                    respond(.success(response))
                } catch {
                    respond(.failure(GRPCStatus(error)))
                }
            }
        }
        router.registerUnary(
            "/etcdserverpb.Lease/LeaseTimeToLive", Etcdserverpb_LeaseTimeToLiveRequest.self, auth: auth,
            requires: { $0.keys ? .readLeaseKeys(leaseID: $0.id) : nil }
        ) { [self] request, _, respond in
            store.offload({ [self] in respond(timeToLive(request)) }, refused: { respond(.failure(GRPCStatus($0))) })
        }
        router.registerUnary("/etcdserverpb.Lease/LeaseLeases", Etcdserverpb_LeaseLeasesRequest.self) {
            [self] _, _, respond in
            store.offload({ [self] in respond(leases()) }, refused: { respond(.failure(GRPCStatus($0))) })
        }
        router.registerStreaming("/etcdserverpb.Lease/LeaseKeepAlive") { [self] call in try await keepAlive(call) }
    }

    private func grant(
        _ request: Etcdserverpb_LeaseGrantRequest,
        respond: @escaping @Sendable (Result<Etcdserverpb_LeaseGrantResponse, GRPCStatus>) -> Void
    ) {
        Task {
            do throws(StoreError) {
                let result = try await store.grantLease(id: request.id, ttl: request.ttl)
                var response = Etcdserverpb_LeaseGrantResponse()
                response.header = identity.header(revision: result.revision)
                response.id = result.lease.id
                response.ttl = result.lease.ttl
                respond(.success(response))
            } catch {
                respond(.failure(GRPCStatus(error)))
            }
        }
    }
    private func leases() -> Result<Etcdserverpb_LeaseLeasesResponse, GRPCStatus> {
        do throws(StoreError) {
            var response = Etcdserverpb_LeaseLeasesResponse()
            response.header = identity.header(revision: store.revision)
            response.leases = try store.leaseIDs.map { id in
                var status = Etcdserverpb_LeaseStatus()
                status.id = id
                return status
            }
            return .success(response)
        } catch {
            return .failure(GRPCStatus(error))
        }
    }

    /// An unknown lease is not an error here: etcd answers TTL -1.
    private func timeToLive(
        _ request: Etcdserverpb_LeaseTimeToLiveRequest
    ) -> Result<Etcdserverpb_LeaseTimeToLiveResponse, GRPCStatus> {
        do throws(StoreError) {
            let revision = store.revision
            var response = Etcdserverpb_LeaseTimeToLiveResponse()
            response.header = identity.header(revision: revision)
            response.id = request.id
            if let status = try store.leaseTimeToLive(id: request.id, keys: request.keys) {
                response.ttl = status.remaining
                response.grantedTtl = status.granted
                response.keys = status.keys.map { Data($0) }
            } else {
                response.ttl = -1
            }
            return .success(response)
        } catch {
            return .failure(GRPCStatus(error))
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
                response.ttl = try await store.offloaded { [store] () throws(StoreError) in
                    try store.renewLease(id: request.id)
                }
            } catch {
                throw GRPCStatus(error)
            }
            try await call.send(try response.serializedBytes())
        }
    }
}
