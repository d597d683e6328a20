import Synchronization

/// A response body sent as it is produced (a Kubernetes watch, a followed log): the producer writes chunks from
/// any thread or task, the connection takes them as the peer keeps up. Bounded: `write` suspends while
/// `bufferedBytesMaximum` bytes wait, so a slow client slows its producer instead of growing memory. When the
/// client goes away (stream reset, connection closed) waiting and later writes fail and `onCancel` runs, so the
/// producer stops its own work (a watcher) promptly.
public final class HTTPBodyStream: Sendable {
    public struct Closed: Error, Sendable {}

    private struct State {
        var chunks = FIFO<[UInt8]>()
        var headOffset = 0
        var bufferedBytes = 0
        var finished = false
        var cancelled = false
        var wake: (@Sendable () -> Void)?
        var writers = FIFO<CheckedContinuation<Void, any Error>>()
        var cancelHandlers: [@Sendable () -> Void] = []
    }

    public let bufferedBytesMaximum: Int
    private let state = Mutex(State())

    public init(bufferedBytesMaximum: Int = 1 << 20) {
        self.bufferedBytesMaximum = max(1, bufferedBytesMaximum)
    }

    /// Queues `bytes`; waits first while the buffer is full. Throws `Closed` once the client has gone away.
    public func write(_ bytes: [UInt8]) async throws {
        while true {
            let outcome: (wake: (@Sendable () -> Void)?, accepted: Bool) = try state.withLock { state in
                if state.cancelled { throw Closed() }
                guard state.bufferedBytes < bufferedBytesMaximum else { return (nil, false) }
                state.chunks.append(bytes)
                state.bufferedBytes += bytes.count
                let wake = state.wake
                state.wake = nil
                return (wake, true)
            }
            if outcome.accepted {
                outcome.wake?()
                return
            }
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool = state.withLock { state in
                    if state.cancelled || state.bufferedBytes < bufferedBytesMaximum { return true }
                    state.writers.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    /// Ends the body after what is queued. Later writes are ignored.
    public func finish() {
        let wake: (@Sendable () -> Void)? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            let wake = state.wake
            state.wake = nil
            return wake
        }
        wake?()
    }

    /// True once the client has gone away.
    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Runs `handler` once when the client goes away (at once if it already has). Not run after a normal finish.
    public func onCancel(_ handler: @escaping @Sendable () -> Void) {
        let runNow: Bool = state.withLock { state in
            if state.cancelled { return true }
            state.cancelHandlers.append(handler)
            return false
        }
        if runNow { handler() }
    }

    /// For an in-process reader (no connection): the next bytes written, waiting for them; nil once the body is
    /// finished and read. Cancelling the task cancels the stream (its producer sees `onCancel`).
    public func read(maximum: Int = 64 * 1024) async -> [UInt8]? {
        while !Task.isCancelled {
            let chunk: ([UInt8], Bool)? = await withTaskCancellationHandler {
                await next(maximum: maximum)
            } onCancel: {
                cancel()
            }
            guard let (bytes, finished) = chunk else { continue }
            if !bytes.isEmpty { return bytes }
            if finished { return nil }
        }
        cancel()
        return nil
    }

    /// An in-process reader is done with the body: the producer sees the cancellation.
    public func cancelFromReader() { cancel() }

    private func next(maximum: Int) async -> ([UInt8], Bool)? {
        await withCheckedContinuation { continuation in
            let once = Mutex(false)
            let (bytes, finished) = take(maximum: maximum) {
                if once.withLock({
                    let first = !$0; $0 = true; return first
                }) {
                    continuation.resume(returning: nil)
                }
            }
            if !bytes.isEmpty || finished || isCancelled {
                if once.withLock({
                    let first = !$0; $0 = true; return first
                }) {
                    continuation.resume(returning: isCancelled ? ([], true) : (bytes, finished))
                }
            }
        }
    }

    // MARK: The connection's side

    /// Up to `maximum` bytes queued so far and whether the body is complete after them. When nothing is queued and
    /// the body is not finished, `wake` is kept and called (once, from any thread) when that changes.
    func take(maximum: Int, wake: @escaping @Sendable () -> Void) -> (bytes: [UInt8], finished: Bool) {
        let (bytes, finished, writers): ([UInt8], Bool, [CheckedContinuation<Void, any Error>]) = state.withLock {
            state in
            var bytes: [UInt8] = []
            while bytes.count < maximum, let first = state.chunks.first {
                // A chunk larger than what is asked for is handed out in pieces; `headOffset` marks the rest.
                let count = min(first.count - state.headOffset, maximum - bytes.count)
                bytes += first[state.headOffset..<state.headOffset + count]
                state.headOffset += count
                if state.headOffset == first.count {
                    _ = state.chunks.popFirst()
                    state.headOffset = 0
                }
            }
            state.bufferedBytes -= bytes.count
            let finished = state.finished && state.chunks.isEmpty
            if bytes.isEmpty && !finished { state.wake = wake }
            var writers: [CheckedContinuation<Void, any Error>] = []
            if state.bufferedBytes < bufferedBytesMaximum {
                while let writer = state.writers.popFirst() { writers.append(writer) }
            }
            return (bytes, finished, writers)
        }
        for writer in writers { writer.resume() }
        return (bytes, finished)
    }

    /// The client went away: fail waiting writers and run the cancel handlers.
    func cancel() {
        let (handlers, writers, wake):
            ([@Sendable () -> Void], [CheckedContinuation<Void, any Error>], (@Sendable () -> Void)?) = state.withLock {
                state in
                guard !state.cancelled, !(state.finished && state.chunks.isEmpty) else { return ([], [], nil) }
                state.cancelled = true
                state.chunks = FIFO()
                state.headOffset = 0
                state.bufferedBytes = 0
                let wake = state.wake
                state.wake = nil
                var writers: [CheckedContinuation<Void, any Error>] = []
                while let writer = state.writers.popFirst() { writers.append(writer) }
                let handlers = state.cancelHandlers
                state.cancelHandlers = []
                return (handlers, writers, wake)
            }
        for writer in writers { writer.resume(throwing: Closed()) }
        for handler in handlers { handler() }
        // A reader waiting in `read` wakes and sees the cancellation.
        wake?()
    }
}
