import CNGHTTP2
import NIOCore

/// Receiving side: nghttp2 callbacks, response parsing and call completion.
extension ClientConnectionHandler {
    @inline(__always)
    static func handler(_ userData: UnsafeMutableRawPointer?) -> ClientConnectionHandler {
        Unmanaged<ClientConnectionHandler>.fromOpaque(userData!).takeUnretainedValue()
    }

    /// Closure literals convert to C function pointers only when they capture nothing; state comes from user_data.
    static func setCallbacks(_ callbacks: OpaquePointer) {
        nghttp2_session_callbacks_set_on_header_callback(callbacks) {
            _, frame, name, nameLength, value, valueLength, _, userData in
            ClientConnectionHandler.handler(userData).receivedHeader(
                streamID: frame!.pointee.hd.stream_id, name: UnsafeRawBufferPointer(start: name, count: nameLength),
                value: UnsafeRawBufferPointer(start: value, count: valueLength))
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            ClientConnectionHandler.handler(userData).receivedFrame(frame!)
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) {
            _, _, streamID, data, length, userData in
            ClientConnectionHandler.handler(userData).receivedData(
                streamID: streamID, UnsafeRawBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            ClientConnectionHandler.handler(userData).streamClosed(streamID: streamID, errorCode: errorCode)
            return 0
        }
    }

    private func receivedHeader(streamID: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard let stream = streams[streamID], !stream.completed else { return }
        if headerEquals(name, ":status") {
            stream.httpStatus = Self.parseInteger(value)
        } else if headerEquals(name, "grpc-status") {
            stream.grpcStatusCode = Self.parseInteger(value)
        } else if headerEquals(name, "grpc-message") {
            stream.grpcMessage = StatusMessageCoding.decode(value)
        }
    }

    private static func parseInteger(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 9 else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private func receivedFrame(_ frame: UnsafePointer<nghttp2_frame>) {
        let header = frame.pointee.hd
        switch header.type {
        case HTTP2Constants.frameSettings where header.flags & HTTP2Constants.flagAck == 0:
            becameReady()
        case HTTP2Constants.frameHeaders, HTTP2Constants.frameData:
            if header.flags & HTTP2Constants.flagEndStream != 0, let stream = streams[header.stream_id] {
                remoteEnded(stream)
            }
        case HTTP2Constants.framePing where header.flags & HTTP2Constants.flagAck != 0:
            receivedPingAck()
        case HTTP2Constants.frameGoaway:
            // No new calls; nghttp2 closes streams above last-stream-id with REFUSED_STREAM (→ .unavailable),
            // the others run to completion, then the connection closes.
            if state == .ready || state == .connecting { state = .draining }
            closeStatus = GRPCStatus(code: .unavailable, message: "the server is shutting down (GOAWAY)")
        default:
            break
        }
    }

    private func receivedData(streamID: Int32, _ bytes: UnsafeRawBufferPointer) {
        guard let stream = streams[streamID], !stream.completed else {
            consume(streamID: streamID, bytes: bytes.count)
            return
        }
        var paused = stream.inboundPaused
        let failure = stream.deframer.process(bytes) { message in
            switch stream.kind {
            case .unary:
                stream.responseCount += 1
                stream.response = message
            case .streaming(let inbound):
                if !inbound.push(message) { paused = true }
            }
        }
        received(bytes.count, on: stream, paused: paused)
        switch failure {
        case .tooLarge(let length, let limit):
            let message = "grpc: received message larger than max (\(length) vs. \(limit))"
            reset(stream, GRPCStatus(code: .resourceExhausted, message: message))
        case .compressed(let flag):
            let message =
                flag == 1
                ? "grpc: compressed flag set with identity or empty encoding"
                : "grpc: received unexpected payload format \(flag)"
            reset(stream, GRPCStatus(code: .internalError, message: message))
        case nil:
            break
        }
    }

    /// The consumer of a stream's responses caught up: return the withheld stream window.
    func inboundDemand(streamID: Int32) {
        guard let stream = streams[streamID], stream.inboundPaused, case .streaming(let inbound) = stream.kind,
            !inbound.isPaused
        else { return }
        resumeInbound(stream)
    }

    /// END_STREAM from the server: the status comes from `grpc-status`/`grpc-message`, else from `:status`.
    private func remoteEnded(_ stream: ClientStreamState) {
        let status: GRPCStatus
        if let code = stream.grpcStatusCode {
            status = GRPCStatus(code: GRPCStatus.Code(rawValue: code), message: stream.grpcMessage ?? "")
        } else if let httpStatus = stream.httpStatus, httpStatus != 200 {
            status = Self.status(httpStatus: httpStatus)
        } else {
            status = GRPCStatus(code: .internalError, message: "server closed the stream without sending trailers")
        }
        complete(stream, status, fromServer: true)
        // Still sending (e.g. the server rejected an over-limit request early): stop, as grpc-go does.
        if let session, nghttp2_session_get_stream_local_close(session, stream.id) == 0 {
            _ = nghttp2_submit_rst_stream(session, HTTP2Constants.flagNone, stream.id, HTTP2Constants.cancel)
        }
    }

    /// grpc-go's `HTTPStatusConvTab` for responses without `grpc-status`.
    private static func status(httpStatus: Int) -> GRPCStatus {
        let code: GRPCStatus.Code
        switch httpStatus {
        case 400: code = .internalError
        case 401: code = .unauthenticated
        case 403: code = .permissionDenied
        case 404: code = .unimplemented
        case 429, 502, 503, 504: code = .unavailable
        default: code = .unknown
        }
        return GRPCStatus(code: code, message: "unexpected HTTP status code received from server: \(httpStatus)")
    }

    private func streamClosed(streamID: Int32, errorCode: UInt32) {
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        stream.timeoutTask?.cancel()
        guard !stream.completed else { return }
        // Closed without a status: RST_STREAM from the server, or refused after GOAWAY.
        let name = String(cString: nghttp2_http2_strerror(errorCode))
        let message = "stream terminated by RST_STREAM with error code: \(name)"
        let code: GRPCStatus.Code
        switch errorCode {
        case HTTP2Constants.refusedStream: code = .unavailable
        case HTTP2Constants.cancel: code = .cancelled
        case NGHTTP2_FLOW_CONTROL_ERROR.rawValue, NGHTTP2_ENHANCE_YOUR_CALM.rawValue: code = .resourceExhausted
        case NGHTTP2_INADEQUATE_SECURITY.rawValue: code = .permissionDenied
        default: code = .internalError
        }
        complete(stream, GRPCStatus(code: code, message: message))
    }

    /// Delivers the final status to the caller, exactly once.
    func complete(_ stream: ClientStreamState, _ status: GRPCStatus, fromServer: Bool = false) {
        guard !stream.completed else { return }
        stream.completed = true
        stream.timeoutTask?.cancel()
        stream.timeoutTask = nil
        stream.outbound = OutboundMessageQueue()
        stream.failSendWaiters(status.code == .ok ? .streamCancelled : status)
        stream.token.outcome.withLock { $0 = status }
        stream.token.finished.store(true, ordering: .releasing)
        switch stream.kind {
        case .unary(let completion):
            if status.code != .ok {
                completion(.failure(status))
            } else if stream.responseCount == 1, let response = stream.response {
                completion(.success(response))
            } else {
                let message =
                    stream.responseCount == 0
                    ? "grpc: no response message received for a unary call"
                    : "grpc: received \(stream.responseCount) response messages for a unary call"
                completion(.failure(GRPCStatus(code: .internalError, message: message)))
            }
            stream.response = nil
        case .streaming(let inbound):
            // Messages that arrived before the server's error status are still delivered, then the status.
            if status.code == .ok { inbound.finish() } else { inbound.fail(status, discardingBuffered: !fromServer) }
        }
    }
}
