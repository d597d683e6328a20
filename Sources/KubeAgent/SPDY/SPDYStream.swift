import Synchronization

/// Why a stream read or write could not happen.
public struct SPDYStreamError: Error, Sendable, CustomStringConvertible {
    public let description: String

    static let closed = SPDYStreamError(description: "SPDY stream closed")
    static let reset = SPDYStreamError(description: "SPDY stream reset")
}

/// One SPDY stream: data in (what the peer sent, until its FIN or a reset) and data out (until ours). What came in
/// waits here up to `SPDYSession.windowBytes`; past that the session stops reading the connection until it is
/// read (a peer that ignores the window, as spdystream does, is held back rather than buffered). As data is read,
/// WINDOW_UPDATE frames give the peer its window back. Writes honour the peer's window once the peer shows it
/// keeps one (spdystream never sends WINDOW_UPDATE, so holding it to a window would stall it).
public final class SPDYStream: Sendable {
    public let id: UInt32
    /// The headers of its SYN_STREAM (for streams the peer opened) or the ones sent (for ours).
    public let headers: SPDYHeaders
    private let session: SPDYSession
    private let state: Mutex<State>

    struct State {
        var chunks: [[UInt8]] = []
        var bufferedBytes = 0
        var remoteClosed = false
        var wasReset = false
        var localClosed = false
        var reader: CheckedContinuation<[UInt8]?, Never>?
        var producer: CheckedContinuation<Void, Never>?
        var unacknowledgedBytes = 0
        var sendWindow: Int
        var enforceSendWindow: Bool
        var windowWaiter: CheckedContinuation<Void, Never>?
        var replied: Bool
        var replyWaiter: CheckedContinuation<Bool, Never>?

        /// Every waiter, to resume once the stream is over.
        mutating func takeWaiters() -> Waiters {
            defer { (reader, producer, windowWaiter, replyWaiter) = (nil, nil, nil, nil) }
            return Waiters(reader: reader, producer: producer, window: windowWaiter, reply: replyWaiter)
        }
    }

    struct Waiters {
        var reader: CheckedContinuation<[UInt8]?, Never>?
        var producer: CheckedContinuation<Void, Never>?
        var window: CheckedContinuation<Void, Never>?
        var reply: CheckedContinuation<Bool, Never>?

        func resume() {
            reader?.resume(returning: nil)
            producer?.resume()
            window?.resume()
            reply?.resume(returning: false)
        }
    }

    init(
        id: UInt32, headers: SPDYHeaders, session: SPDYSession, sendWindow: Int, enforceSendWindow: Bool,
        remoteClosed: Bool, replied: Bool
    ) {
        self.id = id
        self.headers = headers
        self.session = session
        state = Mutex(
            State(
                remoteClosed: remoteClosed, sendWindow: sendWindow, enforceSendWindow: enforceSendWindow,
                replied: replied))
    }

    // MARK: Reading

