import Foundation
import NIOCore
import NIOSSL
import Testing

@testable import GRPCWire

/// gRPC and plain HTTP on one port: the first bytes of a connection pick the protocol.
@Suite("HTTP routes beside gRPC", .timeLimit(.minutes(2)))
struct HTTPHealthTests {
    static let healthBody = #"{"health":"true"}"#

    /// Echo gRPC methods, `/health`, and `/echo` which answers with what it saw of the request.
    static func routes(_ router: inout GRPCServerRouter) {
        registerEcho(&router)
        router.registerHTTP("/health") { request in
            guard request.method == "GET" else {
                var response = HTTPResponse.error(status: 405, "Method Not Allowed")
                response.headers.append(("Allow", "GET"))
                return response
            }
            return HTTPResponse(
                status: 200, headers: [("Content-Type", "application/json")], body: Array(healthBody.utf8))
        }
        router.registerHTTP("/echo") { request in
            let agent = request.headers.first { $0.name == "x-test" }?.value ?? "-"
            return HTTPResponse(
                status: 200, body: Array("\(request.method) \(request.path) [\(request.query)] \(agent)".utf8))
        }
    }

    @Test func detectsTheHTTP2PrefaceByteByByte() {
        let preface = ProtocolSniffer.http2Preface
        for length in 0..<preface.count {
            #expect(ProtocolSniffer.detect(ByteBuffer(bytes: preface.prefix(length))) == nil, "prefix \(length)")
        }
        #expect(ProtocolSniffer.detect(ByteBuffer(bytes: preface)) == .http2)
        #expect(ProtocolSniffer.detect(ByteBuffer(bytes: preface + [0, 0, 0])) == .http2)
        #expect(ProtocolSniffer.detect(ByteBuffer(string: "GET / HTTP/1.1\r\n")) == .http1)
        #expect(ProtocolSniffer.detect(ByteBuffer(string: "PRI * HTTP/1.1")) == .http1)
        #expect(ProtocolSniffer.detect(ByteBuffer(string: "G")) == .http1)
    }

    @Test func grpcAndHTTPShareOnePort() async throws {
        try await withServer(routes: Self.routes) { _, port in
            try await withClient(port: port) { client in
                #expect(try await client.unary("/test.Echo/Unary", request: [1, 2, 3]) == [1, 2, 3])
                let connection = try await RawConnection.connect(port: port)
                try await connection.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                let response = await connection.readUntilClosed()
                #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(response)")
                #expect(response.lowercased().contains("content-length: 17\r\n"), "\(response)")
                #expect(response.hasSuffix("\r\n\r\n" + Self.healthBody), "\(response)")
                #expect(connection.isClosed)
                // The gRPC connection opened before is unaffected.
                #expect(try await client.unary("/test.Echo/Unary", request: [4]) == [4])
            }
        }
    }

