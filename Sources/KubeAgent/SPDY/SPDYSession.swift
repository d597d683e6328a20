import Logging
import Synchronization

/// A SPDY/3.1 connection, either side, over any byte transport (an upgraded TCP connection, or WebSocket
/// messages carrying the bytes): `run` reads frames and dispatches them, streams the peer opens arrive on
/// `incomingStreams`, PINGs are answered, and everything is written through one ordered writer (header blocks
/// share one compression context). Bounded: at most `streamsMaximum` open streams (more are refused), at most
/// `windowBytes` unread per stream, frames up to `SPDYFrame.payloadBytesMaximum`.
public final class SPDYSession: Sendable {
    public enum Role: Sendable { case server, client }

    /// SPDY/3.1's initial window, per stream and for the session.
    public static let windowBytes = 64 * 1024
    static let dataFrameBytesMaximum = 32 * 1024
    public static let streamsMaximum = 256

    public let role: Role
    /// Streams the peer opened, in order; finishes when the session ends or the peer sends GOAWAY. Each must be
    /// answered with `reply()` or `reset()`.
    public let incomingStreams: AsyncStream<SPDYStream>
    private let incoming: AsyncStream<SPDYStream>.Continuation
    private let writer: SPDYFrameWriter
    private let closeTransport: @Sendable () -> Void
    private let logger: Logger
    private let state: Mutex<State>

    struct State {
        var streams: [UInt32: SPDYStream] = [:]
        var nextStreamID: UInt32
        var lastPeerStreamID: UInt32 = 0
        /// The peer showed it keeps flow-control windows (sent WINDOW_UPDATE or SETTINGS_INITIAL_WINDOW_SIZE).
        var peerFlowControl = false
        var peerInitialWindow = SPDYSession.windowBytes
        var ended = false
        var endWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterKey = 0
        var expiredWaiters: Set<Int> = []
    }

    /// `write` sends bytes to the peer in order (it is called by one writer at a time); `close` ends the transport,
    /// which must make `run`'s input end. With `peerKeepsWindows` false (a server facing kubectl's spdystream, which
    /// never gives windows back) the peer is held to its windows only once it shows it keeps them; true holds it to
    /// them from the first byte, as SPDY/3.1 says (a client of a server that does flow control, as this one does).
    public init(
        role: Role, logger: Logger, peerKeepsWindows: Bool = false,
        write: @escaping @Sendable ([UInt8]) async throws -> Void, close: @escaping @Sendable () -> Void
    ) {
        self.role = role
        self.logger = logger
        writer = SPDYFrameWriter(output: write)
        closeTransport = close
        (incomingStreams, incoming) = AsyncStream.makeStream(
            of: SPDYStream.self, bufferingPolicy: .bufferingOldest(Self.streamsMaximum))
        state = Mutex(State(nextStreamID: role == .client ? 1 : 2, peerFlowControl: peerKeepsWindows))
    }

    /// Reads the peer's bytes until they end (or a protocol error), then ends every stream.
    public func run<Inbound: AsyncSequence>(reading inbound: Inbound) async where Inbound.Element == [UInt8] {
        let decoder = SPDYFrameDecoder()
        do {
            for try await chunk in inbound {
                decoder.append(chunk)
                while let frame = try decoder.next() { try await handle(frame) }
            }
        } catch {
            logger.debug("SPDY session ended: \(error)")
        }
        end()
    }

    /// Opens a stream (SYN_STREAM) and waits for the peer's SYN_REPLY.
    public func openStream(headers: SPDYHeaders, fin: Bool = false) async throws -> SPDYStream {
        let stream = try state.withLock { state throws(SPDYStreamError) -> SPDYStream in
            guard !state.ended, state.streams.count < Self.streamsMaximum else { throw .closed }
            let id = state.nextStreamID
            state.nextStreamID += 2
            let stream = SPDYStream(
                id: id, headers: headers, session: self, sendWindow: state.peerInitialWindow,
                enforceSendWindow: state.peerFlowControl, remoteClosed: false, replied: false)
            state.streams[id] = stream
            return stream
        }
        try await send(
            .synStream(streamID: stream.id, associatedTo: 0, priority: 0, flags: fin ? 1 : 0, headers: headers))
        guard await stream.waitForReply() else { throw SPDYStreamError.reset }
        return stream
    }

    /// Announces this side's flow control (SETTINGS_INITIAL_WINDOW_SIZE), so a peer like this one holds to it.
    public func sendSettings() async throws {
        let window = SPDYSetting(flags: 0, id: SPDYFrame.settingInitialWindowSize, value: UInt32(Self.windowBytes))
        try await send(.settings(clearPersisted: false, entries: [window]))
    }

    /// GOAWAY: no new streams; those open go on.
    public func goAway() async {
        let last = state.withLock { $0.lastPeerStreamID }
        try? await send(.goAway(lastGoodStreamID: last, status: 0))
    }

    /// Ends the transport; `run` returns and every stream ends.
    public func close() { closeTransport() }

