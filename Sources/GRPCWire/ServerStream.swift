import NIOCore

/// Per-stream state of one server connection, owned by its `ServerConnectionHandler` (event loop only).
/// nghttp2 gets no pointer to it (it would leak when a session is deleted with streams open); the handler looks
/// streams up by ID.
final class ServerStream: HTTP2FlowControlledStream {
    enum Phase {
        /// Request HEADERS still arriving.
        case receivingHeaders
        /// A unary method: collecting the request message until the client's END_STREAM.
        case unary(GRPCServerRouter.UnaryHandler)
        case unaryDispatched(GRPCUnaryCall)
        case streaming(GRPCStreamingCall)
        /// Answered without running a handler (unknown method, bad request, early error).
        case rejected
        /// A plain HTTP request whose body is arriving (`plainRequestBody`); answered at END_STREAM.
        case httpReceiving
        /// A plain HTTP request answered by an `HTTPRoutes` handler; `plainBody` (or `plainStream`) is being sent.
        case http
    }

    let id: Int32
    var phase = Phase.receivingHeaders

    // Request headers.
    var path = ""
    var isPost = false
    /// `:method` when it is not POST (kept only then, so gRPC calls allocate nothing for it).
    var otherMethod = ""
    var contentTypeValid = false
    var contentType = ""
    var encoding: String?
    var timeout: Duration?
    var timeoutMalformed = false
    var deadline: ContinuousClock.Instant?
    var metadata: [(String, String)] = []
    var headerBytes = 0

    // Inbound messages.
    var deframer: MessageDeframer
    var request: [UInt8]?
    var requestCount = 0
    var remoteClosed = false
    /// Streaming only: the consumer fell behind, so stream-level window is withheld.
    var inboundPaused = false
    var withheldWindowBytes = 0

    // Outbound.
    var headersSubmitted = false
    var outbound = OutboundMessageQueue()
    /// Set once the call is finished; trailers carrying it go out after the queued messages.
    var status: GRPCStatus?
    var trailersSubmitted = false
    /// The data provider returned NGHTTP2_ERR_DEFERRED and needs `nghttp2_session_resume_data`.
    var dataDeferred = false
    var sendWaiters = FIFO<CheckedContinuation<Void, any Error>>()
    /// Streaming calls: the sender's budget, released as the data provider copies bytes out.
    var budget: OutboundBudget?
    /// `.http` phase: the response body and how much of it nghttp2 has taken.
    var plainBody: [UInt8] = []
    var plainBodyOffset = 0
    var plainStream: HTTPBodyStream?
    /// `.httpReceiving` phase: the request body so far, or nothing once it went past the routes' bound.
    var plainRequestBody: [UInt8] = []
    var plainRequestTooLarge = false
    var deadlineTask: Scheduled<Void>?

    init(id: Int32, maxReceiveMessageBytes: Int) {
        self.id = id
        self.deframer = MessageDeframer(limit: maxReceiveMessageBytes)
    }

    func resumeSendWaiters() {
        while let waiter = sendWaiters.popFirst() { waiter.resume() }
    }

    func failSendWaiters(_ status: GRPCStatus) {
        while let waiter = sendWaiters.popFirst() { waiter.resume(throwing: status) }
    }

    /// The status for a framing failure, worded like grpc-go (`recvAndDecompress`/`checkRecvPayload`).
    func status(for failure: MessageDeframer.Failure) -> GRPCStatus {
        switch failure {
        case .tooLarge(let length, let limit):
            return GRPCStatus(
                code: .resourceExhausted, message: "grpc: received message larger than max (\(length) vs. \(limit))")
        case .compressed(let flag) where flag == 1:
            guard let encoding, encoding != "identity" else {
                return GRPCStatus(
                    code: .internalError, message: "grpc: compressed flag set with identity or empty encoding")
            }
            return GRPCStatus(
                code: .unimplemented, message: "grpc: Decompressor is not installed for grpc-encoding \"\(encoding)\"")
        case .compressed(let flag):
            return GRPCStatus(code: .internalError, message: "grpc: received unexpected payload format \(flag)")
        }
    }
}
