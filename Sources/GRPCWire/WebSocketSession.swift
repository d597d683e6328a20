import Crypto
import NIOCore
import NIOWebSocket
import Synchronization

/// A WebSocket an HTTP handler accepted (RFC 6455 over HTTP/1.1, as kubectl's exec, attach and port-forward
/// use): answer the upgrade request with `HTTPResponse.webSocket(session)`, then read `messages` and `send`.
/// Bounded with backpressure: once `pauseThreshold` messages wait to be read, the socket is not read until the
/// reader is down to `resumeThreshold` (the peer's writes wait in TCP); should a single read still bring more than
/// `inboundMessagesMaximum`, the connection is closed with 1008 (policy violation) rather than buffering without end.
public final class WebSocketSession: Sendable {
    public enum Message: Sendable, Equatable {
        case binary([UInt8])
        case text(String)
    }

    public struct Closed: Error, Sendable {}

    /// The subprotocol agreed on (`v5.channel.k8s.io`), sent back in `Sec-WebSocket-Protocol`.
    public let subprotocol: String?
    public let inboundMessagesMaximum: Int
    /// Messages as they arrive; finishes when the peer closes or the connection ends.
    public var messages: Messages { Messages(stream: stream, session: self) }
    private let stream: AsyncStream<Message>
    private let continuation: AsyncStream<Message>.Continuation
    private let channel = Mutex<(any Channel)?>(nil)
    /// Messages received and not yet read.
    private let waiting = Atomic<Int>(0)
    public static let pauseThreshold = 32
    public static let resumeThreshold = 8

    public init(subprotocol: String?, inboundMessagesMaximum: Int = 1024) {
        self.subprotocol = subprotocol
        self.inboundMessagesMaximum = inboundMessagesMaximum
        (stream, continuation) = AsyncStream.makeStream(
            of: Message.self, bufferingPolicy: .bufferingOldest(inboundMessagesMaximum))
    }

    /// The inbound messages, telling the session as each is taken (reading resumes as the reader catches up).
    public struct Messages: AsyncSequence, Sendable {
        let stream: AsyncStream<Message>
        let session: WebSocketSession

        public func makeAsyncIterator() -> Iterator { Iterator(base: stream.makeAsyncIterator(), session: session) }

        public struct Iterator: AsyncIteratorProtocol {
            var base: AsyncStream<Message>.Iterator
            let session: WebSocketSession

            public mutating func next() async -> Message? {
                guard let message = await base.next() else { return nil }
                session.taken()
                return message
            }
        }
    }

    private func taken() {
        let left = waiting.subtract(1, ordering: .acquiringAndReleasing).newValue
        if left == Self.resumeThreshold, let channel = channel.withLock({ $0 }) {
            channel.setOption(.autoRead, value: true).whenComplete { _ in }
            channel.read()
        }
    }

    /// Sends one message; returns once it is written. Throws `Closed` after the connection ended.
    public func send(_ message: Message) async throws {
        guard let channel = channel.withLock({ $0 }) else { throw Closed() }
        let bytes: [UInt8]
        let opcode: WebSocketOpcode
        switch message {
        case .binary(let data): (bytes, opcode) = (data, .binary)
        case .text(let text): (bytes, opcode) = (Array(text.utf8), .text)
        }
        let frame = WebSocketFrame(fin: true, opcode: opcode, data: channel.allocator.buffer(bytes: bytes))
        do {
            try await channel.writeAndFlush(frame)
        } catch {
            throw Closed()
        }
    }

    /// Sends a close frame with `code` and closes the connection.
    /// Sends a close frame with `code`, then waits (up to `closeTimeout`) for the peer to close: closing the socket
    /// while the peer's messages (a stdin still being sent) are unread would reset the connection, and the peer
    /// could lose the end of what it had not read yet.
    public func close(code: UInt16 = 1000) {
        guard let channel = channel.withLock({ $0 }) else { return }
        closeSent.store(true, ordering: .releasing)
        var data = channel.allocator.buffer(capacity: 2)
        data.writeInteger(code)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
        channel.writeAndFlush(frame).whenComplete { result in
            guard case .success = result else {
                channel.close(promise: nil)
                return
            }
            channel.eventLoop.scheduleTask(in: Self.closeTimeout) { channel.close(promise: nil) }
        }
    }

    /// How long `close` waits for the peer's close before closing the connection itself.
    public static let closeTimeout: TimeAmount = .seconds(5)
    let closeSent = Atomic<Bool>(false)

    // MARK: The connection's side

    func attach(_ channel: any Channel) { self.channel.withLock { $0 = channel } }

    /// A message arrived; false when too many wait unread (the caller closes the connection).
    func received(_ message: Message) -> Bool {
        switch continuation.yield(message) {
        case .enqueued:
            let now = waiting.add(1, ordering: .acquiringAndReleasing).newValue
            if now >= Self.pauseThreshold, let channel = channel.withLock({ $0 }) {
                channel.setOption(.autoRead, value: false).whenComplete { _ in }
            }
            return true
        case .dropped, .terminated:
            return false
        @unknown default:
            return false
        }
    }

    func finishInbound() {
        channel.withLock { $0 = nil }
        continuation.finish()
    }

    /// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key` (RFC 6455 §4.2.2).
    static func acceptValue(forKey key: String) -> String {
        let digest = Insecure.SHA1.hash(data: Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))
        return Base64.encode(Array(digest))
    }
}

/// Frames to and from a `WebSocketSession`: text and binary messages (fragments already joined by
/// `NIOWebSocketFrameAggregator`) go to the session; pings get pongs; a close is answered and ends it.
final class WebSocketBridge: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let session: WebSocketSession

    init(session: WebSocketSession) { self.session = session }

    func handlerAdded(context: ChannelHandlerContext) { session.attach(context.channel) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .text:
            var payload = frame.unmaskedData
            let bytes = payload.readBytes(length: payload.readableBytes) ?? []
            let message: WebSocketSession.Message =
                frame.opcode == .text ? .text(String(decoding: bytes, as: UTF8.self)) : .binary(bytes)
            if !session.received(message) { session.close(code: 1008) }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            // The answer to our own close: the handshake is done.
            if session.closeSent.load(ordering: .acquiring) {
                session.finishInbound()
                context.close(promise: nil)
                return
            }
            let reply = WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            session.finishInbound()
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        session.finishInbound()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        session.finishInbound()
        context.close(promise: nil)
    }
}

/// Standard base64 (with padding), for the accept value.
enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value = UInt32(0)
            for (offset, byte) in chunk.enumerated() { value |= UInt32(byte) << (16 - 8 * offset) }
            for position in 0..<4 {
                if position <= chunk.count {
                    out.append(alphabet[Int((value >> (18 - 6 * UInt32(position))) & 0x3F)])
                } else {
                    out.append(UInt8(ascii: "="))
                }
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