    /// Waits for `run` to have ended, at most `timeout` (forever when nil), or until the task is cancelled.
    public func waitForEnd(timeout: Duration? = nil) async {
        let key = state.withLock { state in
            defer { state.nextWaiterKey += 1 }
            return state.nextWaiterKey
        }
        let timer = timeout.map { timeout in
            Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { self.stopWaiting(key) }
            }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let over = state.withLock { state in
                    let over = state.ended || state.expiredWaiters.remove(key) != nil
                    if !over { state.endWaiters[key] = continuation }
                    return over
                }
                if over { continuation.resume() }
            }
        } onCancel: {
            stopWaiting(key)
        }
        timer?.cancel()
    }

    public var isEnded: Bool { state.withLock { $0.ended } }

    func send(_ frame: SPDYFrame) async throws { try await writer.write(frame) }

    func forget(_ id: UInt32) { _ = state.withLock { $0.streams.removeValue(forKey: id) } }

    private func stream(_ id: UInt32) -> SPDYStream? { state.withLock { $0.streams[id] } }

    private func stopWaiting(_ key: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.endWaiters.removeValue(forKey: key) else {
                // Not waiting yet (or already released): make the wait return at once.
                if !state.ended { state.expiredWaiters.insert(key) }
                return nil
            }
            return waiter
        }
        waiter?.resume()
    }

    private func end() {
        let (streams, waiters) = state.withLock { state in
            state.ended = true
            defer { (state.streams, state.endWaiters) = ([:], [:]) }
            return (Array(state.streams.values), Array(state.endWaiters.values))
        }
        incoming.finish()
        for stream in streams { stream.ended(reset: false) }
        waiters.forEach { $0.resume() }
    }

    // MARK: Frames

    private func handle(_ frame: SPDYFrame) async throws {
        switch frame {
        case .synStream(let id, _, _, let flags, let headers):
            try await accept(id: id, flags: flags, headers: headers)
        case .synReply(let id, let fin, _):
            stream(id)?.replyReceived(fin: fin)
        case .headers(let id, let fin, _):
            if fin { await stream(id)?.deliver([], fin: true) }
        case .data(let id, let fin, let payload):
            await stream(id)?.deliver(payload, fin: fin)
        case .rstStream(let id, _):
            stream(id)?.ended(reset: true)
        case .settings(_, let entries):
            guard let window = entries.first(where: { $0.id == SPDYFrame.settingInitialWindowSize }) else { return }
            let (streams, delta) = state.withLock { state in
                defer {
                    state.peerInitialWindow = Int(window.value)
                    state.peerFlowControl = true
                }
                return (Array(state.streams.values), Int(window.value) - state.peerInitialWindow)
            }
            for stream in streams { stream.windowUpdated(by: delta, enforce: true) }
        case .windowUpdate(let id, let delta):
            state.withLock { $0.peerFlowControl = true }
            // Stream 0 is the session's window (SPDY/3.1); streams are held to their own windows only.
            if id != 0 { stream(id)?.windowUpdated(by: Int(delta), enforce: true) }
        case .ping(let id):
            // Ours are even from a server, odd from a client; the peer's are echoed back.
            let ours = (id % 2 == 0) == (role == .server)
            if !ours { try await send(.ping(id: id)) }
        case .goAway:
            incoming.finish()
        case .unknown:
            break
        }
    }

    /// A SYN_STREAM: a new stream from the peer, unless its id is out of order or too many are open.
    private func accept(id: UInt32, flags: UInt8, headers: SPDYHeaders) async throws {
        let peerParity: UInt32 = role == .server ? 1 : 0
        let created = state.withLock { state -> SPDYStream? in
            guard id % 2 == peerParity, id > state.lastPeerStreamID, !state.ended,
                state.streams.count < Self.streamsMaximum
            else { return nil }
            state.lastPeerStreamID = id
            let stream = SPDYStream(
                id: id, headers: headers, session: self, sendWindow: state.peerInitialWindow,
                enforceSendWindow: state.peerFlowControl, remoteClosed: flags & SPDYFrame.flagFin != 0, replied: true)
            state.streams[id] = stream
            return stream
        }
        guard let created else {
            try await send(.rstStream(streamID: id, status: SPDYFrame.ResetStatus.refusedStream))
            return
        }
        if case .enqueued = incoming.yield(created) { return }
        await created.reset(status: SPDYFrame.ResetStatus.refusedStream)
    }
}

/// Writes frames one at a time, in the order they were asked for, encoding each just before it goes out (so
/// header blocks are compressed in the order the peer decompresses them).
actor SPDYFrameWriter {
    private let encoder = SPDYFrameEncoder()
    private let output: @Sendable ([UInt8]) async throws -> Void
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var failed = false

    init(output: @escaping @Sendable ([UInt8]) async throws -> Void) { self.output = output }

    func write(_ frame: SPDYFrame) async throws {
        while busy { await withCheckedContinuation { waiters.append($0) } }
        busy = true
        defer {
            busy = false
            if !waiters.isEmpty { waiters.removeFirst().resume() }
        }
        guard !failed else { throw SPDYStreamError.closed }
        do {
            try await output(encoder.encode(frame))
        } catch {
            failed = true
            throw SPDYStreamError.closed
        }
    }
}
