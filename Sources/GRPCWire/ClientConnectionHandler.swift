import CNGHTTP2
import NIOCore

/// Client connection settings the handler needs.
struct ClientConnectionSettings: Sendable {
    var authority: String
    var usesTLS: Bool
    var maxReceiveMessageBytes: Int
    var connectTimeout: Duration
    var keepaliveInterval: Duration?
    var keepaliveTimeout: Duration
}

/// One client connection: an nghttp2 client session inside a NIO channel handler, multiplexing calls as
/// streams. Event loop only; `GRPCClient` reaches it through `NIOLoopBound`.
final class ClientConnectionHandler: HTTP2SessionHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State { case connecting, ready, draining, closed }

    let settings: ClientConnectionSettings
    private(set) var session: OpaquePointer?
    private(set) var context: ChannelHandlerContext?
    var state = State.connecting
    var streams: [Int32: ClientStreamState] = [:]
    var output = HTTP2OutputState()
    /// Completed when the server's SETTINGS arrive (the server speaks HTTP/2) or the connection fails.
    let ready: EventLoopPromise<Void>
    /// Why the connection is unusable, reported to every later call.
    var closeStatus = GRPCStatus(code: .unavailable, message: "connection closed")
    private var keepaliveTask: Scheduled<Void>?
    private var keepaliveTimeoutTask: Scheduled<Void>?
    private var readyTimeoutTask: Scheduled<Void>?

    let requestHeaders: [nghttp2_nv]
    let requestHeadersAfterPseudo = [
        staticHeader("content-type", "application/grpc"), staticHeader("te", "trailers"),
        staticHeader("user-agent", "kelson-grpcwire/1"),
    ]

    init(settings: ClientConnectionSettings, eventLoop: any EventLoop) {
        self.settings = settings
        self.ready = eventLoop.makePromise()
        self.requestHeaders = [
            staticHeader(":method", "POST"),
            settings.usesTLS ? staticHeader(":scheme", "https") : staticHeader(":scheme", "http"),
        ]
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let session = HTTP2Session.make(isServer: false, userData: Unmanaged.passUnretained(self).toOpaque()) {
            Self.setCallbacks($0)
        }
        self.session = session
        HTTP2Session.submitSettings(
            session,
            [
                (NGHTTP2_SETTINGS_ENABLE_PUSH, 0),
                (NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, HTTP2Constants.initialStreamWindowBytes),
            ])
        if context.channel.isActive { channelBecameActive(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        teardown()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        channelBecameActive(context: context)
        context.fireChannelActive()
    }

    private func channelBecameActive(context: ChannelHandlerContext) {
        guard readyTimeoutTask == nil else { return }
        let timeout = max(0, GRPCTimeout.nanosecondsSaturating(settings.connectTimeout))
        readyTimeoutTask = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(timeout)) {
            guard self.state == .connecting else { return }
            self.fail(GRPCStatus(code: .unavailable, message: "timed out waiting for the server's HTTP/2 settings"))
        }
        outputChanged()  // the client preface and our SETTINGS
    }

    func channelInactive(context: ChannelHandlerContext) {
        teardown()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session else { return }
        output.inReadBurst = true
        if HTTP2Session.receive(session, unwrapInboundIn(data)) < 0 {
            fail(GRPCStatus(code: .unavailable, message: "HTTP/2 protocol error from server"))
            return
        }
        outputChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(GRPCStatus(code: .unavailable, message: "connection error: \(error)"))
    }

    /// Closes the connection; every call fails with `status`.
    func fail(_ status: GRPCStatus) {
        if state != .closed { closeStatus = status }
        context?.close(promise: nil)
    }

    func outputFailed(_ error: Int) {
        fail(
            GRPCStatus(
                code: .unavailable, message: "HTTP/2 session error: \(String(cString: nghttp2_strerror(Int32(error))))")
        )
    }

    private func teardown() {
        state = .closed
        keepaliveTask?.cancel()
        keepaliveTimeoutTask?.cancel()
        readyTimeoutTask?.cancel()
        ready.fail(closeStatus)
        let open = streams
        streams = [:]
        output.deferredForWritability.removeAll()
        for stream in open.values { complete(stream, closeStatus) }
        if let session {
            nghttp2_session_del(session)
            self.session = nil
        }
    }

    // MARK: Keepalive

    /// The server's SETTINGS arrived: the connection is usable.
    func becameReady() {
        guard state == .connecting else { return }
        state = .ready
        readyTimeoutTask?.cancel()
        ready.succeed()
        scheduleKeepalive()
    }

    private func scheduleKeepalive() {
        guard let interval = settings.keepaliveInterval, let context, state != .closed else { return }
        let nanoseconds = max(1_000_000, GRPCTimeout.nanosecondsSaturating(interval))
        keepaliveTask = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanoseconds)) {
            self.sendKeepalivePing()
        }
    }

    private func sendKeepalivePing() {
        guard let session, let context, state != .closed else { return }
        _ = nghttp2_submit_ping(session, HTTP2Constants.flagNone, nil)
        let nanoseconds = max(0, GRPCTimeout.nanosecondsSaturating(settings.keepaliveTimeout))
        keepaliveTimeoutTask = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanoseconds)) {
            self.fail(
                GRPCStatus(code: .unavailable, message: "keepalive ping failed to receive ACK within timeout"))
        }
        outputChanged()
    }

    /// A PING ACK arrived (we only send keepalive pings).
    func receivedPingAck() {
        guard let timeoutTask = keepaliveTimeoutTask else { return }
        timeoutTask.cancel()
        keepaliveTimeoutTask = nil
        scheduleKeepalive()
    }
}
