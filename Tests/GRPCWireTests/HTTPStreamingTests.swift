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
