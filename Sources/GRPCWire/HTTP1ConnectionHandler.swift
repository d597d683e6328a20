import NIOCore
import NIOHTTP1

/// Serves `HTTPRoutes` over HTTP/1.x. Requests are answered one at a time, in order: a request that ends while
/// another is being answered waits in a small queue (pipelining; beyond `maxQueuedRequests` the connection is
/// closed). Bodies are counted and dropped; headers are bounded by the decoder; a connection idle for the configured
/// time is closed.
final class HTTP1ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Request line and header fields, together (the decoder's limit); beyond it: 431 and close.
    static let maxHeaderBytes = 16 * 1024
    static let maxHeaderFields = 100
    /// Request body bytes read and dropped; beyond it: 413 and close.
    static let maxBodyBytes = 64 * 1024
    /// Pipelined requests waiting for the one being answered.
    static let maxQueuedRequests = 16

    private let routes: HTTPRoutes
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    /// A response with `Connection: close` is on its way; everything after it is ignored.
    private var closing = false
    private var shuttingDown = false
    private var context: ChannelHandlerContext?
    /// Set while a handler is answering; requests that end meanwhile wait in `queued`.
    private var answering = false
    private var queued: [(head: HTTPRequestHead, request: HTTPRequest)] = []

    init(routes: HTTPRoutes) {
        self.routes = routes
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            bodyBytes = 0
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
            if bodyBytes > Self.maxBodyBytes, let requestHead = head {
                head = nil
                respond(context, to: requestHead, .error(status: 413, "http: request body too large"), keepAlive: false)
            }
        case .end:
            guard let requestHead = head else { return }
            head = nil
            let headers = requestHead.headers.map { (name: $0.name.lowercased(), value: $0.value) }
            let request = HTTPRequest(method: requestHead.method.rawValue, target: requestHead.uri, headers: headers)
            guard queued.count < Self.maxQueuedRequests else {
                closing = true
                context.close(promise: nil)
                return
            }
            queued.append((requestHead, request))
            answerNext(context)
        }
    }

    /// Answers the oldest queued request unless one is being answered; the handler may answer from any thread.
    private func answerNext(_ context: ChannelHandlerContext) {
        guard !answering, !closing, !queued.isEmpty else { return }
        let (requestHead, request) = queued.removeFirst()
        answering = true
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        routes.answer(request) { response in
            loop.execute {
                let this = handler.value
                this.answering = false
                guard !this.closing, this.context != nil else { return }
                let keepAlive = requestHead.isKeepAlive && !this.shuttingDown
                this.respond(boundContext.value, to: requestHead, response, keepAlive: keepAlive)
                this.answerNext(boundContext.value)
            }
        }
    }

    private func respond(
        _ context: ChannelHandlerContext, to request: HTTPRequestHead, _ response: HTTPResponse, keepAlive: Bool
    ) {
        var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        let version = request.version.major == 1 ? request.version : .http1_1
        if !keepAlive {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if version == .http1_0 {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
        let status = HTTPResponseStatus(statusCode: response.status)
        let responseHead = HTTPResponseHead(version: version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if request.method != .HEAD, !response.body.isEmpty {
            let body = context.channel.allocator.buffer(bytes: response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        guard !keepAlive else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        closing = true
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Parse errors: 431 for oversized headers, 400 otherwise (Go's server answers the same), then close.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !closing, let parseError = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        var response = HTTPResponse.error(status: 400, "400 Bad Request")
        if case .headerOverflow = parseError {
            response = .error(status: 431, "431 Request Header Fields Too Large")
        }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
        respond(context, to: head, response, keepAlive: false)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Server shutdown: close now if between requests, else after answering the current one.
    func initiateGracefulShutdown() {
        shuttingDown = true
        if head == nil, !answering, queued.isEmpty, !closing { context?.close(promise: nil) }
    }
}
