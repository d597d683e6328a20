import Synchronization

/// Incoming messages of a streaming call, in order. Finishes when the peer half-closes (or, on the client,
/// with an OK status); throws a `GRPCStatus` when the call fails or is cancelled.
///
/// Meant for one consumer at a time. Iterating from a cancelled task throws `CancellationError`.
public struct GRPCMessageStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public typealias Failure = any Error

    let buffer: InboundMessageBuffer

    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: InboundMessageBuffer
        public mutating func next() async throws -> [UInt8]? { try await buffer.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(buffer: buffer) }
}

/// The bounded buffer behind `GRPCMessageStream`. The event loop pushes; when more than `highWatermarkBytes`
/// are buffered `push` returns false and the connection stops returning flow-control window for the stream
/// (so the peer stops sending). Once the consumer drains below half of that, `onDemand` runs (on the consumer's
/// thread; it hops to the event loop) and the withheld window is returned.
final class InboundMessageBuffer: Sendable {
    static let highWatermarkBytes = 1 << 20
    /// Charged per message on top of its length, so floods of empty messages are bounded too.
    static let perMessageOverheadBytes = 32

    private struct State {
        var messages = FIFO<[UInt8]>()
        var bufferedBytes = 0
        /// nil while open; success once finished, failure once failed.
        var end: Result<Void, GRPCStatus>?
        var waiter: CheckedContinuation<[UInt8]?, any Error>?
        var producerPaused = false
        var consumerCancelled = false
    }

    private let state = Mutex(State())
    private let onDemand: @Sendable () -> Void

    init(onDemand: @escaping @Sendable () -> Void) { self.onDemand = onDemand }

    /// Appends a message; returns false when the producer should stop granting window.
    func push(_ message: [UInt8]) -> Bool {
        let (waiter, keepProducing): (CheckedContinuation<[UInt8]?, any Error>?, Bool) = state.withLock { state in
            guard state.end == nil else { return (nil, true) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, true)
            }
            state.messages.append(message)
            state.bufferedBytes += message.count + Self.perMessageOverheadBytes
            if state.bufferedBytes > Self.highWatermarkBytes { state.producerPaused = true }
            return (nil, !state.producerPaused)
        }
        waiter?.resume(returning: message)
        return keepProducing
    }

    /// Whether the consumer has fallen behind (the producer should keep withholding window).
    var isPaused: Bool { state.withLock { $0.producerPaused } }

    /// Ends the sequence after the buffered messages.
    func finish() {
        let waiter: CheckedContinuation<[UInt8]?, any Error>? = state.withLock { state in
            guard state.end == nil else { return nil }
            state.end = .success(())
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Fails the sequence: at once (dropping buffered messages) when the call was cancelled or lost, or after the
    /// buffered messages when the peer ended the call with an error status.
    func fail(_ status: GRPCStatus, discardingBuffered: Bool = true) {
        let waiter: CheckedContinuation<[UInt8]?, any Error>? = state.withLock { state in
            guard state.end == nil else { return nil }
            state.end = .failure(status)
            if discardingBuffered {
                state.messages.removeAll()
                state.bufferedBytes = 0
                state.producerPaused = false
            }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(throwing: status)
    }

    func next() async throws -> [UInt8]? {
        try Task.checkCancellation()
        let (immediate, demand) = state.withLock { state -> (Result<[UInt8]?, any Error>?, Bool) in
            state.consumerCancelled = false
            return Self.take(&state)
        }
        if demand { onDemand() }
        if let immediate { return try immediate.get() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
                let (result, demand) = state.withLock { state -> (Result<[UInt8]?, any Error>?, Bool) in
                    let (result, demand) = Self.take(&state)
                    if result != nil { return (result, demand) }
                    if state.consumerCancelled { return (.failure(CancellationError()), false) }
                    if state.waiter != nil {
                        let status = GRPCStatus(
                            code: .internalError, message: "concurrent iteration of a message stream")
                        return (.failure(status), false)
                    }
                    state.waiter = continuation
                    return (nil, false)
                }
                if demand { onDemand() }
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            let waiter: CheckedContinuation<[UInt8]?, any Error>? = state.withLock { state in
                state.consumerCancelled = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Takes the next message or the end; the Bool says whether the producer should be told to resume.
    private static func take(_ state: inout State) -> (Result<[UInt8]?, any Error>?, Bool) {
        if let message = state.messages.popFirst() {
            state.bufferedBytes -= message.count + perMessageOverheadBytes
            var demand = false
            if state.producerPaused, state.bufferedBytes <= highWatermarkBytes / 2 {
                state.producerPaused = false
                demand = true
            }
            return (.success(message), demand)
        }
        switch state.end {
        case .none: return (nil, false)
        case .success: return (.success(nil), false)
        case .failure(let status): return (.failure(status), false)
        }
    }
}
