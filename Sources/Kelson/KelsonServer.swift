import EtcdServer
import Foundation
import GRPCWire
import Logging
import RevisionLog
import SQLiteBackend
import ServiceLifecycle

/// Kelson as a library: opens the store and serves the etcd API, as one ordered `ServiceGroup`
/// (store first, gRPC last, so shutdown stops accepting requests before the store closes).
public final class KelsonServer: Sendable {
    public let configuration: KelsonConfiguration
    public let store: Store
    private let grpcServers: [GRPCServer]
    private let logger: Logger

    /// Opens (or creates) the data directory and the store. Nothing listens until `run`.
    public init(configuration: KelsonConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let directory = configuration.resolvedDataDirectory
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw KelsonError("cannot create data directory \(directory): \(error.localizedDescription)")
        }
        var storeConfiguration = StoreConfiguration()
        storeConfiguration.maximumTxnOperations = configuration.maximumTxnOperations
        let backend = try SQLiteBackend(configuration: SQLiteConfiguration(path: configuration.databasePath))
        let identity = try MemberIdentity.loadOrCreate(backend: backend, name: configuration.name)
        store = try Store(backend: backend, configuration: storeConfiguration, logger: logger)

        var etcdConfiguration = EtcdServerConfiguration(identity: identity)
        etcdConfiguration.maximumRequestBytes = configuration.maximumRequestBytes
        etcdConfiguration.clientURLs = configuration.advertiseClientURLs
        etcdConfiguration.peerURLs = configuration.advertisePeerURLs
        // Snapshot copies go next to the database (same file system); a crash can leave one behind.
        etcdConfiguration.snapshotDirectory = directory
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where file.hasPrefix("kelson-snapshot-") {
            try? FileManager.default.removeItem(atPath: directory + "/" + file)
        }
        let services = EtcdServices(store: store, configuration: etcdConfiguration)
        grpcServers = try configuration.listenClientURLs.map { url in
            let address = try ListenAddress(url: url)
            var grpcConfiguration = GRPCServerConfiguration()
            grpcConfiguration.host = address.host
            grpcConfiguration.port = address.port
            grpcConfiguration.maxReceiveMessageBytes = etcdConfiguration.maximumReceiveMessageBytes
            return GRPCServer(configuration: grpcConfiguration, router: services.router)
        }
    }

    /// The services to run, in start order.
    public var services: [any Service] {
        [StoreService(store: store, logger: logger), LeaseExpiryService(store: store)]
            + grpcServers.map { GRPCService(server: $0, logger: logger) }
    }

    /// Addresses the gRPC listeners are bound to (after `run` has started them).
    public var boundAddresses: [String] {
        grpcServers.compactMap { $0.localAddress.map { "\($0)" } }
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    public func run() async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Keeps the store open while the group runs; closes it (after queued writes commit) on shutdown.
struct StoreService: Service {
    let store: Store
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        store.close()
        logger.info("store closed", metadata: ["revision": "\(store.revision)"])
    }
}

/// Revokes expired leases (with their keys) until shutdown.
struct LeaseExpiryService: Service {
    let store: Store

    func run() async throws {
        await cancelWhenGracefulShutdown { await store.runLeaseExpiry() }
    }
}

/// One gRPC listener.
struct GRPCService: Service {
    let server: GRPCServer
    let logger: Logger

    func run() async throws {
        let address = try await server.start()
        logger.info("ready to serve client requests", metadata: ["address": "\(address)"])
        try? await gracefulShutdown()
        await server.shutdownGracefully()
    }
}