    @Test func unknownPathWrongMethodAndHead() async throws {
        try await withServer(routes: Self.routes) { _, port in
            let connection = try await RawConnection.connect(port: port)
            try await connection.send(
                "GET /nope HTTP/1.1\r\nHost: x\r\n\r\nPOST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
                    + "HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let text = await connection.readUntilClosed()
            let responses = text.components(separatedBy: "HTTP/1.1 ").dropFirst()
            #expect(responses.count == 3, "\(text)")
            let notFound = responses.first ?? ""
            #expect(notFound.hasPrefix("404 Not Found\r\n"), "\(text)")
            #expect(notFound.hasSuffix("\r\n\r\n404 page not found\n"), "\(text)")
            let wrongMethod = responses.dropFirst().first ?? ""
            #expect(wrongMethod.hasPrefix("405 Method Not Allowed\r\n"), "\(text)")
            #expect(wrongMethod.contains("Allow: GET\r\n"), "\(text)")
            // HEAD: the length of the body GET would get, and no body.
            let head = responses.last ?? ""
            #expect(head.hasPrefix("405 Method Not Allowed\r\n"), "\(text)")
            #expect(head.hasSuffix("\r\n\r\n"), "\(text)")
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrderOnOneConnection() async throws {
        try await withServer(routes: Self.routes) { _, port in
            let connection = try await RawConnection.connect(port: port)
            try await connection.send(
                "GET /echo?a=1&b=2 HTTP/1.1\r\nHost: x\r\nX-Test: first\r\n\r\n"
                    + "DELETE /echo HTTP/1.1\r\nHost: x\r\nX-Test: second\r\n\r\n")
            let text = await connection.waitFor { $0.contains("second") }
            #expect(text.contains("GET /echo [a=1&b=2] first"), "\(text)")
            #expect(text.range(of: "first")!.lowerBound < text.range(of: "second")!.lowerBound)
            #expect(!connection.isClosed, "keep-alive connection stays open")
            try await connection.send("GET /health HTTP/1.0\r\n\r\n")
            let final = await connection.readUntilClosed()
            #expect(final.contains("HTTP/1.0 200 OK\r\n"), "\(final)")
            #expect(connection.isClosed, "HTTP/1.0 without keep-alive is closed after the answer")
        }
    }

    @Test func oversizedHeadersAndBodiesAreRefused() async throws {
        try await withServer(routes: Self.routes) { _, port in
            let headers = try await RawConnection.connect(port: port)
            let big = String(repeating: "a", count: HTTP1ConnectionHandler.maxHeaderBytes + 1)
            try await headers.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n")
            let refused = await headers.readUntilClosed()
            #expect(refused.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "\(refused.prefix(200))")
            #expect(headers.isClosed)

            let body = try await RawConnection.connect(port: port)
            let length = HTTPRoutes.defaultMaxBodyBytes + 1
            try await body.send("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: \(length)\r\n\r\n")
            try await body.send(String(repeating: "b", count: length))
            let tooLarge = await body.readUntilClosed()
            #expect(tooLarge.hasPrefix("HTTP/1.1 413 "), "\(tooLarge.prefix(200))")
            #expect(tooLarge.hasSuffix("\r\n\r\nhttp: request body too large\n"), "\(tooLarge.prefix(200))")
            #expect(body.isClosed)

            let garbage = try await RawConnection.connect(port: port)
            try await garbage.send("\u{16}\u{03}\u{01} not http at all\r\n\r\n")
            let badRequest = await garbage.readUntilClosed()
            #expect(badRequest.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(badRequest.prefix(200))")

            // The server is still fine for both protocols.
            try await withClient(port: port) { client in
                let response = try await client.unary("/test.Echo/Unary", request: [7])
                #expect(response == [7])
            }
            let after = try await RawConnection.connect(port: port)
            try await after.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(await after.readUntilClosed().hasPrefix("HTTP/1.1 200 OK\r\n"))
        }
    }

    @Test func silentConnectionsAreClosed() async throws {
        try await withServer(configure: { $0.protocolDetectionTimeout = .milliseconds(200) }, routes: Self.routes) {
            _, port in
            let silent = try await RawConnection.connect(port: port)
            _ = await silent.readUntilClosed()
            #expect(silent.isClosed, "a connection that never sends is closed")
        }
    }

    @Test func idleHTTPConnectionsAreClosed() async throws {
        try await withServer(configure: { $0.httpIdleTimeout = .milliseconds(200) }, routes: Self.routes) { _, port in
            let idle = try await RawConnection.connect(port: port)
            try await idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            let text = await idle.readUntilClosed()
            #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(text)")
            #expect(idle.isClosed, "an idle keep-alive connection is closed")
        }
    }

    @Test func shutdownClosesIdleHTTPConnections() async throws {
        var router = GRPCServerRouter()
        Self.routes(&router)
        var configuration = GRPCServerConfiguration()
        configuration.port = 0
        configuration.gracefulShutdownTimeout = .seconds(60)
        let server = GRPCServer(configuration: configuration, router: router)
        let port = try await server.start().port!
        let connection = try await RawConnection.connect(port: port)
        try await connection.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = await connection.waitFor { $0.hasSuffix(Self.healthBody) }
        let started = ContinuousClock.now
        await server.shutdownGracefully()
        #expect(ContinuousClock.now - started < .seconds(30), "did not wait for the graceful timeout")
        #expect(await connection.readUntilClosed().hasPrefix("HTTP/1.1 200 OK"))
        #expect(connection.isClosed)
    }

    @Test func http2RequestsThatAreNotGRPCReachTheHTTPRoutes() async throws {
        try await withServer(routes: Self.routes) { _, port in
            let ok = try runCurl(["--http2-prior-knowledge", "--include", "http://127.0.0.1:\(port)/health"])
            #expect(ok.status == 0)
            #expect(ok.output.hasPrefix("HTTP/2 200"), "\(ok.output)")
            #expect(ok.output.hasSuffix(Self.healthBody), "\(ok.output)")
            let echo = try runCurl(["--http2-prior-knowledge", "-H", "X-Test: h2", "http://127.0.0.1:\(port)/echo?q"])
            #expect(echo.output == "GET /echo [q] h2", "\(echo.output)")
            // A gRPC-shaped path that is not an HTTP route keeps grpc-go's answer.
            let grpc = try runCurl(["--http2-prior-knowledge", "--include", "http://127.0.0.1:\(port)/test.Echo/Unary"])
            #expect(!grpc.output.hasPrefix("HTTP/2 200"), "\(grpc.output)")
        }
    }

    @Test func tlsServesGRPCAndHTTPOverBothALPNProtocols() async throws {
        let certificate = try SelfSignedCertificate()
        defer { certificate.remove() }
        let chain = try NIOSSLCertificate.fromPEMFile(certificate.certificatePath)
        var serverTLS = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: certificate.keyPath, format: .pem)))
        serverTLS.applicationProtocols = ["h2", "http/1.1"]
        var grpcTLS = TLSConfiguration.makeClientConfiguration()
        grpcTLS.trustRoots = .certificates(chain)
        grpcTLS.applicationProtocols = ["h2"]
        var httpTLS = grpcTLS
        httpTLS.applicationProtocols = ["http/1.1"]
        let serverContext = try NIOSSLContext(configuration: serverTLS)
        let grpcContext = try NIOSSLContext(configuration: grpcTLS)
        let httpContext = try NIOSSLContext(configuration: httpTLS)

        try await withServer(configure: { $0.tls = serverContext }, routes: Self.routes) { _, port in
            try await withClient(
                port: port,
                configure: {
                    $0.tls = grpcContext
                    $0.serverHostname = "localhost"
                }
            ) { client in
                let response = try await client.unary("/test.Echo/Unary", request: [5])
                #expect(response == [5])
            }
            let connection = try await RawConnection.connect(port: port, tls: httpContext, serverHostname: "localhost")
            try await connection.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let response = await connection.readUntilClosed()
            #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(response)")
            #expect(response.hasSuffix(Self.healthBody), "\(response)")
            // curl offers h2 first, so this goes through nghttp2; --http1.1 goes through the HTTP/1 pipeline.
            for flag in ["--http2", "--http1.1"] {
                let curl = try runCurl(
                    [flag, "--include", "--cacert", certificate.certificatePath, "https://127.0.0.1:\(port)/health"])
                #expect(curl.status == 0, "\(flag)")
                #expect(curl.output.hasPrefix(flag == "--http2" ? "HTTP/2 200" : "HTTP/1.1 200"), "\(curl.output)")
                #expect(curl.output.hasSuffix(Self.healthBody), "\(curl.output)")
            }
        }
    }
}
