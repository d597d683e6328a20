import GRPCWire
import Glibc
import KubeAPI
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// `port-forward` as the kubelet serves it (`portforward.handleHTTPStreams`), over SPDY/3.1 (protocol
/// `portforward.k8s.io`) or over a WebSocket that tunnels the same SPDY bytes (subprotocol
/// `SPDY/3.1+portforward.k8s.io`, kubectl ≥ 1.31). For each local connection the client opens two streams with
/// the same `requestID` and `port` headers: `streamType: error` and `streamType: data`. Once both are there, the
/// server connects to the port inside the pod and copies bytes both ways on the data stream; a failure is written
/// on the error stream as text, and both are closed when the forwarding ends.
public enum PortForwardSession {
    public static let spdyProtocol = "portforward.k8s.io"
    public static let tunnelSubprotocol = "SPDY/3.1+portforward.k8s.io"
    /// How long the second stream of a pair may take (the kubelet's `streamCreationTimeout`).
    static let pairTimeout: Duration = .seconds(30)
    /// Pairs waiting for their second stream, at most.
    static let pendingPairsMaximum = 64

    /// Connects to a port inside the pod; returns a connected socket the session takes ownership of.
    public typealias Connect = @Sendable (_ port: UInt16) async throws -> Int32

    /// Answers a port-forward request: a SPDY upgrade, or a WebSocket offering the tunnel subprotocol. `pod` names
    /// the pod in error messages.
    public static func start(request: HTTPRequest, pod: String, logger: Logger, connect: @escaping Connect)
        throws(KubeError) -> HTTPResponse
    {
        let isWebSocket = request.header("upgrade")?.lowercased() == "websocket"
        if isWebSocket {
            let offered = ChannelProtocol.offered(in: request)
            guard offered.contains(tunnelSubprotocol), !request.isHTTP2 else {
                throw KubeError(
                    code: 403, reason: "Forbidden",
                    message: "requested protocol(s) are not supported: [\(offered.joined(separator: " "))]; "
                        + "supports [\(tunnelSubprotocol)]")
            }
            // One SPDY frame is several small messages from Go's framer: room for many before the stream's bound.
            let webSocket = WebSocketSession(subprotocol: tunnelSubprotocol, inboundMessagesMaximum: 4096)
            var response = HTTPResponse(status: 400, body: Array("unable to upgrade".utf8))
            response.webSocket = webSocket
            Task {
                await SPDYUpgrade.serve(webSocket: webSocket, logger: logger) { session in
                    await serve(session, pod: pod, connect: connect, logger: logger)
                }
            }
            return response
        }
        let (_, upgrade, response) = try SPDYUpgrade.accept(request, supported: [spdyProtocol])
        Task {
            await SPDYUpgrade.serve(upgrade, logger: logger) { session in
                await serve(session, pod: pod, connect: connect, logger: logger)
            }
        }
        return response
    }

    /// Pairs the client's streams by request id and forwards each complete pair, until the session ends.
    static func serve(_ session: SPDYSession, pod: String, connect: @escaping Connect, logger: Logger) async {
        let pairs = PendingPairs()
        await withDiscardingTaskGroup { group in
            for await stream in session.incomingStreams {
                guard let (port, type) = validate(stream) else {
                    await stream.reset(status: SPDYFrame.ResetStatus.protocolError)
                    continue
                }
                do { try await stream.reply() } catch { break }
                let requestID = stream.headers["requestid"] ?? legacyRequestID(stream, type: type)
                switch pairs.add(stream, type: type, requestID: requestID) {
                case .waiting(let isNew):
                    guard isNew else { continue }
                    group.addTask {
                        try? await Task.sleep(for: pairTimeout)
                        guard let lone = pairs.expire(requestID) else { return }
                        await lone.data?.reset()
                        try? await lone.error?.write(Array("timed out waiting for streams".utf8))
                        await lone.error?.closeWrite()
                    }
                case .complete(let data, let error):
                    group.addTask {
                        await forward(data: data, error: error, port: port, pod: pod, connect: connect, logger: logger)
                    }
                case .duplicate:
                    let message = "error processing stream for request \(requestID): \(type) stream already assigned"
                    logger.debug("port-forward: \(message)")
                    await stream.reset()
                case .full:
                    await stream.reset(status: SPDYFrame.ResetStatus.refusedStream)
                }
            }
            // The connection is gone: nothing forwarded may outlive it.
            group.cancelAll()
        }
    }

