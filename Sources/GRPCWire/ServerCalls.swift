import NIOCore
import Synchronization

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
    private let connection: NIOLoopBound<ServerConnectionHandler>
    private let responded = Atomic<Bool>(false)
    private let cancelled = Atomic<Bool>(false)

    init(
        path: String, request: [UInt8], metadata: GRPCMetadata, deadline: ContinuousClock.Instant?,
        streamID: Int32, connection: NIOLoopBound<ServerConnectionHandler>
    ) {
        self.path = path
        self.request = request
        self.metadata = metadata
        self.deadline = deadline
        self.streamID = streamID
        self.connection = connection
    }

    /// True once the client reset the stream, the deadline passed or the connection closed.
    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Completes the call: a message with status OK, or a status. Runs inline when called on the connection's
    /// event loop, otherwise hops there once.
    public func respond(_ result: Result<[UInt8], GRPCStatus>) {
        guard responded.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        let eventLoop = connection.eventLoop
        if eventLoop.inEventLoop {
            connection.value.completeUnary(self, result)
        } else {
            eventLoop.execute { self.connection.value.completeUnary(self, result) }
        }
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
    private let connection: NIOLoopBound<ServerConnectionHandler>
    let inbound: InboundMessageBuffer
    let budget = OutboundBudget()
    private let cancelled = Atomic<Bool>(false)

    init(
        path: String, metadata: GRPCMetadata, deadline: ContinuousClock.Instant?, streamID: Int32,
        connection: NIOLoopBound<ServerConnectionHandler>
    ) {
        self.path = path
        self.metadata = metadata
        self.deadline = deadline
        self.streamID = streamID
        self.connection = connection
        self.inbound = InboundMessageBuffer { [connection] in
            connection.eventLoop.execute { connection.value.inboundDemand(streamID: streamID) }
        }
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
            connection.eventLoop.execute { self.connection.value.enqueue(message, for: self, continuation: nil) }
            return
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            connection.eventLoop.execute {
                self.connection.value.enqueue(message, for: self, continuation: continuation)
            }
        }
    }

    /// Ends the call with `status` once queued messages are sent (called when the handler returns or throws).
    func finish(_ status: GRPCStatus) {
        connection.eventLoop.execute { self.connection.value.finishStreaming(self, status) }
    }

    func markCancelled(_ status: GRPCStatus) {
        cancelled.store(true, ordering: .releasing)
        inbound.fail(status)
    }
}
