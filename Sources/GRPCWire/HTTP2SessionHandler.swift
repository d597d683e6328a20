import CNGHTTP2
import NIOCore

/// What a connection handler tracks while it moves nghttp2's output into the channel.
struct HTTP2OutputState {
    /// Between `channelRead` and `channelReadComplete`: output is drained at once and flushed once at the end.
    var inReadBurst = false
    /// Bytes were written since the last flush.
    var needsFlush = false
    /// A drain is queued on the event loop.
    var drainScheduled = false
    /// The final empty write is out; the channel closes once it completes.
    var closing = false
    /// Streams whose data provider deferred because the channel was not writable.
    var deferredForWritability: [Int32] = []
}

/// A stream under manual flow control in both directions: its DATA comes from an nghttp2 data provider that may
/// defer, and the window for what it receives is returned only as its consumer keeps up.
protocol HTTP2FlowControlledStream: AnyObject {
    var id: Int32 { get }
    /// The data provider returned NGHTTP2_ERR_DEFERRED and needs `nghttp2_session_resume_data`.
    var dataDeferred: Bool { get set }
    /// The consumer of received messages fell behind, so stream-level window is withheld.
    var inboundPaused: Bool { get set }
    var withheldWindowBytes: Int { get set }
}

/// A channel handler around one nghttp2 session: the server's and the client's connection handlers. Its extension
/// holds their output and flow-control plumbing once: the read-burst flush (`channelReadComplete`), resuming
/// streams deferred for writability (`channelWritabilityChanged`), draining nghttp2's output, and returning
/// receive window as consumers take the data. Event loop only.
///
/// Both conformers are final classes and reach these methods generically (the optimiser specialises them for each),
/// never through an existential: the shared code adds no dispatch or allocation per read or write.
protocol HTTP2SessionHandler: ChannelInboundHandler where InboundIn == ByteBuffer, OutboundOut == ByteBuffer {
    associatedtype Stream: HTTP2FlowControlledStream

    var session: OpaquePointer? { get }
    var context: ChannelHandlerContext? { get }
    var streams: [Int32: Stream] { get }
    var output: HTTP2OutputState { get set }

    /// `mem_send` failed with `error` (a negative nghttp2 code): the session is unusable.
    func outputFailed(_ error: Int)
}

extension HTTP2SessionHandler {
    func channelReadComplete(context: ChannelHandlerContext) {
        output.inReadBurst = false
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, !output.deferredForWritability.isEmpty {
            for id in output.deferredForWritability {
                if let stream = streams[id] { resumeData(stream) }
            }
            output.deferredForWritability.removeAll(keepingCapacity: true)
            outputChanged()
        }
        context.fireChannelWritabilityChanged()
    }

    /// Moves nghttp2's pending output into the channel. Inside a read burst at once (`channelReadComplete`
    /// flushes once for everything the burst produced); otherwise as one event-loop task after those already
    /// queued, so a batch of calls, answers or streaming sends arriving from other threads leaves in one write and
    /// one flush. Never called from inside nghttp2's callbacks (no `mem_send` within `mem_recv`): code they reach
    /// only submits, and `channelRead` drains after.
    func outputChanged() {
        if output.inReadBurst {
            drainNow()
            return
        }
        guard !output.drainScheduled, let context else { return }
        output.drainScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.output.drainScheduled = false
            self.drainNow()
            self.flushIfNeeded()
        }
    }

    private func drainNow() {
        guard let session, let context else { return }
        let written = HTTP2Session.drainOutput(session, into: context)
        if written < 0 {
            outputFailed(written)
        } else if written > 0 {
            output.needsFlush = true
        }
    }

    private func flushIfNeeded() {
        guard let context else { return }
        if output.needsFlush {
            output.needsFlush = false
            context.flush()
        }
        // After a GOAWAY with no streams left (or a fatal session error) nghttp2 is done: close like grpc-go.
        if let session, HTTP2Session.isDone(session) { closeAfterWrites() }
    }

    /// Closes once everything written so far has left (a plain close may drop flushed but unwritten bytes).
    func closeAfterWrites() {
        guard !output.closing, let context else { return }
        output.closing = true
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// For a data provider: stops pulling `stream` until `channelWritabilityChanged` (outbound backpressure).
    func deferUntilWritable(_ stream: Stream) -> Int {
        stream.dataDeferred = true
        output.deferredForWritability.append(stream.id)
        return HTTP2Constants.errorDeferred
    }

    func resumeData(_ stream: Stream) {
        guard let session, stream.dataDeferred else { return }
        stream.dataDeferred = false
        _ = nghttp2_session_resume_data(session, stream.id)
    }

    // MARK: Receive window

    /// Returns the window for `bytes` of DATA that were taken (or dropped) to the peer, stream and connection.
    func consume(streamID: Int32, bytes: Int) {
        guard let session, bytes > 0 else { return }
        _ = nghttp2_session_consume(session, streamID, bytes)
    }

    /// `bytes` of DATA went to `stream`'s consumer; `paused` says whether it has fallen behind. While it has, the
    /// stream-level window is withheld; the connection window stays open for other streams.
    func received(_ bytes: Int, on stream: Stream, paused: Bool) {
        stream.inboundPaused = paused
        if paused {
            stream.withheldWindowBytes += bytes
            if let session, bytes > 0 { _ = nghttp2_session_consume_connection(session, bytes) }
        } else {
            consume(streamID: stream.id, bytes: bytes)
        }
    }

    /// `stream`'s consumer caught up: returns the withheld stream window.
    func resumeInbound(_ stream: Stream) {
        guard let session else { return }
        stream.inboundPaused = false
        if stream.withheldWindowBytes > 0 {
            _ = nghttp2_session_consume_stream(session, stream.id, stream.withheldWindowBytes)
            stream.withheldWindowBytes = 0
        }
        outputChanged()
    }
}
