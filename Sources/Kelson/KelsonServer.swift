import EtcdServer
import Foundation
import GRPCWire
import Logging
import RevisionLog
import SQLiteBackend
import ServiceLifecycle

/// Kelson as a library: opens the store and serves the etcd API (gRPC, and etcd's `/health` and `/version` on the
/// same ports), as one ordered `ServiceGroup` (store first, gRPC last, so shutdown stops accepting requests before
/// the store closes).
public final class KelsonServer: Sendable {
    public let configuration: KelsonConfiguration
    /// The open store: an embedding program may read and write through it in-process (see `Examples/embedded`).
    public let store: Store
    private let grpcServers: [GRPCServer]
    private let etcdServices: EtcdServices
    private let logger: Logger

    /// Checks the listen URLs and TLS files, then opens (or creates) the data directory and the store. Nothing
    /// listens until `run`.
    public init(configuration: KelsonConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        // The IDs live in the database; they are read once it is open (below).
        var etcdConfiguration = EtcdServerConfiguration(
            identity: ServerIdentity(clusterID: 0, memberID: 0, name: configuration.name))
        etcdConfiguration.maximumRequestBytes = configuration.maximumRequestBytes
        etcdConfiguration.clientURLs = configuration.advertiseClientURLs
        etcdConfiguration.peerURLs = configuration.advertisePeerURLs
        etcdConfiguration.watchProgressNotifyInterval = Self.watchProgressNotifyInterval(
            configuration.watchProgressNotifyInterval, logger: logger)
        // Before touching the data directory: a mistyped flag should leave nothing behind.
        let listeners = try listenerConfigurations(
            configuration, maxReceiveMessageBytes: etcdConfiguration.maximumReceiveMessageBytes, logger: logger)
        let metricsListeners = try configuration.listenMetricsURLs.map { url throws(KelsonError) in
            let address = try ListenAddress(url: url)
            if address.isTLS {
                throw KelsonError("--listen-metrics-urls \(url): only http:// metrics URLs are supported")
            }
            var listener = GRPCServerConfiguration()
            listener.host = address.host
            listener.port = address.port
            return listener
        }

        var storeConfiguration = StoreConfiguration()
        storeConfiguration.maximumTxnOperations = configuration.maximumTxnOperations
        storeConfiguration.leaseClock = configuration.leaseClock
        let backend = try configuration.resolvedDatastore.openBackend()
        store = try Store(backend: backend, configuration: storeConfiguration, logger: logger)

        etcdConfiguration.identity = try MemberIdentity.loadOrCreate(backend: backend, name: configuration.name)
        // Snapshot copies go next to the database (same file system); a crash can leave one behind.
        let directory = configuration.resolvedDataDirectory
        if case .sqlite = configuration.resolvedDatastore { etcdConfiguration.snapshotDirectory = directory }
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where file.hasPrefix("kelson-snapshot-") {
            try? FileManager.default.removeItem(atPath: directory + "/" + file)
        }
        etcdConfiguration.auth.tokenTTL = configuration.authTokenTTL
        etcdConfiguration.quotaBackendBytes = configuration.quotaBackendBytes
        let services = EtcdServices(store: store, configuration: etcdConfiguration, logger: logger)
        etcdServices = services
        var router = services.router
        HTTPEndpoints.register(into: &router, store: store, alarms: services.alarms, logger: logger)
        var metricsRouter = GRPCServerRouter()
        HTTPEndpoints.register(into: &metricsRouter, store: store, alarms: services.alarms, logger: logger)
        if let exposition = configuration.metricsExposition {
            HTTPEndpoints.registerMetrics(into: &router, store: store, services: services, exposition: exposition)
            HTTPEndpoints.registerMetrics(
                into: &metricsRouter, store: store, services: services, exposition: exposition)
        }
        grpcServers =
            listeners.map { GRPCServer(configuration: $0, router: router) }
            + metricsListeners.map { GRPCServer(configuration: $0, router: metricsRouter) }
    }

    /// etcd's rule (`v3rpc.NewWatchServer`): zero or less keeps the 10-minute default, under 100 ms is raised.
    private static func watchProgressNotifyInterval(_ requested: Duration, logger: Logger) -> Duration {
        let minimum = Duration.milliseconds(100)
        if requested <= .zero { return .seconds(600) }
        if requested < minimum {
            logger.warning(
                "adjusting watch progress notify interval to minimum period",
                metadata: ["min-watch-progress-notify-interval": "100ms"])
            return minimum
        }
        return requested
    }

    /// The watches of the etcd API; other in-process users of the store (the Kubernetes API server) share it.
    public var watchHub: WatchHub { etcdServices.watchHub }

    /// The services to run, in start order.
    public var services: [any Service] {
        var services: [any Service] = [StoreService(store: store, logger: logger), LeaseExpiryService(store: store)]
        if let policy = configuration.autoCompaction {
            services.append(
                AutoCompactionService(compactor: AutoCompactor(store: store, policy: policy, logger: logger)))
        }
        return services + grpcServers.map { GRPCService(server: $0, logger: logger) }
    }

    /// Addresses the gRPC listeners are bound to (after `run` has started them).
    public var boundAddresses: [String] {
        grpcServers.compactMap { $0.localAddress.map { "\($0)" } }
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully. With `configuration.auth`, turns
    /// auth on first (before any listener accepts a request).
    public func run() async throws {
        if configuration.auth {
            do {
                try await etcdServices.enableAuthAtStartup()
            } catch {
                store.close()
                throw KelsonError(error.description)
            }
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Keeps the store open while the group runs; closes it (after queued writes commit) on shutdown. Should the store
/// stop (a failed fsync: `Store.failure`), this service fails, so the whole server shuts down and `kelson etcd`
/// exits with an error for its supervisor to restart it, as etcd exits on a failed fsync: the restart recovers
/// from what is really on disk.
struct StoreService: Service {
    let store: Store
    let logger: Logger

    func run() async throws {
        defer {
            store.close()
            logger.info("store closed", metadata: ["revision": "\(store.revision)"])
        }
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let failure = store.failure { throw KelsonError("the store stopped: \(failure.detail)") }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}

/// Revokes expired leases (with their keys) until shutdown.
struct LeaseExpiryService: Service {
    let store: Store

    func run() async throws {
        await cancelWhenGracefulShutdown { await store.runLeaseExpiry() }
    }
}

/// etcd's auto-compaction, until shutdown.
struct AutoCompactionService: Service {
    let compactor: AutoCompactor

    func run() async throws {
        await cancelWhenGracefulShutdown { await compactor.run() }
    }
}

/// One client listener (gRPC and HTTP, plain or TLS).
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
