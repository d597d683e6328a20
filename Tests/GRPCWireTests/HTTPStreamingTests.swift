import Foundation
import Synchronization
import Testing

@testable import GRPCWire

/// Request bodies and streamed responses on the HTTP routes (what a REST API and its watches need).
@Suite("HTTP bodies and streamed responses", .timeLimit(.minutes(2)))
struct HTTPStreamingTests {
    /// `/stream` answers at once and then writes whatever `/push` posts, until `/end`; `/size` echoes the body size.
    final class Relay: Sendable {
        let body = Mutex<HTTPBodyStream?>(nil)
        let cancelled = Mutex(false)
    }

    static func routes(_ relay: Relay) -> (inout GRPCServerRouter) -> Void {
        { router in
            router.registerHTTPFallback(maxBodyBytes: 1024) { request, respond in
                switch request.path {
                case "/stream":
                    let stream = HTTPBodyStream(bufferedBytesMaximum: 64)
                    stream.onCancel { relay.cancelled.withLock { $0 = true } }
                    relay.body.withLock { $0 = stream }
                    var response = HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")])
                    response.stream = stream
                    respond(response)
                case "/size":
                    let text = request.bodyTooLarge ? "too large" : "\(request.body.count) \(request.method)"
                    respond(HTTPResponse(status: 200, body: Array(text.utf8)))
                default:
                    respond(HTTPResponse(status: 404))
                }
            }
        }
    }

    @Test func streamedResponseSendsItsHeadAtOnceThenChunksAsWritten() async throws {
        let relay = Relay()
        try await withServer(routes: Self.routes(relay)) { _, port in
            let connection = try await RawConnection.connect(port: port)
            try await connection.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = await connection.waitFor { $0.contains("\r\n\r\n") }
            #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"), "the head goes out before any body: \(head)")
            #expect(head.lowercased().contains("transfer-encoding: chunked"), "\(head)")
            let stream = try #require(relay.body.withLock { $0 })
            try await stream.write(Array("first\n".utf8))
            let first = await connection.waitFor { $0.contains("first\n") }
            #expect(first.contains("6\r\nfirst\n\r\n"), "\(first)")
            try await stream.write(Array("second\n".utf8))
            stream.finish()
            let all = await connection.waitFor { $0.hasSuffix("0\r\n\r\n") }
            #expect(all.contains("second\n"), "\(all)")
            // The connection stays usable for the next request.
            try await connection.send("POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
            let size = await connection.waitFor { $0.hasSuffix("5 POST") }
            #expect(size.hasSuffix("5 POST"), "\(size)")
            await connection.close()
        }
    }

    @Test func aClientThatGoesAwayCancelsTheProducer() async throws {
        let relay = Relay()
        try await withServer(routes: Self.routes(relay)) { _, port in
            let connection = try await RawConnection.connect(port: port)
            try await connection.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = await connection.waitFor { $0.contains("\r\n\r\n") }
            let stream = try #require(relay.body.withLock { $0 })
            await connection.close()
            var sawClosed = false
            for _ in 0..<200 {
                do {
                    try await stream.write(Array(repeating: 65, count: 32))
                } catch {
                    sawClosed = true
                    break
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(sawClosed, "writes fail once the client is gone")
            #expect(relay.cancelled.withLock { $0 }, "the producer's cancel handler ran")
        }
    }

    @Test func bodiesPastTheBoundAreMarkedNotDelivered() async throws {
        let relay = Relay()
        try await withServer(routes: Self.routes(relay)) { _, port in
            let connection = try await RawConnection.connect(port: port)
            let body = String(repeating: "b", count: 2000)
            try await connection.send("POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n\(body)")
            let answer = await connection.readUntilClosed()
            #expect(answer.hasSuffix("too large"), "\(answer)")
            #expect(connection.isClosed, "the connection closes after a body past the bound")
        }
    }

    @Test func aBoundedStreamMakesItsWriterWait() async throws {
        let stream = HTTPBodyStream(bufferedBytesMaximum: 8)
        try await stream.write(Array(repeating: 1, count: 8))
        let wrote = Mutex(false)
        let writer = Task {
            try await stream.write([2])
            wrote.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!wrote.withLock { $0 }, "a full buffer holds the writer")
        let chunk = await stream.read()
        #expect(chunk == Array(repeating: 1, count: 8))
        try await writer.value
        #expect(wrote.withLock { $0 })
        #expect(await stream.read() == [2])
        stream.finish()
        #expect(await stream.read() == nil)
    }
}

/// WebSocket upgrades on the HTTP routes (RFC 6455), as exec, attach and port-forward will use them.
@Suite("WebSocket upgrades", .timeLimit(.minutes(2)))
struct WebSocketUpgradeTests {
    static func routes(_ router: inout GRPCServerRouter) {
        router.registerHTTPFallback(maxBodyBytes: 1024) { request, respond in
            let session = WebSocketSession(subprotocol: "v5.channel.k8s.io")
            var response = HTTPResponse(status: 400, body: Array("not an upgrade".utf8))
            response.webSocket = session
            respond(response)
            Task {
                for await message in session.messages {
                    guard case .text(let text) = message else { continue }
                    try? await session.send(.text("echo: \(text)"))
                }
            }
        }
    }

    /// A client frame: FIN, the opcode, masked with a fixed key (clients must mask).
    static func clientFrame(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let mask: [UInt8] = [1, 2, 3, 4]
        var bytes: [UInt8] = [0x80 | opcode, 0x80 | UInt8(payload.count)] + mask
        for (index, byte) in payload.enumerated() { bytes.append(byte ^ mask[index % 4]) }
        return bytes
    }

    static func contains(_ bytes: [UInt8], _ part: [UInt8]) -> Bool {
        guard bytes.count >= part.count else { return false }
        return (0...(bytes.count - part.count)).contains { Array(bytes[$0..<$0 + part.count]) == part }
    }

    @Test func upgradesAnswersTheHandshakeAndCarriesMessages() async throws {
        try await withServer(routes: Self.routes) { _, port in
            let connection = try await RawConnection.connect(port: port)
            try await connection.send(
                "GET /exec HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                    + "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n")
            let head = await connection.waitFor { $0.contains("\r\n\r\n") }
            #expect(head.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"), "\(head)")
            // RFC 6455's own example key and answer.
            #expect(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "\(head)")
            #expect(head.contains("Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n"), "\(head)")
            try await connection.send(bytes: Self.clientFrame(opcode: 0x1, Array("hello".utf8)))
            _ = await connection.waitFor { $0.contains("echo: hello") }
            // An unmasked server text frame: 0x81, the length, the payload.
            #expect(Self.contains(connection.receivedBytes, [0x81, 0x0B] + Array("echo: hello".utf8)))
            try await connection.send(bytes: Self.clientFrame(opcode: 0x8, [0x03, 0xE8]))
            _ = await connection.readUntilClosed()
            #expect(Self.contains(connection.receivedBytes, [0x88, 0x02, 0x03, 0xE8]), "the close is answered")
            #expect(connection.isClosed)
        }
    }

    @Test func aPlainRequestToTheSameRouteGetsTheOrdinaryAnswer() async throws {
        try await withServer(routes: Self.routes) { _, port in
            let connection = try await RawConnection.connect(port: port)
            try await connection.send("GET /exec HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let answer = await connection.readUntilClosed()
            #expect(answer.hasPrefix("HTTP/1.1 400 "), "\(answer)")
            #expect(answer.hasSuffix("not an upgrade"), "\(answer)")
        }
    }
}
