import Foundation
import GRPCWire
import NIOSSL
import Testing

@Suite("Server lifecycle and TLS", .timeLimit(.minutes(2)))
struct ServerLifecycleTests {
    @Test func gracefulShutdownLetsInFlightCallFinish() async throws {
        let pending = Box<GRPCUnaryCall?>(nil)
        var router = GRPCServerRouter()
        registerEcho(&router)
        router.registerUnary("/test.Slow/Answer") { call in pending.value = call }
        var configuration = GRPCServerConfiguration()
        configuration.port = 0
        let server = GRPCServer(configuration: configuration, router: router)
        let port = try await server.start().port!
        let client = try await GRPCClient.connect(GRPCClientConfiguration(host: "127.0.0.1", port: port))
        async let inFlight = client.unary("/test.Slow/Answer", request: [])
        #expect(await eventually { pending.value != nil })
        let shutdown = Task { await server.shutdownGracefully() }
        // Once the GOAWAY arrives, new calls on this connection fail with .unavailable...
        var refused: GRPCStatus?
        let deadline = ContinuousClock.now + .seconds(5)
        while refused == nil, ContinuousClock.now < deadline {
            do {
                _ = try await client.unary("/test.Echo/Unary", request: [])
                try await Task.sleep(for: .milliseconds(10))
            } catch let status as GRPCStatus {
                refused = status
            }
        }
        #expect(refused?.code == .unavailable)
        // ...while the call in flight still completes.
        pending.value?.respond(.success([9]))
        #expect(try await inFlight == [9])
        await shutdown.value
        // And no new connections are accepted.
        let connect = await expectStatus {
            _ = try await GRPCClient.connect(GRPCClientConfiguration(host: "127.0.0.1", port: port))
        }
        #expect(connect?.code == .unavailable)
        await client.close()
    }

    @Test func gracefulShutdownTimeoutClosesStuckCalls() async throws {
        var router = GRPCServerRouter()
        router.registerUnary("/test.Slow/Never") { _ in }
        var configuration = GRPCServerConfiguration()
        configuration.port = 0
        configuration.gracefulShutdownTimeout = .milliseconds(300)
        let server = GRPCServer(configuration: configuration, router: router)
        let port = try await server.start().port!
        let client = try await GRPCClient.connect(GRPCClientConfiguration(host: "127.0.0.1", port: port))
        async let stuck = expectStatus { _ = try await client.unary("/test.Slow/Never", request: []) }
        try await Task.sleep(for: .milliseconds(50))
        let started = ContinuousClock.now
        await server.shutdownGracefully()
        // Behaviour, not speed: shutdown ends (the 300 ms timeout fires) instead of waiting for the call.
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(await stuck?.code == .unavailable)
        await client.close()
    }

    @Test func idleConnectionsCloseOnShutdown() async throws {
        var router = GRPCServerRouter()
        registerEcho(&router)
        var configuration = GRPCServerConfiguration()
        configuration.port = 0
        configuration.gracefulShutdownTimeout = .seconds(120)
        let server = GRPCServer(configuration: configuration, router: router)
        let port = try await server.start().port!
        let client = try await GRPCClient.connect(GRPCClientConfiguration(host: "127.0.0.1", port: port))
        #expect(try await client.unary("/test.Echo/Unary", request: [1]) == [1])
        let started = ContinuousClock.now
        await server.shutdownGracefully()
        // Behaviour, not speed: an idle connection does not hold shutdown for the 120 s grace period.
        #expect(ContinuousClock.now - started < .seconds(60))
        let status = await expectStatus { _ = try await client.unary("/test.Echo/Unary", request: []) }
        #expect(status?.code == .unavailable)
        await client.close()
    }

    @Test func maxConnectionsRefusesExtraConnections() async throws {
        try await withServer(configure: { $0.maxConnections = 1 }, routes: registerEcho) { _, port in
            try await withClient(port: port) { client in
                let response1 = try await client.unary("/test.Echo/Unary", request: [1])
                #expect(response1 == [1])
                let second = await expectStatus {
                    _ = try await GRPCClient.connect(GRPCClientConfiguration(host: "127.0.0.1", port: port))
                }
                #expect(second?.code == .unavailable)
            }
        }
    }

    @Test func tlsWithALPN() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("grpcwire-tls-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyPath = directory.appendingPathComponent("key.pem").path
        let certificatePath = directory.appendingPathComponent("cert.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyPath,
            "-out", certificatePath, "-days", "1", "-subj", "/CN=localhost", "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0)

        let certificates = try NIOSSLCertificate.fromPEMFile(certificatePath)
        var serverTLS = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificates.map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem)))
        serverTLS.applicationProtocols = ["h2"]
        var clientTLS = TLSConfiguration.makeClientConfiguration()
        clientTLS.trustRoots = .certificates(certificates)
        clientTLS.applicationProtocols = ["h2"]
        let serverContext = try NIOSSLContext(configuration: serverTLS)
        let clientContext = try NIOSSLContext(configuration: clientTLS)

        try await withServer(configure: { $0.tls = serverContext }, routes: registerEcho) { _, port in
            try await withClient(
                port: port,
                configure: {
                    $0.tls = clientContext
                    $0.serverHostname = "localhost"
                }
            ) { client in
                let response2 = try await client.unary("/test.Echo/Unary", request: [1, 2])
                #expect(response2 == [1, 2])
                let payload = bytes(1_500_000)
                let response3 = try await client.unary("/test.Echo/Unary", request: payload)
                #expect(response3 == payload)
            }
        }
    }
}
