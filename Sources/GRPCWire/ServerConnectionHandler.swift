import CNGHTTP2
import NIOCore
import NIOSSL

struct ServerConnectionLimits: Sendable {
    var maxReceiveMessageBytes: Int
    var maxConcurrentStreams: Int
}

/// One server connection: an nghttp2 server session inside a NIO channel handler. All state is confined to the
/// channel's event loop. Unary requests are decoded and handed to their handler on this loop, synchronously;
/// `GRPCUnaryCall.respond` comes back here (inline or with one hop).
final class ServerConnectionHandler: HTTP2SessionHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Request header bytes accepted per stream (name + value + 32 per field, as HTTP/2 counts them).
    static let maxHeaderListBytes = 64 * 1024

    let router: GRPCServerRouter
    let limits: ServerConnectionLimits
    private(set) var session: OpaquePointer?
    private(set) var context: ChannelHandlerContext?
    /// What this connection's calls hold; closed with the connection.
    private(set) var link: ServerConnectionLink?
    var streams: [Int32: ServerStream] = [:]
    /// Unary requests completed during one `mem_recv`; their handlers run once nghttp2 has returned.
    var readyUnary: [ServerStream] = []
    var output = HTTP2OutputState()
    /// The TLS client's certificate (DER), read once: the handshake is over before the first request arrives.
    private(set) var peerCertificate: [UInt8]?
    private(set) var shutdownPhase = ShutdownPhase.serving

    enum ShutdownPhase { case serving, noticeSent, goawaySent }

    let responseHeaders = [staticHeader(":status", "200"), staticHeader("content-type", "application/grpc")]
    let okTrailers = [staticHeader("grpc-status", "0")]

    init(router: GRPCServerRouter, limits: ServerConnectionLimits) {
        self.router = router
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        link = ServerConnectionLink(self, eventLoop: context.eventLoop)
        peerCertificate = Self.peerCertificate(in: context.pipeline)
        let session = HTTP2Session.make(isServer: true, userData: Unmanaged.passUnretained(self).toOpaque()) {
            Self.setCallbacks($0)
        }
        self.session = session
        HTTP2Session.submitSettings(
            session,
            [
                (NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, UInt32(clamping: limits.maxConcurrentStreams)),
                (NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, HTTP2Constants.initialStreamWindowBytes),
            ])
        if context.channel.isActive { outputChanged() }
    }

    /// The DER bytes of the certificate the TLS client presented, if any (nil without TLS).
    static func peerCertificate(in pipeline: ChannelPipeline) -> [UInt8]? {
        guard let tls = try? pipeline.syncOperations.handler(type: NIOSSLServerHandler.self) else { return nil }
        return try? tls.peerCertificate?.toDERBytes()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        teardown()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        outputChanged()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        teardown()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session else { return }
        output.inReadBurst = true
        let result = HTTP2Session.receive(session, unwrapInboundIn(data))
        if result < 0 {
            // Bad preface or a flood: nghttp2 may have queued a GOAWAY; send it and close.
            _ = HTTP2Session.drainOutput(session, into: context)
            context.flush()
            closeAfterWrites()
            return
        }
        dispatchReadyUnaryCalls()
        outputChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// nghttp2 may have queued a GOAWAY before failing: send what was written, then close.
    func outputFailed(_ error: Int) {
        context?.flush()
        closeAfterWrites()
    }

    /// Connection gone: every open call is cancelled and can no longer reach this handler; the session is deleted
    /// before the handler can go away, so the unretained `user_data` pointer never dangles.
    private func teardown() {
        link?.close()
        let open = streams
        streams = [:]
        readyUnary.removeAll()
        output.deferredForWritability.removeAll()
        for stream in open.values { closed(stream, status: .streamCancelled) }
        if let session {
            nghttp2_session_del(session)
            self.session = nil
        }
    }

    // MARK: Graceful shutdown

    /// Two-step GOAWAY like grpc-go: a shutdown notice (last-stream-id 2^31-1) and a PING; once the PING is
    /// acknowledged (or after 1 s) the final GOAWAY names the last stream we processed. Streams the client started
    /// in between are still served; the connection closes when the last one ends.
    func initiateGracefulShutdown() {
        guard let session, let context, shutdownPhase == .serving else { return }
        shutdownPhase = .noticeSent
        _ = nghttp2_submit_shutdown_notice(session)
        _ = nghttp2_submit_ping(session, HTTP2Constants.flagNone, nil)
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) {
            self.submitFinalGoaway()
            self.outputChanged()
        }
        outputChanged()
    }

    /// Also called from inside nghttp2's callbacks, so it only submits; the caller drains.
    func submitFinalGoaway() {
        guard let session, shutdownPhase == .noticeSent else { return }
        shutdownPhase = .goawaySent
        let lastStreamID = nghttp2_session_get_last_proc_stream_id(session)
        _ = nghttp2_submit_goaway(session, HTTP2Constants.flagNone, lastStreamID, HTTP2Constants.noError, nil, 0)
    }

    /// The consumer of a streaming call's requests caught up: return the withheld stream window.
    func inboundDemand(streamID: Int32) {
        guard let stream = streams[streamID], stream.inboundPaused, case .streaming(let call) = stream.phase,
            !call.inbound.isPaused
        else { return }
        resumeInbound(stream)
    }
}
