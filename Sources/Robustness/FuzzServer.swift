import Foundation
import GRPCWire
import Kelson
import Logging
import RevisionLog
import ServiceLifecycle

/// The server fuzz inputs are sent to: the same `KelsonServer` that `kelson etcd` runs, in this process, on a
/// fresh SQLite file and a free loopback port. Lease time stands still (`ManualLeaseClock`), so nothing changes
/// the store but the inputs themselves, and a refused request that moved the revision is a real finding.
public final class FuzzServer: Sendable {
    public let server: KelsonServer
    public let port: Int
    public let client: GRPCClient
    private let directory: URL
    private let group: ServiceGroup
    private let running: Task<Void, Never>

    /// Starts the server; `quotaBackendBytes` bounds what a long fuzzing run can fill.
    public static func start(quotaBackendBytes: Int64 = 256 << 20) async throws -> FuzzServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kelson-fuzz-\(UUID())")
        var configuration = KelsonConfiguration()
        configuration.dataDirectory = directory.path
        configuration.listenClientURLs = ["http://127.0.0.1:0"]
        configuration.quotaBackendBytes = quotaBackendBytes
        configuration.leaseClock = ManualLeaseClock()
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        let server = try KelsonServer(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: server.services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                logger: logger))
        let running = Task { _ = try? await group.run() }
        var port: Int?
        for _ in 0..<1_000 where port == nil {
            port = server.boundAddresses.first.flatMap { $0.split(separator: ":").last }.flatMap { Int($0) }
            if port == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        guard let port else { throw FuzzTraffic.Violation("the fuzz server's listener did not start") }
        let client = try await GRPCClient.connect(GRPCClientConfiguration(host: "127.0.0.1", port: port))
        return FuzzServer(
            server: server, port: port, client: client, directory: directory, group: group, running: running)
    }

    private init(
        server: KelsonServer, port: Int, client: GRPCClient, directory: URL, group: ServiceGroup,
        running: Task<Void, Never>
    ) {
        self.server = server
        self.port = port
        self.client = client
        self.directory = directory
        self.group = group
        self.running = running
    }

    /// Shuts down gracefully and removes the data directory.
    public func stop() async {
        await client.close()
        await group.triggerGracefulShutdown()
        await running.value
        try? FileManager.default.removeItem(at: directory)
    }
}
