import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Settings for `GRPCClient.connect`.
public struct GRPCClientConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// When set, the connection uses TLS; the context should advertise ALPN "h2".
    public var tls: NIOSSLContext? = nil
    /// SNI and certificate hostname; defaults to `host` unless that is an IP address.
    public var serverHostname: String? = nil
    /// Bounds the TCP connect and the wait for the server's HTTP/2 SETTINGS.
    public var connectTimeout: Duration = .seconds(5)
    /// When set, the client sends PING at this interval and closes the connection if no ACK arrives within
    /// `keepaliveTimeout`.
    public var keepaliveInterval: Duration? = nil
    public var keepaliveTimeout: Duration = .seconds(20)
    /// Largest response message accepted (grpc-go's client default: `math.MaxInt32`).
    public var maxReceiveMessageBytes: Int = Int(Int32.max)
    /// Where the connection runs; nil uses `MultiThreadedEventLoopGroup.singleton` (never shut down by the
    /// client). An injected group must outlive the client.
    public var eventLoopGroup: (any EventLoopGroup)? = nil

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// A gRPC client over one HTTP/2 connection, multiplexing concurrent calls. Not reconnecting: once the
/// connection breaks, every pending and future call fails with `.unavailable`; make a new client.
public final class GRPCClient: Sendable {
    private let channel: any Channel
    private let connection: NIOLoopBound<ClientConnectionHandler>
    private let closed = Atomic<Bool>(false)

    private init(channel: any Channel, connection: NIOLoopBound<ClientConnectionHandler>) {
        self.channel = channel
        self.connection = connection
    }

    deinit {
        channel.close(promise: nil)
    }

    /// Connects and waits for the server's HTTP/2 SETTINGS. Throws `GRPCStatus(.unavailable, ...)` when it
    /// cannot connect.
    public static func connect(_ configuration: GRPCClientConfiguration) async throws -> GRPCClient {
        let group = configuration.eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        let isIPAddress = (try? SocketAddress(ipAddress: configuration.host, port: 0)) != nil
        let hostname = configuration.serverHostname ?? (isIPAddress ? nil : configuration.host)
        let settings = ClientConnectionSettings(
            authority: "\(configuration.host):\(configuration.port)", usesTLS: configuration.tls != nil,
            maxReceiveMessageBytes: configuration.maxReceiveMessageBytes,
            connectTimeout: configuration.connectTimeout, keepaliveInterval: configuration.keepaliveInterval,
            keepaliveTimeout: configuration.keepaliveTimeout)
        let tls = configuration.tls
        let timeout = max(1, GRPCTimeout.nanosecondsSaturating(configuration.connectTimeout))
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(timeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls { try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: hostname)) }
                    try pipeline.addHandler(ClientConnectionHandler(settings: settings, eventLoop: channel.eventLoop))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw GRPCStatus(code: .unavailable, message: "connection error: \(error)")
        }
        do {
            let (connection, ready) = try await channel.eventLoop.submit {
                let handler = try channel.pipeline.syncOperations.handler(type: ClientConnectionHandler.self)
                return (NIOLoopBound(handler, eventLoop: channel.eventLoop), handler.ready.futureResult)
            }.get()
            try await ready.get()
            return GRPCClient(channel: channel, connection: connection)
        } catch {
            channel.close(promise: nil)
            throw error as? GRPCStatus ?? GRPCStatus(code: .unavailable, message: "connection error: \(error)")
        }
    }

    /// Unary call. Throws `GRPCStatus`: the server's status (code and percent-decoded `grpc-message`),
    /// `.unavailable` when the connection fails or the server sent GOAWAY, `.deadlineExceeded` when `timeout`
    /// passes (RST_STREAM(CANCEL) is sent), `.cancelled` when the calling task is cancelled.
    public func unary(
        _ path: String, request: [UInt8], metadata: GRPCMetadata = GRPCMetadata(), timeout: Duration? = nil
    ) async throws -> [UInt8] {
        if closed.load(ordering: .relaxed) { throw GRPCStatus(code: .unavailable, message: "client closed") }
        let token = ClientCallToken()
        let connection = connection
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
                connection.eventLoop.execute {
                    connection.value.startUnary(
                        token: token, path: path, request: request, metadata: metadata, timeout: timeout,
                        completion: { continuation.resume(with: $0.mapError { $0 }) })
                }
            }
        } onCancel: {
            token.cancelled.store(true, ordering: .releasing)
            connection.eventLoop.execute { connection.value.cancel(token: token) }
        }
    }

    /// Unary call without a task: `completion` runs on the connection's event loop and may start the next call
    /// from there with no thread hop (the benchmark's load loops do). The call itself always starts in a later
    /// event-loop task, never inside the HTTP/2 session's callbacks. Errors as for the async form, except
    /// cancellation, which this form has no task for.
    public func unary(
        _ path: String, request: [UInt8], metadata: GRPCMetadata = GRPCMetadata(), timeout: Duration? = nil,
        completion: @escaping @Sendable (Result<[UInt8], GRPCStatus>) -> Void
    ) {
        if closed.load(ordering: .relaxed) {
            return completion(.failure(GRPCStatus(code: .unavailable, message: "client closed")))
        }
        let token = ClientCallToken()
        let connection = connection
        connection.eventLoop.execute {
            connection.value.startUnary(
                token: token, path: path, request: request, metadata: metadata, timeout: timeout,
                completion: completion)
        }
    }

    /// The event loop this client's connection runs on.
    public var eventLoop: any EventLoop { connection.eventLoop }

    /// Opens a bidirectional (or server-streaming) call. Returns once the request HEADERS are queued.
    public func openStream(
        _ path: String, metadata: GRPCMetadata = GRPCMetadata(), timeout: Duration? = nil
    ) async throws -> GRPCClientStream {
        if closed.load(ordering: .relaxed) { throw GRPCStatus(code: .unavailable, message: "client closed") }
        let token = ClientCallToken()
        let connection = connection
        let inbound = InboundMessageBuffer {
            connection.eventLoop.execute {
                connection.value.inboundDemand(streamID: token.streamID.load(ordering: .acquiring))
            }
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            connection.eventLoop.execute {
                connection.value.startStreaming(
                    token: token, path: path, metadata: metadata, timeout: timeout, inbound: inbound,
                    continuation: continuation)
            }
        }
        return GRPCClientStream(token: token, connection: connection, inbound: inbound)
    }

    /// Closes the connection; pending calls fail with `.unavailable`.
    public func close() async {
        closed.store(true, ordering: .relaxed)
        let connection = connection
        connection.eventLoop.execute {
            connection.value.fail(GRPCStatus(code: .unavailable, message: "client closed"))
        }
        try? await channel.closeFuture.get()
    }
}
