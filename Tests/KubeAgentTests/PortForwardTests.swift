import Foundation
import GRPCWire
import Glibc
import KubeAPI
import Logging
import NIOCore
import Synchronization
import Testing

@testable import KubeAgent

/// Port-forward over SPDY and over the WebSocket tunnel, to a real echo server reached through
/// `connectInNetworkNamespace` (the host's namespace, `/proc/self/ns/net`).
@Suite("Port-forward", .timeLimit(.minutes(2)))
struct PortForwardTests {
    @Sendable static func forwardOnHost(_ request: HTTPRequest) throws(KubeError) -> HTTPResponse {
        try PortForwardSession.start(request: request, pod: "default/echo", logger: Logger(label: "test")) { port in
            try await connectInNetworkNamespace(path: "/proc/self/ns/net", port: port)
        }
    }

    /// One forwarded connection as kubectl makes it: the error stream (its write side closed at once), the data
    /// stream; `payload` sent and half-closed; what comes back until the server's FIN, and the error stream's text.
    @Sendable static func exchange(
        _ session: SPDYSession, port: Int, requestID: Int, payload: [UInt8]
    ) async throws -> (echo: [UInt8], error: String) {
        let headers = { (type: String) in
            SPDYHeaders([("streamType", type), ("port", String(port)), ("requestID", String(requestID))])
        }
        let error = try await session.openStream(headers: headers("error"))
        await error.closeWrite()
        let data = try await session.openStream(headers: headers("data"))
        async let echo = data.readAll(limit: 1 << 22)
        try await data.write(payload)
        await data.closeWrite()
        return (await echo, await error.text())
    }

    @Test func bytesBothWaysOverSPDY() async throws {
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try await withEchoServer { echoPort in
            try await withStreamServer(Self.forwardOnHost) { port in
                let outcome = try await SPDYTestClient.with(
                    port: port, target: "/portforward", protocols: ["portforward.k8s.io"]
                ) { session, _ in
                    // Two connections at once on one session, as two local clients would make.
                    async let first = Self.exchange(
                        session, port: echoPort, requestID: 0, payload: Array("hello\n".utf8))
                    async let second = Self.exchange(session, port: echoPort, requestID: 1, payload: big)
                    let results = try await [first, second]
                    session.close()
                    return results.map { $0.echo.count }
                }
                guard case .upgraded(let answer, let counts) = outcome else {
                    Issue.record("\(outcome)")
                    return
                }
                #expect(answer.header("X-Stream-Protocol-Version") == "portforward.k8s.io")
                #expect(counts == [6, big.count])
            }
        }
    }

    @Test func refusedPortIsReportedOnTheErrorStream() async throws {
        // A port nothing listens on: bind one, note it, close it.
        let closedPort = try await withEchoServer { $0 }
        try await withStreamServer(Self.forwardOnHost) { port in
            let outcome = try await SPDYTestClient.with(
                port: port, target: "/portforward", protocols: ["portforward.k8s.io"]
            ) { session, _ in
                let result = try await Self.exchange(session, port: closedPort, requestID: 0, payload: [1])
                session.close()
                return result.error
            }
            guard case .upgraded(_, let error) = outcome else {
                Issue.record("\(outcome)")
                return
            }
            #expect(
                error
                    == "error forwarding port \(closedPort) to pod default/echo, uid : dial tcp4 127.0.0.1:\(closedPort): connect: connection refused"
            )
        }
    }

    /// kubectl ≥ 1.31: the SPDY bytes in WebSocket binary messages.
    @Test func bytesBothWaysThroughTheWebSocketTunnel() async throws {
        try await withEchoServer { echoPort in
            try await withStreamServer(Self.forwardOnHost) { port in
                try await WebSocketTestClient.with(
                    port: port, target: "/portforward", protocols: ["SPDY/3.1+portforward.k8s.io"]
                ) { client in
                    #expect(client.status == 101, "\(client.head)")
                    #expect(client.head.contains("Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io"))
                    let box = UncheckedClient(client)
                    let session = SPDYSession(
                        role: .client, logger: Logger(label: "tunnel-client"), peerKeepsWindows: true,
                        write: { bytes in try await box.client.send(binary: bytes) },
                        close: { Task { await box.client.drop() } })
                    let work = Task {
                        let result = try await Self.exchange(
                            session, port: echoPort, requestID: 0, payload: Array("through the tunnel".utf8))
                        session.close()
                        return result
                    }
                    await session.run(reading: WebSocketBytes(client: client))
                    let result = try await work.value
                    #expect(String(decoding: result.echo, as: UTF8.self) == "through the tunnel")
                    #expect(result.error == "")
                }
            }
        }
    }

    @Test func connectInANamespaceSynchronously() async throws {
        try await withEchoServer { echoPort in
            let descriptor = try connectInNetworkNamespace(path: "/proc/self/ns/net", port: UInt16(echoPort))
            defer { close(descriptor) }
            #expect(Glibc.write(descriptor, "ping", 4) == 4)
            var buffer = [UInt8](repeating: 0, count: 4)
            #expect(Glibc.read(descriptor, &buffer, 4) == 4)
            #expect(buffer == Array("ping".utf8))
        }
        #expect(throws: NamespaceConnectError.self) {
            try connectInNetworkNamespace(path: "/run/netns/no-such-namespace", port: 80)
        }
    }
}

/// The test client's binary messages as one byte sequence.
struct WebSocketBytes: AsyncSequence {
    typealias Element = [UInt8]
    let client: WebSocketTestClient

    struct AsyncIterator: AsyncIteratorProtocol {
        let client: WebSocketTestClient
        mutating func next() async throws -> [UInt8]? {
            while let frame = try await client.next() {
                if frame.opcode == 0x2 { return frame.payload }
                if frame.opcode == 0x8 { return nil }
            }
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(client: client) }
}

/// The test client's writes happen from the session's writer while the test reads; they touch separate state.
final class UncheckedClient: @unchecked Sendable {
    let client: WebSocketTestClient
    init(_ client: WebSocketTestClient) { self.client = client }
}
