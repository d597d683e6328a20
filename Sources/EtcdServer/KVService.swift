import EtcdAPI
import GRPCWire
import RevisionLog

/// etcd's `KV` service over the core `Store` (etcd `v3rpc/key.go`). Each handler: convert and
/// validate, delegate to the store, map the error, fill the header.
final class KVService: Sendable {
    private let store: Store
    private let identity: ServerIdentity
    private let maximumRequestBytes: Int
    private let auth: AuthStore
    private let quota: SpaceQuota

    init(store: Store, identity: ServerIdentity, maximumRequestBytes: Int, auth: AuthStore, quota: SpaceQuota) {
        self.store = store
        self.identity = identity
        self.maximumRequestBytes = maximumRequestBytes
        self.auth = auth
        self.quota = quota
    }

    func register(into router: inout GRPCServerRouter) {
        router.registerUnary("/etcdserverpb.KV/Range") { [self] call in
            let message: Etcdserverpb_RangeRequest
            do {
                message = try Etcdserverpb_RangeRequest(serializedBytes: call.request)
            } catch {
                let status = GRPCStatus(code: .internalError, message: "grpc: error unmarshalling request: \(error)")
                return call.respond(.failure(status))
            }
            range(message, call, respond: call.respond)
        }
        // etcd checks the quota before anything else (`v3rpc/quota.go` wraps the KV server).
        router.registerUnary("/etcdserverpb.KV/Put", Etcdserverpb_PutRequest.self) { [self] message, call, respond in
            quota.admit(cost: SpaceQuota.cost(message), refuse: { respond(.failure($0)) }) {
                put(message, call, respond: respond)
            }
        }
        router.registerUnary("/etcdserverpb.KV/DeleteRange", Etcdserverpb_DeleteRangeRequest.self) {
            [self] message, call, respond in
            delete(message, call, respond: respond)
        }
        router.registerUnary("/etcdserverpb.KV/Txn", Etcdserverpb_TxnRequest.self) { [self] message, call, respond in
            quota.admit(cost: SpaceQuota.cost(message), refuse: { respond(.failure($0)) }) {
                txn(message, call, respond: respond)
            }
        }
        router.registerUnary("/etcdserverpb.KV/Compact", Etcdserverpb_CompactionRequest.self) {
            [self] message, call, respond in
            compact(message, call, respond: respond)
        }
    }

    /// Answered once everything the read saw is durable (`Store.range(_:completion:)`), encoded by
    /// `RangeResponseEncoder`.
    private func range(
        _ message: Etcdserverpb_RangeRequest, _ call: GRPCUnaryCall,
        respond: @escaping @Sendable (Result<[UInt8], GRPCStatus>) -> Void
    ) {
        let request: RangeRequest
        do throws(StoreError) { request = try Conversions.rangeRequest(message) } catch {
            return respond(.failure(GRPCStatus(error)))
        }
        if let denied = auth.authorize(call.metadata, .read(request.range)) {
            return respond(.failure(denied.grpcStatus))
        }
        // The store picks the thread (`Store.range(_:completion:)`); the answer is encoded on it too.
        store.range(request) { [identity] result in
            respond(
                result.map { RangeResponseEncoder.encode($0, header: identity.header(revision: $0.revision)) }
                    .mapError(GRPCStatus.init))
        }
    }

    private func put(
        _ message: Etcdserverpb_PutRequest, _ call: GRPCUnaryCall,
        respond: @escaping @Sendable (Result<Etcdserverpb_PutResponse, GRPCStatus>) -> Void
    ) {
        if let error = checkSize(call.request.count) { return respond(.failure(error)) }
        let request = Conversions.putRequest(message)
        if let denied = auth.authorize(call.metadata, AuthRequirement.requirements(of: request)) {
            return respond(.failure(denied.grpcStatus))
        }
        store.put(request) { [identity] result in
            respond(
                result.map { result in
                    var response = Conversions.putResponse(result)
                    response.header = identity.header(revision: result.revision)
                    return response
                }.mapError(GRPCStatus.init))
        }
    }

    private func delete(
        _ message: Etcdserverpb_DeleteRangeRequest, _ call: GRPCUnaryCall,
        respond: @escaping @Sendable (Result<Etcdserverpb_DeleteRangeResponse, GRPCStatus>) -> Void
    ) {
        if let error = checkSize(call.request.count) { return respond(.failure(error)) }
        let request = Conversions.deleteRequest(message)
        if let denied = auth.authorize(call.metadata, AuthRequirement.requirements(of: request)) {
            return respond(.failure(denied.grpcStatus))
        }
        store.delete(request) { [identity] result in
            respond(
                result.map { result in
                    var response = Conversions.deleteResponse(result)
                    response.header = identity.header(revision: result.revision)
                    return response
                }.mapError(GRPCStatus.init))
        }
    }

    private func txn(
        _ message: Etcdserverpb_TxnRequest, _ call: GRPCUnaryCall,
        respond: @escaping @Sendable (Result<Etcdserverpb_TxnResponse, GRPCStatus>) -> Void
    ) {
        if let error = checkSize(call.request.count) { return respond(.failure(error)) }
        let request: TxnRequest
        do throws(StoreError) { request = try Conversions.txnRequest(message) } catch {
            return respond(.failure(GRPCStatus(error)))
        }
        if let denied = auth.authorize(call.metadata, AuthRequirement.requirements(of: request)) {
            return respond(.failure(denied.grpcStatus))
        }
        store.txn(request) { [identity] result in
            respond(
                result.map { result in
                    var response = Conversions.txnResponse(result)
                    response.header = identity.header(revision: result.revision)
                    return response
                }.mapError(GRPCStatus.init))
        }
    }

    private func compact(
        _ message: Etcdserverpb_CompactionRequest, _ call: GRPCUnaryCall,
        respond: @escaping @Sendable (Result<Etcdserverpb_CompactionResponse, GRPCStatus>) -> Void
    ) {
        // etcd checks only the token: compaction needs no permission.
        if let denied = auth.authorize(call.metadata, .validToken) { return respond(.failure(denied.grpcStatus)) }
        store.compact(revision: message.revision, physical: message.physical) { [identity] result in
            respond(
                result.map { result in
                    var response = Etcdserverpb_CompactionResponse()
                    response.header = identity.header(revision: result.revision)
                    return response
                }.mapError(GRPCStatus.init))
        }
    }

    /// etcd limits the marshalled raft request (the client's request plus a small envelope of
    /// about 18 bytes) to `--max-request-bytes`.
    private func checkSize(_ size: Int) -> GRPCStatus? {
        size + 18 > maximumRequestBytes ? GRPCStatus(StoreError.requestTooLarge) : nil
    }
}
