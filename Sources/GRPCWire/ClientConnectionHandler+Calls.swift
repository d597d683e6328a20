import CNGHTTP2
import NIOCore

/// Starting calls and sending requests.
extension ClientConnectionHandler {
    func startUnary(
        token: ClientCallToken, path: String, request: [UInt8], metadata: GRPCMetadata, timeout: Duration?,
        completion: @escaping @Sendable (Result<[UInt8], GRPCStatus>) -> Void
    ) {
        if let failure = startFailure(token) {
            completion(.failure(failure))
            return
        }
        guard
            let stream = submitRequest(
                token: token, path: path, metadata: metadata, timeout: timeout, kind: .unary(completion))
        else { return }
        stream.outbound.append(request)
        stream.halfCloseRequested = true
        startTimer(stream, timeout)
        outputChanged()
    }

    func startStreaming(
        token: ClientCallToken, path: String, metadata: GRPCMetadata, timeout: Duration?,
        inbound: InboundMessageBuffer, continuation: CheckedContinuation<Void, any Error>
    ) {
        if let failure = startFailure(token) {
            continuation.resume(throwing: failure)
            return
        }
        guard
            let stream = submitRequest(
                token: token, path: path, metadata: metadata, timeout: timeout, kind: .streaming(inbound))
        else { return }
        startTimer(stream, timeout)
        continuation.resume()
        outputChanged()
    }

    private func startFailure(_ token: ClientCallToken) -> GRPCStatus? {
        if token.cancelled.load(ordering: .acquiring) { return .streamCancelled }
        switch state {
        case .ready: return nil
        case .connecting, .closed: return closeStatus
        case .draining: return GRPCStatus(code: .unavailable, message: "the server is shutting down (GOAWAY)")
        }
    }

    /// Submits the request HEADERS with a data provider (DATA follows as messages are queued).
    private func submitRequest(
        token: ClientCallToken, path: String, metadata: GRPCMetadata, timeout: Duration?, kind: ClientStreamState.Kind
    ) -> ClientStreamState? {
        guard let session else { return nil }
        var block = HeaderBlock()
        block.add(requestHeaders)
        block.add(":path", path)
        block.add(":authority", settings.authority)
        block.add(requestHeadersAfterPseudo)
        if let timeout { block.add("grpc-timeout", GRPCTimeout.format(timeout)) }
        for (name, value) in metadata.pairs { block.add(name, value) }
        var provider = nghttp2_data_provider(
            source: nghttp2_data_source(ptr: nil),
            read_callback: { _, streamID, buffer, length, flags, _, userData in
                ClientConnectionHandler.handler(userData).readRequestData(
                    streamID: streamID, buffer: UnsafeMutableRawBufferPointer(start: buffer, count: length),
                    flags: flags!)
            })
        let id = block.withNameValues { nameValues, count in
            nghttp2_submit_request(session, nil, nameValues, count, &provider, nil)
        }
        let stream = ClientStreamState(
            id: id, token: token, kind: kind, maxReceiveMessageBytes: settings.maxReceiveMessageBytes)
        guard id > 0 else {
            let message = String(cString: nghttp2_strerror(id))
            complete(stream, GRPCStatus(code: .internalError, message: "cannot start stream: \(message)"))
            return nil
        }
        streams[id] = stream
        token.streamID.store(id, ordering: .releasing)
        return stream
    }

    private func startTimer(_ stream: ClientStreamState, _ timeout: Duration?) {
        guard let timeout, let context else { return }
        let nanoseconds = max(0, GRPCTimeout.nanosecondsSaturating(timeout))
        stream.timeoutTask = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanoseconds)) {
            stream.timeoutTask = nil
            self.reset(stream, .deadlineExceeded)
            self.outputChanged()
        }
    }

    /// Ends a call locally with `status` and tells the server with RST_STREAM(CANCEL). Only submits (it runs inside
    /// nghttp2's callbacks too); the caller drains.
    func reset(_ stream: ClientStreamState, _ status: GRPCStatus) {
        guard streams[stream.id] === stream, !stream.completed else { return }
        complete(stream, status)
        if let session {
            _ = nghttp2_submit_rst_stream(session, HTTP2Constants.flagNone, stream.id, HTTP2Constants.cancel)
        }
    }

    private func stream(for token: ClientCallToken) -> ClientStreamState? {
        let id = token.streamID.load(ordering: .acquiring)
        guard id > 0, let stream = streams[id], stream.token === token, !stream.completed else { return nil }
        return stream
    }

    func cancel(token: ClientCallToken) {
        guard let stream = stream(for: token) else { return }
        reset(stream, .streamCancelled)
        outputChanged()
    }

    func send(_ message: [UInt8], token: ClientCallToken, continuation: CheckedContinuation<Void, any Error>?) {
        guard let stream = stream(for: token), !stream.halfCloseRequested else {
            continuation?.resume(throwing: token.failure)
            return
        }
        stream.outbound.append(message)
        resumeData(stream)
        if let continuation {
            if token.budget.isWithinBound {
                continuation.resume()
            } else {
                stream.sendWaiters.append(continuation)
            }
        }
        outputChanged()
    }

    func halfClose(token: ClientCallToken, continuation: CheckedContinuation<Void, any Error>) {
        if let stream = stream(for: token), !stream.halfCloseRequested {
            stream.halfCloseRequested = true
            resumeData(stream)
            outputChanged()
        }
        continuation.resume()
    }

    /// nghttp2's data-source read callback for requests: queued messages, then END_STREAM on the last DATA frame
    /// once the caller half-closed.
    private func readRequestData(
        streamID: Int32, buffer: UnsafeMutableRawBufferPointer, flags: UnsafeMutablePointer<UInt32>
    ) -> Int {
        guard let stream = streams[streamID], !stream.completed else {
            return HTTP2Constants.errorTemporalCallbackFailure
        }
        if !stream.outbound.isEmpty, let context, !context.channel.isWritable { return deferUntilWritable(stream) }
        let written = stream.outbound.copyOut(into: buffer)
        if case .streaming = stream.kind {
            stream.token.budget.release(written)
            if !stream.sendWaiters.isEmpty, stream.token.budget.isWithinBound { stream.resumeSendWaiters() }
        }
        if stream.outbound.isEmpty, stream.halfCloseRequested {
            flags.pointee |= HTTP2Constants.dataFlagEOF
            return written
        }
        if written == 0 {
            stream.dataDeferred = true
            return HTTP2Constants.errorDeferred
        }
        return written
    }
}
