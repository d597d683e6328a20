import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The cluster DNS server: UDP and TCP on one address and port (the agent binds the bridge address, port 53),
/// answering cluster names from `ClusterDNSRecords` and forwarding the rest to the host's resolvers.
public final class ClusterDNSServer: Service, Sendable {
    private enum State {
        case idle
        case starting
        case running(udp: any Channel, tcp: any Channel, port: Int)
        case stopped
    }

    private let host: String
    private let requestedPort: Int
    private let handling: DNSQueryHandling
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State.idle)
    /// Open TCP connections; more than `tcpConnectionsMaximum` are closed on accept.
    private let tcpConnections = Atomic<Int>(0)

    static let tcpConnectionsMaximum = 128
    /// A TCP connection with no query for this long is closed (RFC 7766 6.2.3 suggests seconds).
    static let tcpIdleTimeout = TimeAmount.seconds(10)
    /// Client datagrams larger than this are cut by the kernel (and then fail to parse: FORMERR).
    static let udpReceiveBytes = 4096

    /// `upstreams` nil: the nameservers of /etc/resolv.conf other than `host` itself.
    public init(
        host: String, port: Int, records: ClusterDNSRecords, upstreams: [SocketAddress]? = nil,
        upstreamTimeout: TimeAmount = .seconds(2), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "kelson.agent.dns")
    ) {
        self.host = host
        self.requestedPort = port
        let forwarder = DNSForwarder(
            upstreams: upstreams ?? DNSForwarder.systemUpstreams(excludingHost: host), timeout: upstreamTimeout)
        self.handling = DNSQueryHandling(records: records, forwarder: forwarder)
        self.group = group
        self.logger = logger
    }

    /// The bound port (the same for UDP and TCP) once started.
    public var port: Int? {
        state.withLock { state in
            if case .running(_, _, let port) = state { port } else { nil }
        }
    }

    /// Binds UDP, then TCP on the port UDP got (with port 0, retried if another socket holds that TCP port).
    public func start() async throws {
        try state.withLock { state in
            guard case .idle = state else { throw DNSServerError(reason: "the DNS server was already started") }
            state = .starting
        }
        var attempt = 0
        while true {
            attempt += 1
            let udp: any Channel
            do {
                udp = try await udpBootstrap().bind(host: host, port: requestedPort).get()
            } catch {
                state.withLock { $0 = .idle }
                throw error
            }
            let port = udp.localAddress?.port ?? requestedPort
            do {
                let tcp = try await tcpBootstrap().bind(host: host, port: port).get()
                let keep = state.withLock { state in
                    guard case .starting = state else { return false }
                    state = .running(udp: udp, tcp: tcp, port: port)
                    return true
                }
                guard keep else {
                    // stop() came while binding.
                    try? await udp.close()
                    try? await tcp.close()
                    return
                }
                logger.info("cluster DNS listening", metadata: ["address": "\(host):\(port)"])
                return
            } catch {
                try? await udp.close()
                guard requestedPort == 0, attempt < 5 else {
                    state.withLock { $0 = .idle }
                    throw error
                }
            }
        }
    }

    /// Closes both listeners; forwards still in flight finish on their own timers and are not answered.
    public func stop() async {
        let channels: [any Channel] = state.withLock { state in
            defer { state = .stopped }
            if case .running(let udp, let tcp, _) = state { return [udp, tcp] }
            return []
        }
        for channel in channels { try? await channel.close() }
    }

    /// As a ServiceLifecycle service: listen until graceful shutdown.
    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        await stop()
    }

    private func udpBootstrap() -> DatagramBootstrap {
        let handling = self.handling
        return DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.udpReceiveBytes))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSUDPHandler(handling: handling))
                }
            }
    }

    private func tcpBootstrap() -> ServerBootstrap {
        let handling = self.handling
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                let (_, count) = tcpConnections.add(1, ordering: .relaxed)
                channel.closeFuture.whenComplete { _ in self.tcpConnections.subtract(1, ordering: .relaxed) }
                guard count <= Self.tcpConnectionsMaximum else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(IdleStateHandler(readTimeout: Self.tcpIdleTimeout))
                    // One whole message and the start of the next: a pipelining client cannot grow it further.
                    try operations.addHandler(
                        ByteToMessageHandler(
                            DNSTCPFrameDecoder(), maximumBufferSize: 2 * (2 + DNSMessage.tcpBytesMaximum)))
                    try operations.addHandler(DNSTCPHandler(handling: handling))
                }
            }
    }
}

public struct DNSServerError: Error, Sendable {
    public var reason: String
}

/// Answers each datagram to its sender.
private final class DNSUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let handling: DNSQueryHandling

    init(handling: DNSQueryHandling) { self.handling = handling }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let channel = context.channel
        let sender = envelope.remoteAddress
        handling.respond(to: Array(envelope.data.readableBytesView), overTCP: false, on: context.eventLoop)
            .whenSuccess { response in
                guard let response else { return }
                channel.writeAndFlush(
                    AddressedEnvelope(remoteAddress: sender, data: channel.allocator.buffer(bytes: response)),
                    promise: nil)
            }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP read error (e.g. an ICMP error for an earlier reply) concerns one peer: keep serving.
    }
}

/// Splits a TCP stream into messages by their two-byte length prefix (RFC 1035 4.2.2).
private struct DNSTCPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
            buffer.readableBytes >= 2 + Int(length)
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        let message = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        .needMoreData
    }
}

/// Answers each message on a connection, length-prefixed; answers may leave out of order (RFC 7766 7).
private final class DNSTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let handling: DNSQueryHandling

    init(handling: DNSQueryHandling) { self.handling = handling }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        let channel = context.channel
        handling.respond(to: Array(message.readableBytesView), overTCP: true, on: context.eventLoop)
            .whenSuccess { response in
                guard let response else { return }
                var buffer = channel.allocator.buffer(capacity: 2 + response.count)
                buffer.writeInteger(UInt16(response.count))
                buffer.writeBytes(response)
                channel.writeAndFlush(buffer, promise: nil)
            }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
