import NIOCore
import Synchronization

/// Identifies one client call across threads: set up on the caller's side, bound to its HTTP/2 stream on the
/// event loop (stream IDs exist only once nghttp2 accepted the request).
final class ClientCallToken: Sendable {
    let streamID = Atomic<Int32>(0)
    let cancelled = Atomic<Bool>(false)
    /// Set once the call has its final status.
    let finished = Atomic<Bool>(false)
    /// Streaming calls: bytes handed to `send` and not yet sent (backpressure).
    let budget = OutboundBudget()
    /// The call's final status, once known (what `send` reports after the call ended).
    let outcome = Mutex<GRPCStatus?>(nil)
}

extension ClientCallToken {
    /// What sending on a finished call reports: its non-OK status, else `.cancelled`.
    var failure: GRPCStatus {
        let outcome = self.outcome.withLock { $0 }
        if let outcome, outcome.code != .ok { return outcome }
        return .streamCancelled
    }
}

/// Per-stream state of one client connection (event loop only).
final class ClientStreamState: HTTP2FlowControlledStream {
    enum Kind {
        /// Runs on the connection's event loop with the call's outcome.
        case unary(@Sendable (Result<[UInt8], GRPCStatus>) -> Void)
        case streaming(InboundMessageBuffer)
    }

    let id: Int32
    let token: ClientCallToken
    let kind: Kind
    var completed = false

    // Outbound.
    var outbound = OutboundMessageQueue()
    var halfCloseRequested = false
    var dataDeferred = false
    var sendWaiters = FIFO<CheckedContinuation<Void, any Error>>()

    // Inbound.
    var deframer: MessageDeframer
    var response: [UInt8]?
    var responseCount = 0
    var inboundPaused = false
    var withheldWindowBytes = 0
    var httpStatus: Int?
    var grpcStatusCode: Int?
    var grpcMessage: String?

    var timeoutTask: Scheduled<Void>?

    init(id: Int32, token: ClientCallToken, kind: Kind, maxReceiveMessageBytes: Int) {
        self.id = id
        self.token = token
        self.kind = kind
        self.deframer = MessageDeframer(limit: maxReceiveMessageBytes)
    }

    func resumeSendWaiters() {
        while let waiter = sendWaiters.popFirst() { waiter.resume() }
    }

    func failSendWaiters(_ status: GRPCStatus) {
        while let waiter = sendWaiters.popFirst() { waiter.resume(throwing: status) }
    }
}

/// A client-side streaming call (bidirectional or server-streaming).
public final class GRPCClientStream: Sendable {
    let token: ClientCallToken
    let connection: NIOLoopBound<ClientConnectionHandler>
    let inbound: InboundMessageBuffer

    init(token: ClientCallToken, connection: NIOLoopBound<ClientConnectionHandler>, inbound: InboundMessageBuffer) {
        self.token = token
        self.connection = connection
        self.inbound = inbound
    }

    deinit {
        // Dropping an unfinished stream cancels it rather than leaving it open on the server.
        if !token.finished.load(ordering: .acquiring) { cancel() }
    }

    /// Sends one message; suspends while more than a bound of bytes is queued unsent (backpressure); throws the
    /// call's status (or `.cancelled`) once the call is over.
    public func send(_ message: [UInt8]) async throws {
        let token = token
        let connection = connection
        if token.finished.load(ordering: .acquiring) { throw token.failure }
        if token.budget.charge(messageBytes: message.count) {
            // Fast path: no suspension. Should the call be over by then, the message is dropped and the next
            // send throws.
            connection.eventLoop.execute { connection.value.send(message, token: token, continuation: nil) }
            return
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            connection.eventLoop.execute {
                connection.value.send(message, token: token, continuation: continuation)
            }
        }
    }

    /// Half-closes the call (END_STREAM on our side) once queued messages are sent.
    public func finish() async throws {
        let token = token
        let connection = connection
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            connection.eventLoop.execute { connection.value.halfClose(token: token, continuation: continuation) }
        }
    }

    /// Cancels the call: RST_STREAM(CANCEL); `responses` throws `.cancelled`.
    public func cancel() {
        let token = token
        let connection = connection
        token.cancelled.store(true, ordering: .releasing)
        connection.eventLoop.execute { connection.value.cancel(token: token) }
    }

    /// Incoming messages; finishes on OK trailers; throws `GRPCStatus` on a non-OK status or connection loss.
    public var responses: GRPCMessageStream { GRPCMessageStream(buffer: inbound) }
}
