import CNGHTTP2
import NIOCore

/// Receiving side: nghttp2 callbacks, request validation and dispatch.
extension ServerConnectionHandler {
    @inline(__always)
    static func handler(_ userData: UnsafeMutableRawPointer?) -> ServerConnectionHandler {
        Unmanaged<ServerConnectionHandler>.fromOpaque(userData!).takeUnretainedValue()
    }

    /// Closure literals convert to C function pointers only when they capture nothing; state comes from user_data.
    static func setCallbacks(_ callbacks: OpaquePointer) {
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { session, frame, userData in
            ServerConnectionHandler.handler(userData).beginHeaders(session!, frame!)
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) {
            session, frame, name, nameLength, value, valueLength, _, userData in
            ServerConnectionHandler.handler(userData).receivedHeader(
                session!, frame!, name: UnsafeRawBufferPointer(start: name, count: nameLength),
                value: UnsafeRawBufferPointer(start: value, count: valueLength))
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            ServerConnectionHandler.handler(userData).receivedFrame(frame!)
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) {
            _, _, streamID, data, length, userData in
            ServerConnectionHandler.handler(userData).receivedData(
                streamID: streamID, UnsafeRawBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, _, userData in
            let handler = ServerConnectionHandler.handler(userData)
            if let stream = handler.streams.removeValue(forKey: streamID) {
                handler.closed(stream, status: .streamCancelled)
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks) { session, frame, userData in
            // Like grpc-go: after our END_STREAM, a client still sending (e.g. an over-limit request) is told to
            // stop with RST_STREAM(NO_ERROR).
            let header = frame!.pointee.hd
            if header.type == HTTP2Constants.frameHeaders, header.flags & HTTP2Constants.flagEndStream != 0,
                nghttp2_session_get_stream_remote_close(session, header.stream_id) == 0
            {
                _ = nghttp2_submit_rst_stream(
                    session, HTTP2Constants.flagNone, header.stream_id, HTTP2Constants.noError)
            }
            return 0
        }
    }

    private func beginHeaders(_ session: OpaquePointer, _ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        guard frame.pointee.hd.type == HTTP2Constants.frameHeaders else { return 0 }
        let id = frame.pointee.hd.stream_id
        if frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
            streams[id] = ServerStream(id: id, maxReceiveMessageBytes: limits.maxReceiveMessageBytes)
        } else if frame.pointee.headers.cat == NGHTTP2_HCAT_HEADERS,
            frame.pointee.hd.flags & HTTP2Constants.flagEndStream == 0
        {
            // Trailers must end the stream (RFC 9113 section 8.1); nghttp2's HTTP messaging checked this.
            return malformed(session, streamID: id)
        }
        return 0
    }

    /// Resets a malformed request with PROTOCOL_ERROR, as nghttp2's HTTP messaging and grpc-go do.
    private func malformed(_ session: OpaquePointer, streamID: Int32) -> Int32 {
        streams[streamID]?.phase = .rejected
        _ = nghttp2_submit_rst_stream(session, HTTP2Constants.flagNone, streamID, HTTP2Constants.protocolError)
        return Int32(HTTP2Constants.errorTemporalCallbackFailure)
    }

    private func receivedHeader(
        _ session: OpaquePointer, _ frame: UnsafePointer<nghttp2_frame>, name: UnsafeRawBufferPointer,
        value: UnsafeRawBufferPointer
    ) -> Int32 {
        let id = frame.pointee.hd.stream_id
        // Trailers from the client (category HEADERS) carry nothing gRPC uses, but may hold no pseudo-header.
        guard frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST, let stream = streams[id] else {
            return name.first == UInt8(ascii: ":") ? malformed(session, streamID: id) : 0
        }
        stream.headerBytes += name.count + value.count + 32
        if stream.headerBytes > Self.maxHeaderListBytes {
            return Int32(HTTP2Constants.errorTemporalCallbackFailure)  // RST_STREAM(INTERNAL_ERROR)
        }
        var check = RequestHeaderCheck(storedWord: nghttp2_session_get_stream_user_data(session, id))
        let verdict = check.check(name: name, value: value)
        _ = nghttp2_session_set_stream_user_data(session, id, check.storedWord)
        switch verdict {
        case .accept: break
        case .ignore: return 0
        case .reject: return malformed(session, streamID: id)
        }
        if name.first == UInt8(ascii: ":") {
            if headerEquals(name, ":path") {
                stream.path = String(decoding: value, as: UTF8.self)
            } else if headerEquals(name, ":method") {
                stream.isPost = headerEquals(value, "POST")
                if !stream.isPost { stream.otherMethod = String(decoding: value, as: UTF8.self) }
            }
        } else if headerEquals(name, "content-type") {
            stream.contentTypeValid = Self.isGRPCContentType(value)
            if !stream.contentTypeValid { stream.contentType = String(decoding: value, as: UTF8.self) }
        } else if headerEquals(name, "grpc-timeout") {
            stream.timeout = GRPCTimeout.parse(value)
            stream.timeoutMalformed = stream.timeout == nil
        } else if headerEquals(name, "grpc-encoding") {
            stream.encoding = String(decoding: value, as: UTF8.self)
        } else if !GRPCMetadata.isReserved(name) {
            stream.metadata.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        return 0
    }

    /// `application/grpc`, optionally followed by `+subtype` or `;parameters` (grpc-go's `ContentSubtype`).
    private static func isGRPCContentType(_ value: UnsafeRawBufferPointer) -> Bool {
        let base: StaticString = "application/grpc"
        let baseLength = base.utf8CodeUnitCount
        guard value.count >= baseLength,
            headerEquals(UnsafeRawBufferPointer(rebasing: value[0..<baseLength]), base)
        else { return false }
        return value.count == baseLength || value[baseLength] == UInt8(ascii: "+")
            || value[baseLength] == UInt8(ascii: ";")
    }

    private func receivedFrame(_ frame: UnsafePointer<nghttp2_frame>) {
        let header = frame.pointee.hd
        switch header.type {
        case HTTP2Constants.frameHeaders:
            guard let stream = streams[header.stream_id] else { return }
            if frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST { requestHeadersComplete(stream) }
            if header.flags & HTTP2Constants.flagEndStream != 0 { remoteEnded(stream) }
        case HTTP2Constants.frameData:
            if header.flags & HTTP2Constants.flagEndStream != 0, let stream = streams[header.stream_id] {
                remoteEnded(stream)
            }
        case HTTP2Constants.framePing:
            if header.flags & HTTP2Constants.flagAck != 0, shutdownPhase == .noticeSent { submitFinalGoaway() }
        default:
            break
        }
    }

    private func requestHeadersComplete(_ stream: ServerStream) {
        guard let session else { return }
        guard RequestHeaderCheck(storedWord: nghttp2_session_get_stream_user_data(session, stream.id)).isComplete
        else {
            _ = malformed(session, streamID: stream.id)
            return
        }
        if !(stream.isPost && stream.contentTypeValid), !router.http.isEmpty,
            router.http.serves(path: HTTPRequest.path(of: stream.path))
        {
            // Answered once the body is complete (END_STREAM), see `remoteEnded`.
            stream.phase = .httpReceiving
            return
        }
        guard stream.isPost else {
            _ = malformed(session, streamID: stream.id)
            return
        }
        guard stream.contentTypeValid else {
            let message = "invalid gRPC request content-type \"\(stream.contentType)\""
            reject(stream, GRPCStatus(code: .invalidArgument, message: message), httpStatus: "415")
            return
        }
        guard !stream.timeoutMalformed else {
            reject(stream, GRPCStatus(code: .internalError, message: "malformed grpc-timeout"), httpStatus: "400")
            return
        }
        if let timeout = stream.timeout { stream.deadline = ContinuousClock.now + timeout }
        switch router.route(stream.path) {
        case .failure(let status):
            reject(stream, status)
            return
        case .success(.unary(let handler)):
            stream.phase = .unary(handler)
        case .success(.streaming(let handler)):
            startStreaming(stream, handler)
        }
        if let timeout = stream.timeout, let context {
            let nanoseconds = max(0, GRPCTimeout.nanosecondsSaturating(timeout))
            stream.deadlineTask = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanoseconds)) {
                self.deadlineExpired(stream)
            }
        }
    }

