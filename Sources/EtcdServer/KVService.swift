import EtcdAPI
import GRPCWire
import RevisionLog

/// etcd's `KV` service over the core `Store` (etcd `v3rpc/key.go`). Each handler: convert and
/// validate, authorize, delegate to the store, map the error, fill the header. A write carries the condition it was
/// authorized under, which the committer checks again when it applies the write (etcd checks permissions at apply
/// time too).
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
            quota.admit(cost: SpaceQuota.cost(message), refuse: { respond(.failure($0)) }) { [self] in
                put(message, call, respond: respond)
            }
        }
        router.registerUnary("/etcdserverpb.KV/DeleteRange", Etcdserverpb_DeleteRangeRequest.self) {
            [self] message, call, respond in
            delete(message, call, respond: respond)
        }
        router.registerUnary("/etcdserverpb.KV/Txn", Etcdserverpb_TxnRequest.self) { [self] message, call, respond in
            quota.admit(cost: SpaceQuota.cost(message), refuse: { respond(.failure($0)) }) { [self] in
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
        write(
            call, AuthRequirement.requirements(of: request),
            { [store] in store.put(request, condition: $0, completion: $1) },
            answer: Conversions.putResponse, revision: \.revision, respond: respond)
    }

    private func delete(
        _ message: Etcdserverpb_DeleteRangeRequest, _ call: GRPCUnaryCall,
        respond: @escaping @Sendable (Result<Etcdserverpb_DeleteRangeResponse, GRPCStatus>) -> Void
    ) {
        if let error = checkSize(call.request.count) { return respond(.failure(error)) }
        let request = Conversions.deleteRequest(message)
        write(
            call, AuthRequirement.requirements(of: request),
            { [store] in store.delete(request, condition: $0, completion: $1) },
            answer: Conversions.deleteResponse, revision: \.revision, respond: respond)
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
        write(
            call, AuthRequirement.requirements(of: request),
            { [store] in store.txn(request, condition: $0, completion: $1) },
            answer: { Conversions.txnResponse($0) }, revision: \.revision, respond: respond)
    }

    /// Authorizes a write, hands it to the store with the condition it was authorized under (checked again when it is
    /// applied), and answers with its response, the header at the write's revision.
    private func write<Outcome: Sendable, Response: HeaderedResponse>(
        _ call: GRPCUnaryCall, _ requirements: [AuthRequirement],
        _ submit:
            @escaping @Sendable (WriteCondition?, @escaping @Sendable (Result<Outcome, StoreError>) -> Void) ->
            Void,
        answer: @escaping @Sendable (Outcome) -> Response, revision: KeyPath<Outcome, Int64> & Sendable,
        respond: @escaping @Sendable (Result<Response, GRPCStatus>) -> Void
    ) {
        auth.authorize(call.metadata, requirements) { [identity] denied, condition in
            if let denied { return respond(.failure(denied.grpcStatus)) }
            submit(condition) { result in
                respond(
                    result.map { outcome in
                        var response = answer(outcome)
                        response.header = identity.header(revision: outcome[keyPath: revision])
                        return response
                    }.mapError(GRPCStatus.init))
            }
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

/// A response with etcd's header (filled by `KVService.write`).
protocol HeaderedResponse {
    var header: Etcdserverpb_ResponseHeader { get set }
}

extension Etcdserverpb_PutResponse: HeaderedResponse {}
extension Etcdserverpb_DeleteRangeResponse: HeaderedResponse {}
extension Etcdserverpb_TxnResponse: HeaderedResponse {}
