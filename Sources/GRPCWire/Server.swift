import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Settings for a `GRPCServer`.
public struct GRPCServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    /// 0 picks a free port (see `GRPCServer.start()`'s result).
    public var port: Int = 2379
    /// When set, connections use TLS. The context is made by the caller and must advertise ALPN "h2"
    /// (`TLSConfiguration.applicationProtocols = ["h2", "http/1.1"]`): gRPC clients insist on it; "http/1.1"
    /// lets HTTP/1-only clients reach the HTTP routes.
    public var tls: NIOSSLContext? = nil
    /// Largest request message accepted; larger ones fail with `.resourceExhausted`
    /// "grpc: received message larger than max (N vs. M)" as in grpc-go (whose server default is 4 MiB; etcd
    /// uses 1.5 MiB + gRPC overhead).
    public var maxReceiveMessageBytes: Int = 2 * 1024 * 1024
    /// Advertised in SETTINGS_MAX_CONCURRENT_STREAMS.
    public var maxConcurrentStreamsPerConnection: Int = 1000
    /// Connections beyond this are closed as soon as they are accepted.
    public var maxConnections: Int = 10_000
    /// How long `shutdownGracefully` lets in-flight calls run after GOAWAY.
    public var gracefulShutdownTimeout: Duration = .seconds(10)
    /// A new connection that has not shown its protocol (HTTP/2 preface or an HTTP/1 request) this long after
    /// being accepted, TLS handshake included, is closed.
    public var protocolDetectionTimeout: Duration = .seconds(10)
    /// An HTTP/1 connection that sends nothing for this long is closed.
    public var httpIdleTimeout: Duration = .seconds(30)
    /// Event loops to run on; nil creates a one-thread group, owned (and shut down) by the server.
    public var eventLoopGroup: (any EventLoopGroup)? = nil

    public init() {}
}

/// A gRPC server over HTTP/2 (libnghttp2) on SwiftNIO. The same port answers the router's plain HTTP routes over
/// HTTP/1.x (each connection's first bytes decide, see `ProtocolSniffer`).
public final class GRPCServer: Sendable {
    private enum Phase {
        case idle
        case running(group: any EventLoopGroup, ownsGroup: Bool, listener: (any Channel)?)
        case stopping
        case stopped
    }

    private struct State {
        var phase = Phase.idle
        var connections: [ObjectIdentifier: any Channel] = [:]
        var localAddress: SocketAddress?
    }

    private let configuration: GRPCServerConfiguration
    private let router: GRPCServerRouter
    private let state = Mutex(State())

    public init(configuration: GRPCServerConfiguration, router: GRPCServerRouter) {
        self.configuration = configuration
        self.router = router
    }

    /// The bound address once started.
    public var localAddress: SocketAddress? { state.withLock { $0.localAddress } }

    /// Binds and starts serving; returns the bound address (so port 0 works).
    public func start() async throws -> SocketAddress {
        let group = configuration.eventLoopGroup ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let ownsGroup = configuration.eventLoopGroup == nil
        let started = state.withLock { state -> Bool in
            guard case .idle = state.phase else { return false }
            state.phase = .running(group: group, ownsGroup: ownsGroup, listener: nil)
            return true
        }
        guard started else {
            if ownsGroup { try? await group.shutdownGracefully() }
            throw GRPCStatus(code: .failedPrecondition, message: "server already started")
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { [self] channel in initializeConnection(channel) }
        let listener: any Channel
        do {
            listener = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            state.withLock { $0.phase = .stopped }
            if ownsGroup { try? await group.shutdownGracefully() }
            throw error
        }
        let address = listener.localAddress!
        state.withLock { state in
            state.phase = .running(group: group, ownsGroup: ownsGroup, listener: listener)
            state.localAddress = address
        }
        return address
    }

    private func initializeConnection(_ channel: any Channel) -> EventLoopFuture<Void> {
        let accepted = state.withLock { state -> Bool in
            guard case .running = state.phase, state.connections.count < configuration.maxConnections else {
                return false
            }
            state.connections[ObjectIdentifier(channel)] = channel
            return true
        }
        guard accepted else { return channel.close() }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
        }
        let limits = ServerConnectionLimits(
            maxReceiveMessageBytes: configuration.maxReceiveMessageBytes,
            maxConcurrentStreams: configuration.maxConcurrentStreamsPerConnection)
        let setup = ServerConnectionSetup(
            router: router, limits: limits, httpIdleTimeout: configuration.httpIdleTimeout)
        let tls = configuration.tls
        let detectionTimeout = configuration.protocolDetectionTimeout
        return channel.eventLoop.makeCompletedFuture {
            let pipeline = channel.pipeline.syncOperations
            if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
            try pipeline.addHandler(ProtocolSniffer(setup: setup, timeout: detectionTimeout))
        }
    }

    /// Graceful: stop accepting, send GOAWAY to every connection, let in-flight calls finish up to
    /// `gracefulShutdownTimeout`, then close everything and (if the group was created internally) shut the group
    /// down.
    public func shutdownGracefully() async {
        let taken = state.withLock { state -> (any EventLoopGroup, Bool, (any Channel)?, [any Channel])? in
            guard case .running(let group, let ownsGroup, let listener) = state.phase else { return nil }
            state.phase = .stopping
            return (group, ownsGroup, listener, Array(state.connections.values))
        }
        guard let (group, ownsGroup, listener, connections) = taken else { return }
        try? await listener?.close()
        for connection in connections {
            connection.eventLoop.execute { Self.initiateGracefulShutdown(connection) }
        }
        if !connections.isEmpty {
            let eventLoop = connections[0].eventLoop
            let forceClose = eventLoop.scheduleTask(in: .nanoseconds(timeoutNanoseconds)) {
                for connection in connections { connection.close(promise: nil) }
            }
            try? await EventLoopFuture.andAllComplete(connections.map(\.closeFuture), on: eventLoop).get()
            forceClose.cancel()
        }
        if ownsGroup { try? await group.shutdownGracefully() }
        state.withLock { $0.phase = .stopped }
    }

    /// On the connection's event loop: GOAWAY for gRPC, close-when-idle for HTTP/1, and a plain close for a
    /// connection whose protocol is not known yet (it has sent nothing worth waiting for).
    private static func initiateGracefulShutdown(_ connection: any Channel) {
        let pipeline = connection.pipeline.syncOperations
        if let handler = try? pipeline.handler(type: ServerConnectionHandler.self) {
            handler.initiateGracefulShutdown()
        } else if let handler = try? pipeline.handler(type: HTTP1ConnectionHandler.self) {
            handler.initiateGracefulShutdown()
        } else {
            connection.close(promise: nil)
        }
    }

    private var timeoutNanoseconds: Int64 {
        max(0, GRPCTimeout.nanosecondsSaturating(configuration.gracefulShutdownTimeout))
    }
}
