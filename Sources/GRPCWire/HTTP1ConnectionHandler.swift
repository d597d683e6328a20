import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Serves `HTTPRoutes` over HTTP/1.x. Requests are answered one at a time, in order: a request that ends while
/// another is being answered waits in a small queue (pipelining; beyond `maxQueuedRequests` the connection is
/// closed). Bodies are kept up to the routes' bound, then dropped and the request marked `bodyTooLarge`; headers
/// are bounded by the decoder; a connection idle for the configured time is closed (not while a streamed
/// response is open). A streamed response goes out chunked, pulled while the channel is writable.
final class HTTP1ConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Request line and header fields, together (the decoder's limit); beyond it: 431 and close.
    static let maxHeaderBytes = 16 * 1024
    static let maxHeaderFields = 100
    /// Pipelined requests waiting for the one being answered.
    static let maxQueuedRequests = 16

    private let routes: HTTPRoutes
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var bodyTooLarge = false
    private var peerCertificate: [UInt8]?
    /// The streamed response being sent, with the request it answers.
    private var streaming: (body: HTTPBodyStream, head: HTTPRequestHead, keepAlive: Bool)?
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

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        peerCertificate = ServerConnectionHandler.peerCertificate(in: context.pipeline)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        streaming?.body.cancel()
        streaming = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        streaming?.body.cancel()
        streaming = nil
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pullStreamedBody(context) }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body = []
            bodyTooLarge = false
        case .body(let buffer):
            guard !bodyTooLarge else { return }
            if body.count + buffer.readableBytes <= routes.maxBodyBytes {
                body.append(contentsOf: buffer.readableBytesView)
            } else {
                bodyTooLarge = true
                body = []
            }
        case .end:
            guard let requestHead = head else { return }
            head = nil
            let headers = requestHead.headers.map { (name: $0.name.lowercased(), value: $0.value) }
            var request = HTTPRequest(method: requestHead.method.rawValue, target: requestHead.uri, headers: headers)
            request.body = body
            request.bodyTooLarge = bodyTooLarge
            request.peerCertificate = peerCertificate
            body = []
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
                guard !this.closing, this.context != nil else {
                    response.stream?.cancel()
                    return
                }
                // Past the body bound the rest of the connection cannot be trusted to be in step: close after.
                let keepAlive = requestHead.isKeepAlive && !this.shuttingDown && !request.bodyTooLarge
                this.respond(boundContext.value, to: requestHead, response, keepAlive: keepAlive)
                guard this.streaming == nil else { return }
                this.answering = false
                this.answerNext(boundContext.value)
            }
        }
    }

    private func respond(
        _ context: ChannelHandlerContext, to request: HTTPRequestHead, _ response: HTTPResponse, keepAlive: Bool
    ) {
        if let session = response.webSocket, let key = Self.webSocketKey(request) {
            upgrade(context, to: session, key: key, extraHeaders: response.headers)
            return
        }
        if let session = response.rawUpgrade, session.isRequested(by: request) {
            closing = true
            session.upgrade(context, headers: response.headers)
            return
        }
        // Not an upgrade request after all: the session never starts.
        response.webSocket?.finishInbound()
        response.rawUpgrade?.refused()
        var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
        let version = request.version.major == 1 ? request.version : .http1_1
        if let stream = response.stream, request.method != .HEAD {
            // HTTP/1.0 has no chunked encoding: the body ends when the connection closes.
            let keepAlive = keepAlive && version != .http1_0
            headers.remove(name: "Content-Length")
            if version != .http1_0 { headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked") }
            if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
            let status = HTTPResponseStatus(statusCode: response.status)
            // Flushed at once: a watch may say nothing for minutes, and its client waits for the head first.
            context.writeAndFlush(
                wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))),
                promise: nil)
            streaming = (stream, request, keepAlive)
            pullStreamedBody(context)
            return
        }
        response.stream?.cancel()
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
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

    /// Sends what the streamed body has queued while the channel is writable; at its end, finishes the response
    /// and moves on to the next request.
    private func pullStreamedBody(_ context: ChannelHandlerContext) {
        guard let (body, request, keepAlive) = streaming else { return }
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        while context.channel.isWritable {
            let (bytes, finished) = body.take(maximum: 64 * 1024) {
                loop.execute {
                    guard handler.value.context != nil else { return }
                    handler.value.pullStreamedBody(boundContext.value)
                }
            }
            if !bytes.isEmpty {
                context.writeAndFlush(
                    wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes))))
                )
                .whenComplete { _ in }
            }
            if finished {
                streaming = nil
                answering = false
                finishResponse(context, keepAlive: keepAlive && request.isKeepAlive)
                answerNext(context)
                return
            }
            if bytes.isEmpty { return }
        }
    }

    private func finishResponse(_ context: ChannelHandlerContext, keepAlive: Bool) {
        guard !keepAlive || shuttingDown else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        closing = true
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// The client's `Sec-WebSocket-Key` when the request asks for a WebSocket (RFC 6455 §4.2.1), else nil.
    static func webSocketKey(_ request: HTTPRequestHead) -> String? {
        guard request.method == .GET, request.version == .http1_1,
            request.headers["upgrade"].contains(where: { $0.lowercased() == "websocket" }),
            request.headers["sec-websocket-version"].first == "13",
            let key = request.headers["sec-websocket-key"].first, !key.isEmpty
        else { return nil }
        return key
    }

    /// Answers 101 and turns the connection into `session`'s: the HTTP handlers leave the pipeline, WebSocket framing
    /// (bounded frames and messages) comes in.
    private func upgrade(
        _ context: ChannelHandlerContext, to session: WebSocketSession, key: String,
        extraHeaders: [(name: String, value: String)]
    ) {
        var headers = HTTPHeaders(extraHeaders.map { ($0.name, $0.value) })
        headers.replaceOrAdd(name: "Upgrade", value: "websocket")
        headers.replaceOrAdd(name: "Connection", value: "Upgrade")
        headers.replaceOrAdd(name: "Sec-WebSocket-Accept", value: WebSocketSession.acceptValue(forKey: key))
        if let subprotocol = session.subprotocol {
            headers.replaceOrAdd(name: "Sec-WebSocket-Protocol", value: subprotocol)
        }
        closing = true
        let head = HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        let pipeline = context.pipeline
        written.futureResult.assumeIsolated().whenComplete { result in
            guard case .success = result else {
                session.finishInbound()
                return context.close(promise: nil)
            }
            do {
                let operations = pipeline.syncOperations
                try operations.addHandlers(
                    [
                        ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: Self.webSocketFrameMaximum)),
                        WebSocketFrameEncoder(),
                        NIOWebSocketFrameAggregator(
                            minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64,
                            maxAccumulatedFrameSize: Self.webSocketMessageMaximum),
                        WebSocketBridge(session: session),
                    ], position: .last)
                let encoder = try operations.handler(type: HTTPResponseEncoder.self)
                let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                let idle = try operations.handler(type: IdleStateHandler.self)
                operations.removeHandler(encoder, promise: nil)
                operations.removeHandler(decoder, promise: nil)
                operations.removeHandler(idle, promise: nil)
                operations.removeHandler(context: context, promise: nil)
            } catch {
                session.finishInbound()
                context.close(promise: nil)
            }
        }
    }

    static let webSocketFrameMaximum = 1 << 20
    static let webSocketMessageMaximum = 4 << 20

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
            // A streamed response (a watch) is not idle however long it stays quiet.
            if streaming == nil { context.close(promise: nil) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Server shutdown: close now if between requests, else after answering the current one.
    func initiateGracefulShutdown() {
        shuttingDown = true
        if head == nil, !answering, queued.isEmpty, !closing { context?.close(promise: nil) }
        // A streamed response never ends by itself (a watch): end it now; the producer sees the cancellation.
        if let (body, _, _) = streaming, let context {
            streaming = nil
            body.cancel()
            finishResponse(context, keepAlive: false)
        }
    }
}
