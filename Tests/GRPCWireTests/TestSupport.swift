import Foundation
import GRPCWire
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A GRPCServer on 127.0.0.1 and a free port, shut down after `body`.
func withServer<Result>(
    configure: (inout GRPCServerConfiguration) -> Void = { _ in },
    routes: (inout GRPCServerRouter) -> Void,
    _ body: (GRPCServer, Int) async throws -> Result
) async throws -> Result {
    var configuration = GRPCServerConfiguration()
    configuration.port = 0
    configure(&configuration)
    var router = GRPCServerRouter()
    routes(&router)
    let server = GRPCServer(configuration: configuration, router: router)
    let address = try await server.start()
    do {
        let result = try await body(server, address.port!)
        await server.shutdownGracefully()
        return result
    } catch {
        await server.shutdownGracefully()
        throw error
    }
}

/// A client connected to 127.0.0.1:`port`, closed after `body`.
func withClient<Result>(
    port: Int, configure: (inout GRPCClientConfiguration) -> Void = { _ in },
    _ body: (GRPCClient) async throws -> Result
) async throws -> Result {
    var configuration = GRPCClientConfiguration(host: "127.0.0.1", port: port)
    configure(&configuration)
    let client = try await GRPCClient.connect(configuration)
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}

/// Echo routes used by several tests.
func registerEcho(_ router: inout GRPCServerRouter) {
    router.registerUnary("/test.Echo/Unary") { call in call.respond(.success(call.request)) }
    router.registerStreaming("/test.Echo/Stream") { call in
        for try await message in call.requests { try await call.send(message) }
    }
}

/// The status a call failed with (`Issue` if it did not fail with a GRPCStatus).
func expectStatus(_ body: () async throws -> Void) async -> GRPCStatus? {
    do {
        try await body()
        Issue.record("expected the call to fail")
        return nil
    } catch let status as GRPCStatus {
        return status
    } catch {
        Issue.record("expected a GRPCStatus, got \(error)")
        return nil
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A free TCP port on 127.0.0.1 (bound then released; fine for tests).
func freePort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}

/// Holds a value set from a handler and read by the test.
final class Box<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    var value: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
    func update(_ body: (inout Value) -> Void) { storage.withLock { body(&$0) } }
}

func bytes(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}
