import GRPCWire
import KubeAPI

/// An exec or attach WebSocket: the session the HTTP handler answers with, and the channel protocol agreed on.
final class StreamConnection: Sendable {
    let session: WebSocketSession
    let channelProtocol: ChannelProtocol

    /// How long the upgrade may take to complete before the session is given up (the 101 is written by the
    /// connection after the handler answered; the session can send only from then on).
    static let openTimeout: Duration = .seconds(10)

    private init(session: WebSocketSession, channelProtocol: ChannelProtocol) {
        self.session = session
        self.channelProtocol = channelProtocol
    }

    /// Checks that `request` is a WebSocket upgrade offering a supported subprotocol and makes the response that
    /// accepts it. SPDY, the other transport the kubelet serves, is not offered: a request that is not a WebSocket
    /// upgrade is refused as the kubelet's SPDY upgrader refuses it.
    static func accept(_ request: HTTPRequest) throws(KubeError) -> (StreamConnection, HTTPResponse) {
        let upgrade = request.header("upgrade")?.lowercased() == "websocket"
        let connection = request.header("connection")?.lowercased().contains("upgrade") ?? false
        guard upgrade, connection, !request.isHTTP2 else {
            throw .badRequest("unable to upgrade: missing upgrade headers in request")
        }
        let offered = ChannelProtocol.offered(in: request)
        guard let agreement = ChannelProtocol.negotiate(offered: offered) else {
            let supported = ChannelProtocol.allCases.map(\.rawValue).joined(separator: " ")
            throw KubeError(
                code: 403, reason: "Forbidden",
                message: "requested protocol(s) are not supported: [\(offered.joined(separator: " "))]; "
                    + "supports [\(supported)]")
        }
        let session = WebSocketSession(subprotocol: agreement.subprotocol, inboundMessagesMaximum: 64)
        var response = HTTPResponse(status: 400, body: Array("unable to upgrade".utf8))
        response.webSocket = session
        return (StreamConnection(session: session, channelProtocol: agreement.channelProtocol), response)
    }

    /// Waits for the upgrade to complete by sending what the kubelet sends first: an empty message on the lowest
    /// output channel the client asked for (the error channel when none), which tells the client the streams are
    /// ready. False when the connection never opened.
    func open(_ options: StreamOptions) async -> Bool {
        let channel =
            options.stdout ? ChannelProtocol.stdout : options.stderr ? ChannelProtocol.stderr : ChannelProtocol.error
        let deadline = ContinuousClock.now + Self.openTimeout
        while ContinuousClock.now < deadline {
            do {
                try await session.send(channelProtocol.frame(channel: channel, []))
                return true
            } catch {
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        return false
    }

    /// Sends `bytes` on `channel`; throws once the client is gone.
    func send(channel: UInt8, _ bytes: [UInt8]) async throws {
        try await session.send(channelProtocol.frame(channel: channel, bytes))
    }

    /// Reports the outcome on the error channel and closes the connection.
    func finish(_ status: StreamStatus) async {
        if let payload = status.payload(for: channelProtocol) {
            try? await send(channel: ChannelProtocol.error, payload)
        }
        session.close()
    }
}
