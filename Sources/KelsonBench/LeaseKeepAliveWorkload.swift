import EtcdAPI
import Foundation

/// `lease-keepalive`: every client grants one lease before the clock starts, then each request is one
/// LeaseKeepAlive round trip on the client's own keep-alive stream (as clientv3's KeepAlive keeps one stream;
/// etcd's tool opens a stream per request with KeepAliveOnce).
public struct LeaseKeepAliveWorkload: Workload {
    public init() {}
    public var name: String { "lease-keepalive" }

    public func makeClient(_ index: Int, _ context: LoadContext) async throws -> ClientStep {
        let connection = context.connection(forClient: index)
        var grant = Etcdserverpb_LeaseGrantRequest()
        grant.ttl = 60
        let granted: Etcdserverpb_LeaseGrantResponse = try await context.call(connection, Requests.leaseGrant, grant)
        var keepAlive = Etcdserverpb_LeaseKeepAliveRequest()
        keepAlive.id = granted.id
        let message: [UInt8] = try keepAlive.serializedBytes()
        let stream = try await connection.openStream(Requests.leaseKeepAlive)
        var responses = stream.responses.makeAsyncIterator()
        return { _ in
            try await stream.send(message)
            guard let bytes = try await responses.next() else { throw BenchError("the keep-alive stream ended") }
            let answer = try Etcdserverpb_LeaseKeepAliveResponse(serializedBytes: bytes)
            guard answer.ttl > 0 else { throw BenchError("lease \(granted.id) expired or was not found") }
            return "keepalive"
        }
    }
}

/// A benchmark failure with a message for the report.
public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
