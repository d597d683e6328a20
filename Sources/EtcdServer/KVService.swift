import EtcdAPI
import GRPCWire
import RevisionLog

/// etcd's `KV` service over the core `Store` (etcd `v3rpc/key.go`). Each handler: convert and
/// validate, delegate to the store, map the error, fill the header.
final class KVService: Sendable {
    private let store: Store
    private let identity: ServerIdentity
    private let maximumRequestBytes: Int

    init(store: Store, identity: ServerIdentity, maximumRequestBytes: Int) {
        self.store = store
        self.identity = identity
        self.maximumRequestBytes = maximumRequestBytes
    }

    func register(into router: inout GRPCServerRouter) {
        router.registerUnary("/etcdserverpb.KV/Range", Etcdserverpb_RangeRequest.self) { [self] message, _, respond in
            respond(range(message))
        }
        router.registerUnary("/etcdserverpb.KV/Put", Etcdserverpb_PutRequest.self) { [self] message, call, respond in
            put(message, size: call.request.count, respond: respond)
        }
        router.registerUnary("/etcdserverpb.KV/DeleteRange", Etcdserverpb_DeleteRangeRequest.self) {
            [self] message, call, respond in
            delete(message, size: call.request.count, respond: respond)
        }
        router.registerUnary("/etcdserverpb.KV/Txn", Etcdserverpb_TxnRequest.self) { [self] message, call, respond in
            txn(message, size: call.request.count, respond: respond)
        }
        router.registerUnary("/etcdserverpb.KV/Compact", Etcdserverpb_CompactionRequest.self) {
            [self] message, _, respond in
            compact(message, respond: respond)
        }
    }

    private func range(_ message: Etcdserverpb_RangeRequest) -> Result<Etcdserverpb_RangeResponse, GRPCStatus> {
        do throws(StoreError) {
            var response = Conversions.rangeResponse(try store.range(try Conversions.rangeRequest(message)))
            response.header = identity.header(revision: response.header.revision)
            return .success(response)
        } catch {
            return .failure(GRPCStatus(error))
        }
    }

    private func put(
        _ message: Etcdserverpb_PutRequest, size: Int,
        respond: @escaping @Sendable (Result<Etcdserverpb_PutResponse, GRPCStatus>) -> Void
    ) {
        if let error = checkSize(size) { return respond(.failure(error)) }
        store.put(Conversions.putRequest(message)) { [identity] result in
            respond(
                result.map { result in
                    var response = Conversions.putResponse(result)
                    response.header = identity.header(revision: result.revision)
                    return response
                }.mapError(GRPCStatus.init))
        }
    }

    private func delete(
        _ message: Etcdserverpb_DeleteRangeRequest, size: Int,
        respond: @escaping @Sendable (Result<Etcdserverpb_DeleteRangeResponse, GRPCStatus>) -> Void
    ) {
        if let error = checkSize(size) { return respond(.failure(error)) }
        store.delete(Conversions.deleteRequest(message)) { [identity] result in
            respond(
                result.map { result in
                    var response = Conversions.deleteResponse(result)
                    response.header = identity.header(revision: result.revision)
                    return response
                }.mapError(GRPCStatus.init))
        }
    }

    private func txn(
        _ message: Etcdserverpb_TxnRequest, size: Int,
        respond: @escaping @Sendable (Result<Etcdserverpb_TxnResponse, GRPCStatus>) -> Void
    ) {
        if let error = checkSize(size) { return respond(.failure(error)) }
        let request: TxnRequest
        do throws(StoreError) { request = try Conversions.txnRequest(message) } catch {
            return respond(.failure(GRPCStatus(error)))
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
        _ message: Etcdserverpb_CompactionRequest,
        respond: @escaping @Sendable (Result<Etcdserverpb_CompactionResponse, GRPCStatus>) -> Void
    ) {
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