    /// The port (1-65535) and stream type (error or data) of a stream; nil for streams the kubelet rejects.
    static func validate(_ stream: SPDYStream) -> (UInt16, String)? {
        guard let text = stream.headers["port"], let port = UInt16(text), port > 0,
            let type = stream.headers["streamtype"], type == "error" || type == "data"
        else { return nil }
        return (port, type)
    }

    /// Clients older than request ids: the error stream's id names the pair, its data stream comes next.
    static func legacyRequestID(_ stream: SPDYStream, type: String) -> String {
        String(type == "error" ? stream.id : stream.id &- 2)
    }

    /// One forwarded connection: `data` to and from the pod's port, a failure on `error`; both closed after.
    static func forward(
        data: SPDYStream, error: SPDYStream, port: UInt16, pod: String, connect: Connect, logger: Logger
    ) async {
        do {
            let socket = try await connect(port)
            try await copy(socket: socket, data)
        } catch let failure {
            let message = "error forwarding port \(port) to pod \(pod), uid : \(failure)"
            logger.debug("port-forward: \(message)")
            try? await error.write(Array(message.utf8))
        }
        await data.closeWrite()
        await error.closeWrite()
    }

    /// Copies both ways until the pod's side ends (its FIN goes to the client as ours); the client's FIN
    /// half-closes the socket. Takes ownership of `socket`.
    static func copy(socket: Int32, _ data: SPDYStream) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .withConnectedSocket(socket) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(
                            backPressureStrategy: StreamPumps.backPressure, isOutboundHalfClosureEnabled: true))
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            let toPod = Task {
                while let bytes = await data.read() {
                    do { try await outbound.write(ByteBuffer(bytes: bytes)) } catch { return }
                }
                outbound.finish()
            }
            do {
                for try await buffer in inbound { try await data.write(Array(buffer.readableBytesView)) }
            } catch {
                // The pod's side or the client's stream ended: the forwarding is over either way.
            }
            toPod.cancel()
            await toPod.value
        }
    }
}

/// Streams waiting for the other of their pair, by request id (bounded).
final class PendingPairs: Sendable {
    enum Outcome {
        case waiting(isNew: Bool)
        case complete(data: SPDYStream, error: SPDYStream)
        case duplicate
        case full
    }

    private let pairs = Mutex<[String: (data: SPDYStream?, error: SPDYStream?)]>([:])

    func add(_ stream: SPDYStream, type: String, requestID: String) -> Outcome {
        pairs.withLock { pairs in
            let existing = pairs[requestID]
            guard existing != nil || pairs.count < PortForwardSession.pendingPairsMaximum else { return .full }
            var pair = existing ?? (nil, nil)
            if type == "data" {
                guard pair.data == nil else { return .duplicate }
                pair.data = stream
            } else {
                guard pair.error == nil else { return .duplicate }
                pair.error = stream
            }
            if let data = pair.data, let error = pair.error {
                pairs[requestID] = nil
                return .complete(data: data, error: error)
            }
            pairs[requestID] = pair
            return .waiting(isNew: existing == nil)
        }
    }

    /// The pair if it is still incomplete (it is dropped); nil when it completed.
    func expire(_ requestID: String) -> (data: SPDYStream?, error: SPDYStream?)? {
        pairs.withLock { $0.removeValue(forKey: requestID) }
    }
}
