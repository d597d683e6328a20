import CNGHTTP2
import NIOCore

/// Sending side: responses, streaming sends, trailers. gRPC wire shape:
/// - a message response is HEADERS(`:status: 200`, `content-type: application/grpc`), DATA (5-byte prefixed
///   messages), then trailers HEADERS(`grpc-status`, `grpc-message`) with END_STREAM. The data provider ends
///   with `EOF | NO_END_STREAM` and submits the trailers itself, or END_STREAM would ride on the last DATA
///   frame without a `grpc-status` and clients would fail the call.
/// - an error before any message is a trailers-only response: one HEADERS frame with END_STREAM holding
///   `:status`, `content-type`, `grpc-status` and `grpc-message`.
extension ServerConnectionHandler {
    /// Answers a request that never reached a handler.
    func reject(_ stream: ServerStream, _ status: GRPCStatus, httpStatus: StaticString = "200") {
        stream.phase = .rejected
        end(stream, status, httpStatus: httpStatus)
    }

    /// Finishes the call with `status`: trailers-only if no HEADERS went out yet, otherwise trailers after the
    /// queued messages.
    func end(_ stream: ServerStream, _ status: GRPCStatus, httpStatus: StaticString = "200") {
        guard stream.status == nil else { return }
        stream.status = status
        stream.deadlineTask?.cancel()
        stream.deadlineTask = nil
        stream.failSendWaiters(.streamCancelled)
        if stream.headersSubmitted {
            resumeData(stream)
        } else {
            submitTrailersOnly(stream, status, httpStatus: httpStatus)
        }
    }

    /// `GRPCUnaryCall.respond`, on the event loop.
    func completeUnary(_ call: GRPCUnaryCall, _ result: Result<[UInt8], GRPCStatus>) {
        guard let stream = streams[call.streamID], case .unaryDispatched(let current) = stream.phase, current === call,
            stream.status == nil
        else { return }
        switch result {
        case .success(let message):
            stream.outbound.append(message)
            submitResponseHeaders(stream)
            end(stream, .ok)
        case .failure(let status):
            end(stream, status)
        }
        outputChanged()
    }

    /// `GRPCStreamingCall.send`, on the event loop. A waiting sender (`continuation`) resumes once the call's
    /// budget is back within bounds, i.e. when the data provider has drained the queue (backpressure).
    func enqueue(_ message: [UInt8], for call: GRPCStreamingCall, continuation: CheckedContinuation<Void, any Error>?) {
        guard let stream = streams[call.streamID], case .streaming(let current) = stream.phase, current === call,
            stream.status == nil
        else {
            continuation?.resume(throwing: GRPCStatus.streamCancelled)
            return
        }
        stream.outbound.append(message)
        if stream.headersSubmitted {
            resumeData(stream)
        } else {
            submitResponseHeaders(stream)
        }
        if let continuation {
            if call.budget.isWithinBound {
                continuation.resume()
            } else {
                stream.sendWaiters.append(continuation)
            }
        }
        outputChanged()
    }

    /// The streaming handler returned (OK) or threw.
    func finishStreaming(_ call: GRPCStreamingCall, _ status: GRPCStatus) {
        guard let stream = streams[call.streamID], case .streaming(let current) = stream.phase, current === call
        else { return }
        end(stream, status)
        outputChanged()
    }

    private func submitResponseHeaders(_ stream: ServerStream) {
        guard let session else { return }
        var provider = nghttp2_data_provider(
            source: nghttp2_data_source(ptr: nil),
            read_callback: { _, streamID, buffer, length, flags, _, userData in
                ServerConnectionHandler.handler(userData).readResponseData(
                    streamID: streamID, buffer: UnsafeMutableRawBufferPointer(start: buffer, count: length),
                    flags: flags!)
            })
        _ = nghttp2_submit_response(session, stream.id, responseHeaders, responseHeaders.count, &provider)
        stream.headersSubmitted = true
    }

    /// nghttp2's data-source read callback: copies queued messages into a DATA frame, defers when there is
    /// nothing to send or the channel is not writable, and ends with the trailers once the call is finished.
    func readResponseData(
        streamID: Int32, buffer: UnsafeMutableRawBufferPointer, flags: UnsafeMutablePointer<UInt32>
    ) -> Int {
        guard let stream = streams[streamID] else { return HTTP2Constants.errorTemporalCallbackFailure }
        if case .http = stream.phase { return copyPlainBody(stream, into: buffer, flags: flags) }
        if !stream.outbound.isEmpty, let context, !context.channel.isWritable { return deferUntilWritable(stream) }
        let written = stream.outbound.copyOut(into: buffer)
        if let budget = stream.budget {
            budget.release(written)
            if !stream.sendWaiters.isEmpty, budget.isWithinBound { stream.resumeSendWaiters() }
        }
        if stream.outbound.isEmpty, let status = stream.status, !stream.trailersSubmitted {
            flags.pointee |= HTTP2Constants.dataFlagEOF | HTTP2Constants.dataFlagNoEndStream
            submitTrailers(stream, status)
            return written
        }
        if written == 0 {
            stream.dataDeferred = true
            return HTTP2Constants.errorDeferred
        }
        return written
    }

    private func submitTrailers(_ stream: ServerStream, _ status: GRPCStatus) {
        guard let session else { return }
        stream.trailersSubmitted = true
        if status.code == .ok, status.message.isEmpty {
            _ = nghttp2_submit_trailer(session, stream.id, okTrailers, okTrailers.count)
            return
        }
        var block = HeaderBlock()
        Self.addStatus(status, to: &block)
        block.withNameValues { nameValues, count in
            _ = nghttp2_submit_trailer(session, stream.id, nameValues, count)
        }
    }

    private func submitTrailersOnly(_ stream: ServerStream, _ status: GRPCStatus, httpStatus: StaticString) {
        guard let session else { return }
        stream.headersSubmitted = true
        stream.trailersSubmitted = true
        stream.outbound = OutboundMessageQueue()
        var block = HeaderBlock()
        block.add(staticHeader(":status", httpStatus))
        block.add(staticHeader("content-type", "application/grpc"))
        Self.addStatus(status, to: &block)
        block.withNameValues { nameValues, count in
            _ = nghttp2_submit_response(session, stream.id, nameValues, count, nil)
        }
    }

    /// `grpc-status`, and `grpc-message` (percent-encoded) when there is a message.
    private static func addStatus(_ status: GRPCStatus, to block: inout HeaderBlock) {
        block.add("grpc-status", String(status.code.rawValue))
        if !status.message.isEmpty {
            block.add("grpc-message", bytes: StatusMessageCoding.encode(status.message))
        }
    }
}