    private func startStreaming(_ stream: ServerStream, _ handler: @escaping GRPCServerRouter.StreamingHandler) {
        guard let link else { return }
        let call = GRPCStreamingCall(
            path: stream.path, metadata: GRPCMetadata(lowercasedPairs: stream.metadata),
            deadline: stream.deadline, streamID: stream.id,
            connection: link)
        stream.phase = .streaming(call)
        stream.budget = call.budget
        stream.metadata = []
        // A streaming handler is async, so it gets a task; unary calls never do.
        Task {
            let status: GRPCStatus
            do {
                try await handler(call)
                status = .ok
            } catch {
                status = GRPCStatus.from(error)
            }
            call.finish(status)
        }
    }

    private func receivedData(streamID: Int32, _ bytes: UnsafeRawBufferPointer) {
        guard let stream = streams[streamID], stream.status == nil else {
            consume(streamID: streamID, bytes: bytes.count)
            return
        }
        switch stream.phase {
        case .unary:
            let failure = stream.deframer.process(bytes) { message in
                stream.requestCount += 1
                stream.request = message
            }
            consume(streamID: streamID, bytes: bytes.count)
            if let failure { reject(stream, stream.status(for: failure)) }
        case .streaming(let call):
            var paused = stream.inboundPaused
            let failure = stream.deframer.process(bytes) { message in
                if !call.inbound.push(message) { paused = true }
            }
            received(bytes.count, on: stream, paused: paused)
            if let failure {
                let status = stream.status(for: failure)
                call.markCancelled(status)
                end(stream, status)
            }
        case .httpReceiving:
            if !stream.plainRequestTooLarge {
                if stream.plainRequestBody.count + bytes.count <= router.http.maxBodyBytes {
                    stream.plainRequestBody.append(contentsOf: bytes)
                } else {
                    stream.plainRequestTooLarge = true
                    stream.plainRequestBody = []
                }
            }
            consume(streamID: streamID, bytes: bytes.count)
        default:
            consume(streamID: streamID, bytes: bytes.count)
        }
    }

