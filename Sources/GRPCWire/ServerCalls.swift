import NIOCore
import Synchronization

/// How calls, whose handlers run on other threads, reach their connection's handler on its event loop. Once the
/// connection has closed nothing more is sent there: a streaming handler may run on after that, and the loop may be
/// shut down by then (a server that owns its event loop group shuts it down once its connections have closed),
/// where a task would be dropped with NIO's "Cannot schedule tasks on an EventLoop that has already shut down".
final class ServerConnectionLink: Sendable {
    let eventLoop: any EventLoop
    /// Nil once the connection has closed (which also ends the handler <-> link cycle).
    private let handler: Mutex<NIOLoopBound<ServerConnectionHandler>?>

    init(_ handler: ServerConnectionHandler, eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.handler = Mutex(NIOLoopBound(handler, eventLoop: eventLoop))
    }

    /// Runs `body` with the handler on its event loop: inline when already there, otherwise after one hop. Returns
    /// false, and does nothing, once the connection has closed.
    @discardableResult
    func run(_ body: @escaping @Sendable (ServerConnectionHandler) -> Void) -> Bool {
        if eventLoop.inEventLoop {
            guard let handler = handler.withLock({ $0 }) else { return false }
            body(handler.value)
            return true
        }
        // Enqueued under the lock: `close()` (on the loop, before the channel's close future completes) cannot
        // slip in between the check and the hop, so the loop is still running when the task arrives.
        return handler.withLock { handler in
            guard let handler else { return false }
            eventLoop.execute { body(handler.value) }
            return true
        }
    }

    /// The connection is gone (on the event loop).
    func close() {
        handler.withLock { $0 = nil }
    }
}

/// One unary call on the server. Thread-safe; `respond` may be called once from any thread; later calls are
/// ignored.
public final class GRPCUnaryCall: Sendable {
    public let path: String
    /// The request message bytes (without the 5-byte gRPC prefix).
    public let request: [UInt8]
    public let metadata: GRPCMetadata
    /// From the client's `grpc-timeout`.
    public let deadline: ContinuousClock.Instant?

    let streamID: Int32
    private let connection: ServerConnectionLink
    private let responded = Atomic<Bool>(false)
    private let cancelled = Atomic<Bool>(false)

    init(
        path: String, request: [UInt8], metadata: GRPCMetadata, deadline: ContinuousClock.Instant?,
        streamID: Int32, connection: ServerConnectionLink
    ) {
        self.path = path
        self.request = request
        self.metadata = metadata
        self.deadline = deadline
        self.streamID = streamID
        self.connection = connection
        ServerMetrics.started(path: path, streaming: false)
    }

    /// True once the client reset the stream, the deadline passed or the connection closed.
    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Completes the call: a message with status OK, or a status. Runs inline when called on the connection's
    /// event loop, otherwise hops there once.
    public func respond(_ result: Result<[UInt8], GRPCStatus>) {
        guard responded.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        let code: GRPCStatus.Code
        switch result {
        case .success: code = .ok
        case .failure(let status): code = status.code
        }
        ServerMetrics.handled(path: path, streaming: false, code: code)
        connection.run { $0.completeUnary(self, result) }
    }

    /// Marks the call cancelled; returns false when it had already been answered.
    @discardableResult
    func markCancelled() -> Bool {
        cancelled.store(true, ordering: .releasing)
        return responded.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}

/// One streaming call on the server (bidirectional and server-streaming RPCs).
public final class GRPCStreamingCall: Sendable {
    public let path: String
    public let metadata: GRPCMetadata
    public let deadline: ContinuousClock.Instant?

    let streamID: Int32
    private let connection: ServerConnectionLink
    let inbound: InboundMessageBuffer
    let budget = OutboundBudget()
    private let cancelled = Atomic<Bool>(false)

    init(
        path: String, metadata: GRPCMetadata, deadline: ContinuousClock.Instant?, streamID: Int32,
        connection: ServerConnectionLink
    ) {
        self.path = path
        self.metadata = metadata
        self.deadline = deadline
        self.streamID = streamID
        self.connection = connection
        self.inbound = InboundMessageBuffer { [connection] in
            connection.run { $0.inboundDemand(streamID: streamID) }
        }
        ServerMetrics.started(path: path, streaming: true)
    }

    /// Incoming messages; finishes when the client half-closes; throws `GRPCStatus(.cancelled, ...)` when the
    /// call is reset or cancelled. Bounded: the stream's flow-control window is not returned to the client while
    /// more than about 1 MiB is buffered.
    public var requests: GRPCMessageStream { GRPCMessageStream(buffer: inbound) }

    /// True once the client reset the stream, the deadline passed or the connection closed.
    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Sends one message; suspends while more than a bound of bytes is queued unsent (backpressure); throws
    /// `GRPCStatus(.cancelled, ...)` if the call is gone.
    public func send(_ message: [UInt8]) async throws {
        if isCancelled { throw GRPCStatus.streamCancelled }
        if budget.charge(messageBytes: message.count) {
            // Fast path: no suspension. Should the call be gone by then, the message is dropped and the next
            // send throws.
            connection.run { $0.enqueue(message, for: self, continuation: nil) }
            return
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let sent = connection.run { $0.enqueue(message, for: self, continuation: continuation) }
            if !sent { continuation.resume(throwing: GRPCStatus.streamCancelled) }
        }
    }

    /// Ends the call with `status` once queued messages are sent (called when the handler returns or throws).
    func finish(_ status: GRPCStatus) {
        ServerMetrics.handled(path: path, streaming: true, code: status.code)
        connection.run { $0.finishStreaming(self, status) }
    }

    func markCancelled(_ status: GRPCStatus) {
        cancelled.store(true, ordering: .releasing)
        inbound.fail(status)
    }
}
