import GRPCWire
import KubeAPI
import Logging
import NIOCore
import Synchronization

/// The SPDY/3.1 upgrade as the kubelet answers it (`httpstream.Handshake`, `spdy.responseUpgrader`): the request
/// has `Connection: Upgrade` and `Upgrade: SPDY/3.1` and offers protocols in `X-Stream-Protocol-Version`; the first
/// one offered that the server supports is answered in the 101's own `X-Stream-Protocol-Version`.
public enum SPDYUpgrade {
    public static let upgradeProtocol = "SPDY/3.1"
    static let protocolHeader = "x-stream-protocol-version"

    /// True when `request` asks for a SPDY/3.1 upgrade (kubectl before WebSockets: exec, attach, port-forward).
    public static func isRequested(_ request: HTTPRequest) -> Bool {
        let upgrade = request.headers.contains {
            $0.name == "upgrade" && $0.value.lowercased().contains(upgradeProtocol.lowercased())
        }
        let connection = request.headers.contains {
            $0.name == "connection" && $0.value.lowercased().contains("upgrade")
        }
        return upgrade && connection
    }

    /// The protocols a request offers in `X-Stream-Protocol-Version` (repeated and/or comma-separated), in order.
    static func offered(in request: HTTPRequest) -> [String] {
        request.headers.filter { $0.name == protocolHeader }
            .flatMap { $0.value.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    /// Negotiates and makes the 101 answer: the agreed protocol, the session the connection will be handed to, and
    /// the response. Refusals are worded as the kubelet words them.
    static func accept(_ request: HTTPRequest, supported: [String]) throws(KubeError)
        -> (agreed: String, upgrade: RawUpgradeSession, response: HTTPResponse)
    {
        guard isRequested(request), !request.isHTTP2 else {
            throw .badRequest("unable to upgrade: missing upgrade headers in request")
        }
        let offered = offered(in: request)
        guard !offered.isEmpty else { throw .badRequest("unable to upgrade: X-Stream-Protocol-Version is required") }
        guard let agreed = offered.first(where: { supported.contains($0) }) else {
            throw KubeError(
                code: 403, reason: "Forbidden",
                message:
                    "unable to upgrade: unable to negotiate protocol: client supports [\(offered.joined(separator: " "))], "
                    + "server accepts [\(supported.joined(separator: " "))]")
        }
        let upgrade = RawUpgradeSession(upgradeProtocol: upgradeProtocol)
        var response = HTTPResponse(status: 400, headers: [("X-Stream-Protocol-Version", agreed)])
        response.rawUpgrade = upgrade
        return (agreed, upgrade, response)
    }

    /// Runs a server session on the upgraded connection with `body` beside it; returns when both are over (the
    /// connection is closed then). `body` must return once the session has ended.
    static func serve(
        _ upgrade: RawUpgradeSession, logger: Logger, _ body: @escaping @Sendable (SPDYSession) async -> Void
    ) async {
        guard let connection = await upgrade.connection() else {
            logger.debug("SPDY upgrade never completed")
            return
        }
        try? await connection.executeThenClose { inbound, outbound in
            let channel = connection.channel
            let session = SPDYSession(
                role: .server, logger: logger,
                write: { bytes in try await outbound.write(ByteBuffer(bytes: bytes)) },
                close: { channel.close(promise: nil) })
            let work = Task {
                // Peers that keep windows hold to ours from the first byte (spdystream ignores SETTINGS).
                try? await session.sendSettings()
                await body(session)
            }
            await session.run(reading: inbound.map { Array($0.readableBytesView) })
            await work.value
        }
    }

    /// Runs a server session whose bytes travel in a WebSocket's binary messages (kubectl ≥ 1.31's port-forward:
    /// subprotocol `SPDY/3.1+portforward.k8s.io`), with `body` beside it.
    static func serve(
        webSocket: WebSocketSession, logger: Logger, _ body: @escaping @Sendable (SPDYSession) async -> Void
    ) async {
        let opened = Atomic<Bool>(false)
        let session = SPDYSession(
            role: .server, logger: logger,
            write: { bytes in
                // The 101 goes out after the handler answered: until then sends fail, so the first waits for it.
                let deadline = ContinuousClock.now + .seconds(10)
                while true {
                    do {
                        try await webSocket.send(.binary(bytes))
                        opened.store(true, ordering: .relaxed)
                        return
                    } catch {
                        if opened.load(ordering: .relaxed) || ContinuousClock.now > deadline { throw error }
                        try await Task.sleep(for: .milliseconds(5))
                    }
                }
            },
            close: { webSocket.close() })
        let work = Task {
            try? await session.sendSettings()
            await body(session)
        }
        // Text messages are not SPDY: they end the session as the client's tunnel would.
        await session.run(
            reading: webSocket.messages.map { message -> [UInt8] in
                guard case .binary(let bytes) = message else {
                    webSocket.close(code: 1003)
                    return []
                }
                return bytes
            })
        webSocket.close()
        await work.value
    }
}
