import EtcdAPI
import Foundation
import GRPCWire
import SwiftProtobuf

/// A small async client for etcd's v3 API on Kelson's gRPC layer. It speaks plain etcd gRPC, so it
/// works against Kelson and against etcd. Failures are thrown as `GRPCStatus` (code and etcd's message).
public final class EtcdClient: Sendable {
    private let connection: GRPCClient

    private init(connection: GRPCClient) { self.connection = connection }

    /// Connects to one endpoint.
    public static func connect(host: String, port: Int) async throws -> EtcdClient {
        EtcdClient(connection: try await GRPCClient.connect(GRPCClientConfiguration(host: host, port: port)))
    }

    /// Connects with a configuration of its own (TLS, timeouts).
    public static func connect(_ configuration: GRPCClientConfiguration) async throws -> EtcdClient {
        EtcdClient(connection: try await GRPCClient.connect(configuration))
    }

    /// Opens one watch (`create` sent at once); its responses come in order until the stream is cancelled.
    public func watch(_ create: Etcdserverpb_WatchCreateRequest) async throws -> EtcdWatch {
        let stream = try await connection.openStream("/etcdserverpb.Watch/Watch")
        var request = Etcdserverpb_WatchRequest()
        request.createRequest = create
        try await stream.send(try request.serializedBytes())
        return EtcdWatch(stream: stream)
    }

    public func range(_ request: Etcdserverpb_RangeRequest, timeout: Duration? = nil) async throws
        -> Etcdserverpb_RangeResponse
    {
        try await call("/etcdserverpb.KV/Range", request, timeout: timeout)
    }

    public func put(_ request: Etcdserverpb_PutRequest, timeout: Duration? = nil) async throws
        -> Etcdserverpb_PutResponse
    {
        try await call("/etcdserverpb.KV/Put", request, timeout: timeout)
    }

    public func deleteRange(
        _ request: Etcdserverpb_DeleteRangeRequest, timeout: Duration? = nil
    ) async throws -> Etcdserverpb_DeleteRangeResponse {
        try await call("/etcdserverpb.KV/DeleteRange", request, timeout: timeout)
    }

    public func txn(_ request: Etcdserverpb_TxnRequest, timeout: Duration? = nil) async throws
        -> Etcdserverpb_TxnResponse
    {
        try await call("/etcdserverpb.KV/Txn", request, timeout: timeout)
    }

    public func compact(
        _ request: Etcdserverpb_CompactionRequest, timeout: Duration? = nil
    ) async throws -> Etcdserverpb_CompactionResponse {
        try await call("/etcdserverpb.KV/Compact", request, timeout: timeout)
    }

    /// Every lease's ID (etcd 3.3 and later).
    public func leaseLeases(timeout: Duration? = nil) async throws -> Etcdserverpb_LeaseLeasesResponse {
        try await call("/etcdserverpb.Lease/LeaseLeases", Etcdserverpb_LeaseLeasesRequest(), timeout: timeout)
    }

    /// A lease's granted and remaining TTL (`ttl` is -1 when the lease does not exist).
    public func leaseTimeToLive(
        _ request: Etcdserverpb_LeaseTimeToLiveRequest, timeout: Duration? = nil
    ) async throws -> Etcdserverpb_LeaseTimeToLiveResponse {
        try await call("/etcdserverpb.Lease/LeaseTimeToLive", request, timeout: timeout)
    }

    /// Convenience: put `value` at `key`.
    @discardableResult
    public func put(_ key: String, _ value: String) async throws -> Etcdserverpb_PutResponse {
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key.utf8)
        request.value = Data(value.utf8)
        return try await put(request)
    }

    /// Convenience: the value at `key`, or nil.
    public func get(_ key: String) async throws -> Mvccpb_KeyValue? {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(key.utf8)
        return try await range(request).kvs.first
    }

    /// Any unary call by path, for services without a typed method here.
    public func call<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ path: String, _ request: Request, timeout: Duration? = nil
    ) async throws -> Response {
        let bytes: [UInt8] = try request.serializedBytes()
        let answer = try await connection.unary(path, request: bytes, timeout: timeout)
        return try Response(serializedBytes: answer)
    }

    /// Maintenance Snapshot: the server streams its database in chunks (`blob`, with `remaining_bytes`), then
    /// etcd's 32-byte SHA-256 trailer as the last chunk. `chunk` gets each response in order.
    public func snapshot(_ chunk: (Etcdserverpb_SnapshotResponse) throws -> Void) async throws {
        let stream = try await connection.openStream("/etcdserverpb.Maintenance/Snapshot", timeout: nil)
        do {
            try await stream.send(try Etcdserverpb_SnapshotRequest().serializedBytes())
            try await stream.finish()
            for try await message in stream.responses {
                try chunk(try Etcdserverpb_SnapshotResponse(serializedBytes: message))
            }
        } catch {
            stream.cancel()
            throw error
        }
    }

    public func close() async { await connection.close() }
}

/// One watch stream of `EtcdClient.watch`.
public struct EtcdWatch: Sendable {
    let stream: GRPCClientStream

    /// The next response; nil when the stream ended.
    public func next() async throws -> Etcdserverpb_WatchResponse? {
        var iterator = stream.responses.makeAsyncIterator()
        guard let bytes = try await iterator.next() else { return nil }
        return try Etcdserverpb_WatchResponse(serializedBytes: bytes)
    }

    public func cancel() { stream.cancel() }
}
