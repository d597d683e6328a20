import Foundation
import KubeAPI
import KubeAgent
import KubeControllers
import KubeServer
import Logging
import RevisionLog
import ServiceLifecycle

/// `kelson server`: the store and the Kubernetes API server on it, in one process and one `ServiceGroup`
/// (store first, etcd listeners if asked for, the API server last, so shutdown stops the API before the store).
/// Controllers, the scheduler and the node agent join this group as they arrive.
public struct ClusterConfiguration: Sendable {
    /// `--data-dir`: the database (`db/`), TLS material (`tls/`) and the kubeconfig.
    public var dataDirectory: String
    public var bindAddress = "127.0.0.1"
    public var httpsPort = 6443
    /// `--write-kubeconfig`; nil: `<data-dir>/kubeconfig.yaml`.
    public var kubeconfigPath: String?
    public var kubeconfigMode: mode_t = 0o600
    public var nodeName: String
    public var token: String?
    /// `--disable-agent`: no node agent in this process (pods bound to this node are not run).
    public var disableAgent = false
    /// `--cluster-cidr` (pod addresses; this node takes its first /24) and `--cluster-domain`.
    public var clusterCIDR = "10.42.0.0/16"
    public var clusterDomain = "cluster.local"
    /// `--agent-isolation none`: pods run in the host's namespaces (no root filesystem overlay, no pod network).
    public var agentIsolation = true
    /// `--datastore-endpoint`: nil for the embedded SQLite store; `postgres://…` for a shared PostgreSQL.
    public var datastoreEndpoint: String?
    /// `--etcd-listen-client-urls`: also serve the store's etcd API there (off by default).
    public var etcdListenClientURLs: [String] = []
    /// `--service-cidr` and `--service-node-port-range` (k3s's defaults).
    public var serviceCIDR = "10.43.0.0/16"
    public var serviceNodePortRange: ClosedRange<Int> = 30000...32767
    /// `--disable-controller-manager` and `--disable-scheduler`: run without the controllers or the scheduler.
    public var disableControllerManager = false
    public var disableScheduler = false
    /// `--node-monitor-grace-period` (kube-controller-manager's flag).
    public var nodeMonitorGracePeriod: Duration = .seconds(40)
    /// `--event-ttl` (kube-apiserver's flag).
    public var eventTTL: Duration = .seconds(3600)
    public var logLevel: Logger.Level = .info
    public var metricsExposition: (@Sendable () -> [UInt8])?

    public init(dataDirectory: String, nodeName: String) {
        self.dataDirectory = dataDirectory
        self.nodeName = nodeName
    }

    /// k3s keeps its data in /var/lib/rancher/k3s; Kelson uses /var/lib/kelson for root and ~/.kelson otherwise.
    public static var defaultDataDirectory: String {
        if getuid() == 0 { return "/var/lib/kelson" }
        return (ProcessInfo.processInfo.environment["HOME"] ?? ".") + "/.kelson"
    }

    /// `--datastore-endpoint http://host:port`: the objects live in an external etcd (or another Kelson), reached
    /// through its v3 API; no store runs in this process.
    var usesExternalEtcd: Bool {
        guard let endpoint = datastoreEndpoint else { return false }
        return endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") || endpoint.hasPrefix("etcd://")
    }

    /// The store's settings: `kelson etcd`'s, with the database under the data directory.
    func storeConfiguration() throws -> KelsonConfiguration {
        var store = KelsonConfiguration()
        store.name = nodeName
        store.dataDirectory = dataDirectory + "/db"
        store.listenClientURLs = etcdListenClientURLs
        store.advertiseClientURLs = etcdListenClientURLs
        store.logLevel = logLevel
        store.metricsExposition = metricsExposition
        if let endpoint = datastoreEndpoint {
            if endpoint.hasPrefix("postgres://") || endpoint.hasPrefix("postgresql://") {
                store.datastore = .postgres(url: endpoint)
            } else if endpoint.hasPrefix("sqlite://") {
                store.datastore = .sqlite(directory: String(endpoint.dropFirst("sqlite://".count)))
            } else {
                throw KelsonError(
                    "--datastore-endpoint \(endpoint): use postgres://… or sqlite://DIR (an external etcd through its API is not supported yet)"
                )
            }
        }
        return store
    }
}

public final class ClusterServer: Sendable {
    public let configuration: ClusterConfiguration
    /// The store in this process; nil when the objects live in an external etcd (`--datastore-endpoint http://…`).
    public let store: KelsonServer?
    public let apiServer: KubeAPIServer
    private let logger: Logger