    private func remoteEnded(_ stream: ServerStream) {
        stream.remoteClosed = true
        switch stream.phase {
        case .unary:
            if stream.requestCount == 1, stream.deframer.isIdle {
                readyUnary.append(stream)
            } else if stream.requestCount == 0 {
                reject(stream, GRPCStatus(code: .internalError, message: "unexpected EOF"))
            } else {
                reject(
                    stream,
                    GRPCStatus(code: .internalError, message: "grpc: received multiple request messages for unary RPC"))
            }
        case .streaming(let call):
            if stream.deframer.isIdle {
                call.inbound.finish()
            } else {
                call.inbound.fail(GRPCStatus(code: .internalError, message: "unexpected EOF"))
            }
        case .httpReceiving:
            answerHTTP(stream)
        default:
            break
        }
    }

    /// Runs the handlers of unary requests completed by the last `mem_recv`, outside nghttp2's callbacks.
    func dispatchReadyUnaryCalls() {
        guard !readyUnary.isEmpty, let link else { return }
        for stream in readyUnary where streams[stream.id] === stream && stream.status == nil {
            guard case .unary(let handler) = stream.phase else { continue }
            let call = GRPCUnaryCall(
                path: stream.path, request: stream.request ?? [],
                metadata: GRPCMetadata(lowercasedPairs: stream.metadata), deadline: stream.deadline,
                streamID: stream.id, connection: link)
            stream.request = nil
            stream.metadata = []
            stream.phase = .unaryDispatched(call)
            handler(call)
        }
        readyUnary.removeAll(keepingCapacity: true)
    }

    /// nghttp2 closed the stream (normally, by RST_STREAM, or because the connection went away).
    func closed(_ stream: ServerStream, status: GRPCStatus) {
        stream.deadlineTask?.cancel()
        stream.deadlineTask = nil
        stream.failSendWaiters(status)
        stream.plainStream?.cancel()
        switch stream.phase {
        case .unaryDispatched(let call) where !stream.trailersSubmitted:
            call.markCancelled()
        case .streaming(let call) where !(stream.trailersSubmitted && stream.remoteClosed):
            call.markCancelled(status)
        default:
            break
        }
    }

    private func deadlineExpired(_ stream: ServerStream) {
        stream.deadlineTask = nil
        guard streams[stream.id] === stream, stream.status == nil else { return }
        let status = GRPCStatus.deadlineExceeded
        switch stream.phase {
        case .unaryDispatched(let call):
            // Already answered from another thread and the answer is on its way here: let it win.
            guard call.markCancelled() else { return }
        case .streaming(let call):
            call.markCancelled(status)
        default:
            break
        }
        stream.outbound = OutboundMessageQueue()
        end(stream, status)
        outputChanged()
    }
}

extension GRPCMetadata {
    init(lowercasedPairs: [(String, String)]) {
        self.init()
        self.pairs = lowercasedPairs
    }
}
