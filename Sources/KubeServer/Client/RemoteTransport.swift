import Foundation
import GRPCWire
import KubeAPI
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// `KubeClient` to an API server over HTTPS (HTTP/1.1, one connection per request, `Connection: close`), with a
/// bearer token: how `kelson agent` on another machine talks to `kelson server`. A watch's body is handed on as it
/// arrives, with backpressure (the next read waits until the reader took the last chunk); other bodies are read
/// whole, up to `bodyMaximum`.
public struct RemoteTransport: KubeTransport {
    public static let bodyMaximum = 64 << 20

    let host: String
    let port: Int
    let token: String?
    let tls: NIOSSLContext
    let serverHostname: String?

    /// `server` is `https://host:port`; `certificateAuthorityPEM` the cluster CA to verify it against, or nil to skip
    /// verification (`--insecure-skip-tls-verify`).
    public init(server: String, token: String?, certificateAuthorityPEM: String?) throws {
        guard let url = URL(string: server), url.scheme == "https", let host = url.host else {
            throw RemoteTransportError("--server \(server): use https://HOST:PORT")
        }
        self.host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        port = url.port ?? 6443
        self.token = token
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.applicationProtocols = ["http/1.1"]
        if let certificateAuthorityPEM {
            let certificates = try NIOSSLCertificate.fromPEMBytes(Array(certificateAuthorityPEM.utf8))
            configuration.trustRoots = .certificates(certificates)
        } else {
            configuration.certificateVerification = .none
        }
        tls = try NIOSSLContext(configuration: configuration)
        let isAddress = (try? SocketAddress(ipAddress: self.host, port: 0)) != nil
        serverHostname = isAddress ? nil : self.host
    }

    public func send(_ request: HTTPRequest) async -> HTTPResponse {
        do {
            return try await exchange(request)
        } catch {
            let status: JSONValue = [
                "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
                "message": .string("\(error)"), "reason": "ServiceUnavailable", "code": 503,
            ]
            return HTTPResponse(status: 503, headers: [("Content-Type", "application/json")], body: status.serialized())
        }
    }

    private func exchange(_ request: HTTPRequest) async throws -> HTTPResponse {
        let streaming = request.query.split(separator: "&").contains("watch=true")
        let promise = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: HTTPResponse.self)
        let tls = tls
        let serverHostname = serverHostname
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    try pipeline.addHTTPClientHandlers()
                    try pipeline.addHandler(ResponseReader(promise: promise, streaming: streaming))
                }
            }
            .connect(host: host, port: port).get()
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Content-Length", value: String(request.body.count))
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in request.headers { headers.add(name: name, value: value) }
        let target = request.query.isEmpty ? request.path : request.path + "?" + request.query
        let head = HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: request.method), uri: target, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if !request.body.isEmpty {
            channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: request.body))), promise: nil)
        }
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        return try await promise.futureResult.get()
    }
}

public struct RemoteTransportError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Reads one response: the head, then the body whole (bounded) or, for a watch, into an `HTTPBodyStream` in order
/// through one writer task; reading the socket pauses while chunks wait for the reader.
private final class ResponseReader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<HTTPResponse>
    private let streaming: Bool
    private var status = 0
    private var headers: [(name: String, value: String)] = []
    private var body: [UInt8] = []
    private var chunks: AsyncStream<[UInt8]>.Continuation?
    private let outstanding = ManagedAtomicCounter()
    private var answered = false

    init(promise: EventLoopPromise<HTTPResponse>, streaming: Bool) {
        self.promise = promise
        self.streaming = streaming
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            headers = head.headers.map { ($0.name, $0.value) }
            if streaming, status == 200 { startStream(context) }
        case .body(let buffer):
            let bytes = Array(buffer.readableBytesView)
            if let chunks {
                outstanding.add(1)
                chunks.yield(bytes)
            } else {
                guard body.count + bytes.count <= RemoteTransport.bodyMaximum else {
                    fail(context, RemoteTransportError("response body over \(RemoteTransport.bodyMaximum) bytes"))
                    return
                }
                body += bytes
            }
        case .end:
            chunks?.finish()
            chunks = nil
            if !answered {
                answered = true
                promise.succeed(HTTPResponse(status: status, headers: headers, body: body))
            }
            context.close(promise: nil)
        }
    }

    private func startStream(_ context: ChannelHandlerContext) {
        let stream = HTTPBodyStream()
        var response = HTTPResponse(status: status, headers: headers)
        response.stream = stream
        answered = true
        promise.succeed(response)
        let channel = context.channel
        stream.onCancel { channel.close(promise: nil) }
        let (pending, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        chunks = continuation
        let outstanding = outstanding
        Task {
            for await chunk in pending {
                do {
                    try await stream.write(chunk)
                } catch {
                    channel.close(promise: nil)
                    break
                }
                // Caught up: let the socket be read again (the event loop orders this after any pause below).
                if outstanding.add(-1) == 0 { channel.setOption(.autoRead, value: true).whenComplete { _ in } }
            }
            stream.finish()
        }
    }

    /// Chunks wait for the reader: pause reading the socket until the writer task caught up.
    func channelReadComplete(context: ChannelHandlerContext) {
        if outstanding.value > 0 { context.channel.setOption(.autoRead, value: false).whenComplete { _ in } }
    }

    func channelInactive(context: ChannelHandlerContext) {
        chunks?.finish()
        chunks = nil
        if !answered {
            answered = true
            promise.fail(RemoteTransportError("the API server closed the connection"))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, error)
    }

    private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
        if !answered {
            answered = true
            promise.fail(error)
        }
        chunks?.finish()
        chunks = nil
        context.close(promise: nil)
    }
}

/// Chunks handed to the writer task and not yet taken by the reader.
private final class ManagedAtomicCounter: Sendable {
    private let count = Atomic<Int>(0)
    @discardableResult
    func add(_ delta: Int) -> Int { count.add(delta, ordering: .acquiringAndReleasing).newValue }
    var value: Int { count.load(ordering: .acquiring) }
}