    /// The next bytes the peer sent; nil after its FIN, a reset, the session's end, or cancellation.
    public func read() async -> [UInt8]? {
        let bytes: [UInt8]? = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let taken = state.withLock { state -> (bytes: [UInt8]?, producer: CheckedContinuation<Void, Never>?)? in
                    if !state.chunks.isEmpty {
                        let chunk = state.chunks.removeFirst()
                        state.bufferedBytes -= chunk.count
                        let producer = state.bufferedBytes <= SPDYSession.windowBytes ? state.producer : nil
                        if producer != nil { state.producer = nil }
                        return (chunk, producer)
                    }
                    if state.remoteClosed || Task.isCancelled { return (nil, nil) }
                    state.reader = continuation
                    return nil
                }
                if let taken {
                    taken.producer?.resume()
                    continuation.resume(returning: taken.bytes)
                }
            }
        } onCancel: {
            let reader = state.withLock { state in
                defer { state.reader = nil }
                return state.reader
            }
            reader?.resume(returning: nil)
        }
        if let bytes { await consumed(bytes.count) }
        return bytes
    }

    /// Everything until the peer's FIN, up to `limit` bytes (the rest is dropped).
    public func readAll(limit: Int) async -> [UInt8] {
        var all: [UInt8] = []
        while let bytes = await read() {
            if all.count < limit { all += bytes.prefix(limit - all.count) }
        }
        return all
    }

    /// Gives the peer its window back once half of it has been read (and the session's, SPDY/3.1's stream 0).
    private func consumed(_ count: Int) async {
        let delta = state.withLock { state -> Int in
            state.unacknowledgedBytes += count
            guard state.unacknowledgedBytes >= SPDYSession.windowBytes / 2, !state.remoteClosed else { return 0 }
            defer { state.unacknowledgedBytes = 0 }
            return state.unacknowledgedBytes
        }
        guard delta > 0 else { return }
        try? await session.send(.windowUpdate(streamID: id, delta: UInt32(delta)))
        try? await session.send(.windowUpdate(streamID: 0, delta: UInt32(delta)))
    }

    // MARK: Writing

    /// Sends `bytes` in data frames; throws once the stream was reset, closed for writing, or the session ended.
    public func write(_ bytes: [UInt8]) async throws {
        var rest = bytes[...]
        while !rest.isEmpty {
            let allowed = try await reserve(min(rest.count, SPDYSession.dataFrameBytesMaximum))
            try await session.send(.data(streamID: id, fin: false, payload: Array(rest.prefix(allowed))))
            rest = rest.dropFirst(allowed)
        }
    }

    /// Waits for send window, then takes up to `wanted` bytes of it.
    private func reserve(_ wanted: Int) async throws -> Int {
        while true {
            let outcome = state.withLock { state -> Result<Int, SPDYStreamError>? in
                if state.wasReset { return .failure(.reset) }
                if state.localClosed { return .failure(.closed) }
                guard state.enforceSendWindow else { return .success(wanted) }
                guard state.sendWindow > 0 else { return nil }
                let granted = min(wanted, state.sendWindow)
                state.sendWindow -= granted
                return .success(granted)
            }
            if let outcome { return try outcome.get() }
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state in
                    if state.sendWindow > 0 || state.wasReset || state.localClosed { return true }
                    state.windowWaiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }

    /// Half-closes: a FIN, after which the peer reads EOF. Idempotent.
    public func closeWrite() async {
        let send = state.withLock { state in
            defer { state.localClosed = true }
            return !state.localClosed && !state.wasReset
        }
        guard send else { return }
        try? await session.send(.data(streamID: id, fin: true, payload: []))
        forgetIfDone()
    }

    /// Ends both directions at once (RST_STREAM; CANCEL, 5, unless said otherwise); later data is dropped.
    public func reset(status: UInt32 = 5) async {
        let send = state.withLock { state in !state.wasReset && !(state.localClosed && state.remoteClosed) }
        ended(reset: true)
        if send { try? await session.send(.rstStream(streamID: id, status: status)) }
    }

    /// Accepts a stream the peer opened: SYN_REPLY with no headers (what the kubelet sends).
    public func reply() async throws {
        try await session.send(.synReply(streamID: id, fin: false, headers: SPDYHeaders()))
    }

    // MARK: The session's side

    /// Data arrived; returns once there is room for more (the session holds further reads until then).
    func deliver(_ bytes: [UInt8], fin: Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (reader, mustWait) = state.withLock { state -> (CheckedContinuation<[UInt8]?, Never>?, Bool) in
                guard !state.wasReset, !state.remoteClosed else { return (nil, false) }
                if fin { state.remoteClosed = true }
                if let reader = state.reader, !bytes.isEmpty {
                    state.reader = nil
                    return (reader, false)
                }
                if !bytes.isEmpty {
                    state.chunks.append(bytes)
                    state.bufferedBytes += bytes.count
                }
                if state.bufferedBytes > SPDYSession.windowBytes {
                    state.producer = continuation
                    return (nil, true)
                }
                // FIN with nothing buffered: a waiting reader sees the end.
                if fin, let reader = state.reader {
                    state.reader = nil
                    reader.resume(returning: nil)
                }
                return (nil, false)
            }
            reader?.resume(returning: bytes)
            if !mustWait { continuation.resume() }
        }
        if fin { forgetIfDone() }
    }

    func replyReceived(fin: Bool) {
        let waiter = state.withLock { state in
            state.replied = true
            if fin { state.remoteClosed = true }
            defer { state.replyWaiter = nil }
            return state.replyWaiter
        }
        waiter?.resume(returning: true)
    }

    /// For streams this side opened: true once the peer replied, false if it reset the stream instead.
    func waitForReply() async -> Bool {
        await withCheckedContinuation { continuation in
            let answer = state.withLock { state -> Bool? in
                if state.replied { return true }
                if state.wasReset { return false }
                state.replyWaiter = continuation
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    func windowUpdated(by delta: Int, enforce: Bool) {
        let waiter = state.withLock { state in
            state.sendWindow += delta
            state.enforceSendWindow = state.enforceSendWindow || enforce
            defer { state.windowWaiter = nil }
            return state.sendWindow > 0 ? state.windowWaiter : nil
        }
        waiter?.resume()
    }

    /// The peer reset it, or the session ended: everyone waiting is released, later reads see the end.
    func ended(reset: Bool) {
        let waiters = state.withLock { state in
            if reset {
                state.wasReset = true
                state.chunks = []
                state.bufferedBytes = 0
            }
            state.remoteClosed = true
            state.localClosed = state.localClosed || reset
            return state.takeWaiters()
        }
        waiters.resume()
        session.forget(id)
    }

    private func forgetIfDone() {
        if state.withLock({ $0.localClosed && $0.remoteClosed && $0.chunks.isEmpty }) { session.forget(id) }
    }
}
