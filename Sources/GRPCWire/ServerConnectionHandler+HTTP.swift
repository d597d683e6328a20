import CNGHTTP2

/// Plain HTTP over HTTP/2: a request that is not gRPC (not a POST with gRPC's content type) for a path registered
/// with `registerHTTP` is answered by that handler, as etcd's Go server does for `/health` when a client such as
/// curl negotiates h2 over TLS. Everything else keeps grpc-go's answers (RST_STREAM, 415, unimplemented).
extension ServerConnectionHandler {
    /// Header fields HTTP/2 forbids (RFC 9113 §8.2.2); a handler written for HTTP/1 may set them.
    private static let connectionSpecificHeaders: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
    ]

    func answerHTTP(_ stream: ServerStream) {
        guard let link else { return }
        let method = stream.isPost ? "POST" : stream.otherMethod
        // The stream's metadata holds the non-reserved fields (content-type, te and grpc-* are not among them).
        var request = HTTPRequest(method: method, target: stream.path, headers: stream.metadata.map { ($0.0, $0.1) })
        request.body = stream.plainRequestBody
        request.bodyTooLarge = stream.plainRequestTooLarge
        request.peerCertificate = peerCertificate
        request.isHTTP2 = true
        // The gRPC machinery keeps content-type apart from the other fields; a plain request needs it back.
        if !stream.contentType.isEmpty { request.headers.append(("content-type", stream.contentType)) }
        stream.metadata = []
        stream.plainRequestBody = []
        // Finished as far as the gRPC machinery goes: request data is consumed and dropped, no deadline runs.
        stream.phase = .http
        stream.status = .ok
        stream.headersSubmitted = true
        stream.trailersSubmitted = true
        let streamID = stream.id
        // An answer given before `answer` returns is sent by the caller's flush (this runs inside nghttp2's
        // callbacks, where its output must not be driven); a later one, after a hop back here, flushes itself.
        let returned = ReturnMark()
        router.http.answer(request) { response in
            // Back on the event loop; the stream may be gone (reset, connection closed) by then.
            _ = link.run { handler in
                guard let stream = handler.streams[streamID] else { return }
                handler.submitHTTPResponse(response, method: method, on: stream)
                if returned.value { handler.outputChanged() }
            }
        }
        returned.value = true
    }

    private func submitHTTPResponse(_ response: HTTPResponse, method: String, on stream: ServerStream) {
        guard let session else { return }
        var block = HeaderBlock()
        block.add(":status", String(response.status))
        for (name, value) in response.headers {
            let lowercased = name.lowercased()
            if lowercased != "content-length", !Self.connectionSpecificHeaders.contains(lowercased) {
                block.add(lowercased, value)
            }
        }
        if let body = response.stream, method != "HEAD" {
            stream.plainStream = body
        } else {
            block.add("content-length", String(response.body.count))
        }
        guard method != "HEAD", !response.body.isEmpty || stream.plainStream != nil else {
            block.withNameValues { nameValues, count in
                _ = nghttp2_submit_response(session, stream.id, nameValues, count, nil)
            }
            return
        }
        stream.plainBody = response.body
        var provider = nghttp2_data_provider(
            source: nghttp2_data_source(ptr: nil),
            read_callback: { _, streamID, buffer, length, flags, _, userData in
                ServerConnectionHandler.handler(userData).readResponseData(
                    streamID: streamID, buffer: UnsafeMutableRawBufferPointer(start: buffer, count: length),
                    flags: flags!)
            })
        block.withNameValues { nameValues, count in
            _ = nghttp2_submit_response(session, stream.id, nameValues, count, &provider)
        }
    }

    /// The data provider for `.http` streams: the body, then END_STREAM on the last DATA frame.
    func copyPlainBody(
        _ stream: ServerStream, into buffer: UnsafeMutableRawBufferPointer, flags: UnsafeMutablePointer<UInt32>
    ) -> Int {
        if let body = stream.plainStream { return copyStreamedBody(body, of: stream, into: buffer, flags: flags) }
        let take = min(buffer.count, stream.plainBody.count - stream.plainBodyOffset)
        stream.plainBody.withUnsafeBytes { bytes in
            let source = UnsafeRawBufferPointer(rebasing: bytes[stream.plainBodyOffset..<stream.plainBodyOffset + take])
            UnsafeMutableRawBufferPointer(rebasing: buffer[0..<take]).copyMemory(from: source)
        }
        stream.plainBodyOffset += take
        if stream.plainBodyOffset == stream.plainBody.count { flags.pointee |= HTTP2Constants.dataFlagEOF }
        return take
    }

    /// A streamed body: what its producer has written so far; deferred (and woken by the producer) when nothing
    /// is queued, or until the channel drains when it is not writable.
    private func copyStreamedBody(
        _ body: HTTPBodyStream, of stream: ServerStream, into buffer: UnsafeMutableRawBufferPointer,
        flags: UnsafeMutablePointer<UInt32>
    ) -> Int {
        if let context, !context.channel.isWritable { return deferUntilWritable(stream) }
        let streamID = stream.id
        let link = self.link
        let (bytes, finished) = body.take(maximum: buffer.count) {
            link?.run { handler in
                guard let stream = handler.streams[streamID] else { return }
                handler.resumeData(stream)
                handler.outputChanged()
            }
        }
        if bytes.isEmpty && !finished {
            stream.dataDeferred = true
            return HTTP2Constants.errorDeferred
        }
        bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes.count]).copyMemory(from: $0) }
        if finished { flags.pointee |= HTTP2Constants.dataFlagEOF }
        return bytes.count
    }
}

/// Set on the event loop once `answerHTTP` returned; read only there.
private final class ReturnMark: @unchecked Sendable { var value = false }