    public init(configuration: ClusterConfiguration, logger: Logger) async throws {
        self.configuration = configuration
        self.logger = logger
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let storage: any ObjectStorage
        if configuration.usesExternalEtcd, let endpoint = configuration.datastoreEndpoint {
            if !configuration.etcdListenClientURLs.isEmpty {
                throw KelsonError(
                    "--etcd-listen-client-urls serves the embedded store; with an external etcd, use it directly")
            }
            store = nil
            storage = try await EtcdObjectStorage.connect(endpoint: endpoint)
        } else {
            let local = try KelsonServer(configuration: configuration.storeConfiguration(), logger: logger)
            store = local
            storage = LocalObjectStorage(store: local.store, hub: local.watchHub)
        }
        var api = KubeAPIServerConfiguration(
            dataDirectory: configuration.dataDirectory, nodeName: configuration.nodeName)
        api.bindAddress = configuration.bindAddress
        api.httpsPort = configuration.httpsPort
        api.token = configuration.token
        api.kubeconfigPath = configuration.kubeconfigPath ?? configuration.dataDirectory + "/kubeconfig.yaml"
        api.kubeconfigMode = configuration.kubeconfigMode
        api.serviceCIDR = configuration.serviceCIDR
        api.serviceNodePortRange = configuration.serviceNodePortRange
        apiServer = try KubeAPIServer(configuration: api, storage: storage, logger: logger)
    }

    public var services: [any Service] {
        (store?.services ?? []) + [
            APIServerService(server: apiServer, controllers: makeControllers, agent: makeAgent)
        ]
    }

    /// The node agent for this server's node, on the in-process client; nil with `--disable-agent`.
    private func makeAgent() -> NodeAgent? {
        guard !configuration.disableAgent else { return nil }
        var settings = AgentSettings(
            nodeName: configuration.nodeName, stateDirectory: configuration.dataDirectory + "/agent")
        settings.clusterCIDR = configuration.clusterCIDR
        settings.serviceCIDR = configuration.serviceCIDR
        settings.clusterDomain = configuration.clusterDomain
        settings.isolation = configuration.agentIsolation
        return NodeAgent(
            client: KubeClient(handler: apiServer.handler), settings: settings, podNodes: apiServer.handler.podNodes,
            logger: logger)
    }

    /// The controllers and the scheduler on the in-process client, once the API listens (the `kubernetes` Service
    /// names its address); nil when both are disabled.
    private func makeControllers(apiURL: String) -> ControllerManager? {
        let configuration = configuration
        if configuration.disableControllerManager, configuration.disableScheduler { return nil }
        var settings = ControllerSettings()
        settings.serviceCIDR = configuration.serviceCIDR
        settings.nodePortRange = configuration.serviceNodePortRange
        settings.nodeMonitorGracePeriod = configuration.nodeMonitorGracePeriod
        settings.eventTTL = configuration.eventTTL
        // Stable across restarts (a restarted server takes its own lease back at once), distinct between servers
        // that share a store (each has its own data directory).
        let directory = URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL.path
        settings.leaderElectionIdentity = "\(configuration.nodeName)_\(String(FNV1a.hash(directory), radix: 16))"
        settings.certificateAuthorityPEM = apiServer.pki.certificateAuthorityPEM
        if let url = URL(string: apiURL), let host = url.host, let port = url.port {
            settings.apiServerAddress = (host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
        }
        let context = ControllerContext(
            client: KubeClient(handler: apiServer.handler), settings: settings, logger: logger)
        var disabled: Set<String> = []
        if configuration.disableScheduler { disabled.insert("scheduler") }
        if configuration.disableControllerManager {
            disabled.formUnion(ControllerManager.controllerNames.filter { $0 != "scheduler" })
        }
        return ControllerManager.standard(context: context, disabled: disabled)
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

/// The API server's listener, then the controllers and the node agent on it, until shutdown (they stop first,
/// then the listener).
struct APIServerService: Service {
    let server: KubeAPIServer
    let controllers: @Sendable (_ apiURL: String) -> ControllerManager?
    let agent: @Sendable () -> NodeAgent?

    func run() async throws {
        let agent = agent()
        if let agent, let problem = NodeAgent.unmetRequirements(isolation: agent.settings.isolation) {
            throw KelsonError(problem)
        }
        let url = try await server.start()
        let manager = controllers(url)
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let manager { group.addTask { try await manager.run() } }
            if let agent { group.addTask { try await agent.run() } }
            if manager == nil, agent == nil { try? await gracefulShutdown() }
            try await group.waitForAll()
        }
        await server.shutdown()
    }
}
