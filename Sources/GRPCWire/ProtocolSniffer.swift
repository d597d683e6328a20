import NIOCore
import NIOHTTP1

/// What a server connection needs once its protocol is known.
struct ServerConnectionSetup: Sendable {
    let router: GRPCServerRouter
    let limits: ServerConnectionLimits
    let httpIdleTimeout: Duration

    /// gRPC: one nghttp2 session for the connection.
    func installHTTP2(_ pipeline: ChannelPipeline.SynchronousOperations) throws {
        try pipeline.addHandler(ServerConnectionHandler(router: router, limits: limits))
    }

    /// Plain HTTP/1.x: NIO's parser with bounded headers, an idle timer, and the routes.
    func installHTTP1(_ pipeline: ChannelPipeline.SynchronousOperations) throws {
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderFieldSize = HTTP1ConnectionHandler.maxHeaderBytes
        decoderLimits.maxHeaderListSize = HTTP1ConnectionHandler.maxHeaderBytes
        decoderLimits.maxHeaderFieldCount = HTTP1ConnectionHandler.maxHeaderFields
        let decoder = HTTPRequestDecoder(
            leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop, limitConfiguration: decoderLimits)
        let idle = TimeAmount.nanoseconds(max(1, GRPCTimeout.nanosecondsSaturating(httpIdleTimeout)))
        try pipeline.addHandler(HTTPResponseEncoder())
        try pipeline.addHandler(
            ByteToMessageHandler(decoder, maximumBufferSize: 2 * HTTP1ConnectionHandler.maxHeaderBytes))
        try pipeline.addHandler(IdleStateHandler(readTimeout: idle))
        try pipeline.addHandler(HTTP1ConnectionHandler(routes: router.http))
    }
}

/// The first handler of every server connection (after TLS). It reads until the bytes either are the HTTP/2
/// client preface (gRPC, handed to nghttp2) or cannot be (HTTP/1.x), then replaces itself with the matching
/// handlers and passes the bytes on. etcd does the same with cmux, which is how one port serves gRPC and
/// `/health`. A connection that sends nothing recognisable within `timeout` (TLS handshake included) is closed.
final class ProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Detected: Equatable { case http2, http1 }

    static let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let setup: ServerConnectionSetup
    private let timeout: Duration
    private var buffered: ByteBuffer?
    private var timeoutTask: Scheduled<Void>?

    init(setup: ServerConnectionSetup, timeout: Duration) {
        self.setup = setup
        self.timeout = timeout
    }

    /// The protocol the bytes so far announce, or nil while they are a strict prefix of the HTTP/2 preface.
    static func detect(_ bytes: ByteBuffer) -> Detected? {
        let count = min(bytes.readableBytes, http2Preface.count)
        let matches = bytes.withUnsafeReadableBytes { raw in raw.prefix(count).elementsEqual(http2Preface.prefix(count))
        }
        guard matches else { return .http1 }
        return count == http2Preface.count ? .http2 : nil
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let nanoseconds = max(1, GRPCTimeout.nanosecondsSaturating(timeout))
        timeoutTask = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanoseconds)) {
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeoutTask?.cancel()
        timeoutTask = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var earlier = buffered {
            earlier.writeBuffer(&bytes)
            bytes = earlier
        }
        guard let detected = Self.detect(bytes) else {
            buffered = bytes
            return
        }
        buffered = nil
        timeoutTask?.cancel()
        timeoutTask = nil
        do {
            let pipeline = context.pipeline.syncOperations
            switch detected {
            case .http2: try setup.installHTTP2(pipeline)
            case .http1: try setup.installHTTP1(pipeline)
            }
            context.fireChannelRead(wrapInboundOut(bytes))
            pipeline.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeoutTask?.cancel()
        timeoutTask = nil
        context.fireChannelInactive()
    }

    /// TLS handshake failures (no or wrong client certificate) end up here: nothing to answer, just close.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
