import ArgumentParser
import Foundation
import Kelson
import KubeServer
import Logging

/// `kelson server`: a Kubernetes cluster's control plane on one SQLite file, with k3s's flag names.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run a small Kubernetes cluster: the store and a Kubernetes API server, in one process.",
        discussion: """
            Writes a kubeconfig for the cluster's admin (default <data-dir>/kubeconfig.yaml), so that
            `kubectl --kubeconfig <data-dir>/kubeconfig.yaml get ns` works at once. Every authenticated user may do
            everything (there is no RBAC yet).
            """)

    @Option(
        name: .customLong("data-dir"),
        help:
            "Where the database, TLS material and kubeconfig live (default: /var/lib/kelson as root, ~/.kelson otherwise)."
    )
    var dataDirectory: String?

    @Option(name: .customLong("bind-address"), help: "Address the API server listens on.")
    var bindAddress = "127.0.0.1"

    @Option(name: .customLong("https-listen-port"), help: "Port of the Kubernetes API (HTTPS).")
    var httpsPort = 6443

    @Option(
        name: .customLong("write-kubeconfig"),
        help: "Where to write the admin kubeconfig (default: <data-dir>/kubeconfig.yaml).")
    var kubeconfig: String?

    @Option(name: .customLong("write-kubeconfig-mode"), help: "File mode of the written kubeconfig, in octal.")
    var kubeconfigMode = "0600"

    @Option(name: .customLong("node-name"), help: "This node's name (default: the host name).")
    var nodeName: String?

    @Option(name: .customLong("token"), help: "A bearer token that authenticates as the cluster admin.")
    var token: String?

    @Flag(
        name: .customLong("disable-agent"),
        help: "Do not run the node agent: pods bound to this node are not run.")
    var disableAgent = false

    @Option(name: .customLong("cluster-cidr"), help: "IPv4 network of pod addresses (this node takes its first /24).")
    var clusterCIDR = "10.42.0.0/16"

    @Option(name: .customLong("cluster-domain"), help: "The cluster's DNS domain.")
    var clusterDomain = "cluster.local"

    @Option(
        name: .customLong("agent-isolation"),
        help: "full: each pod in its own namespaces and cgroups (needs root); none: pods run in the host's namespaces.")
    var agentIsolation = "full"

    @Option(
        name: .customLong("datastore-endpoint"),
        help:
            "postgres://… for a shared PostgreSQL, http://HOST:PORT for an external etcd or Kelson (default: embedded SQLite in the data directory)."
    )
    var datastoreEndpoint: String?

    @Option(
        name: .customLong("etcd-listen-client-urls"),
        help: "Comma-separated URLs to also serve the store's etcd API on (off by default).")
    var etcdListenClientURLs = ""

    @Option(name: .customLong("service-cidr"), help: "IPv4 network of Service cluster IPs.")
    var serviceCIDR = "10.43.0.0/16"

    @Option(name: .customLong("service-node-port-range"), help: "Port range of NodePort Services.")
    var serviceNodePortRange = "30000-32767"

    @Flag(name: .customLong("disable-controller-manager"), help: "Do not run the controllers.")
    var disableControllerManager = false

    @Flag(name: .customLong("disable-scheduler"), help: "Do not run the scheduler.")
    var disableScheduler = false

    @Option(
        name: .customLong("node-monitor-grace-period"),
        help: "How long a node may go without renewing its lease before it is Ready=Unknown (a Go duration).")
    var nodeMonitorGracePeriod = "40s"

    @Option(name: .customLong("event-ttl"), help: "How long Events are kept after they last happen (a Go duration).")
    var eventTTL = "1h0m0s"

    @Option(name: .customLong("log-level"), help: "debug, info, warn or error.")
    var logLevel = "info"

    func run() async throws {
        let directory = dataDirectory ?? ClusterConfiguration.defaultDataDirectory
        var configuration = ClusterConfiguration(
            dataDirectory: directory, nodeName: nodeName ?? ProcessInfo.processInfo.hostName.lowercased())
        configuration.bindAddress = bindAddress
        guard (1...65535).contains(httpsPort) || httpsPort == 0 else {
            throw ValidationError("--https-listen-port must be a port number")
        }
        configuration.httpsPort = httpsPort
        configuration.kubeconfigPath = kubeconfig
        do {
            configuration.kubeconfigMode = try Kubeconfig.parseMode(kubeconfigMode)
        } catch {
            throw ValidationError("--write-kubeconfig-mode \(kubeconfigMode): \(error)")
        }
        configuration.token = token
        configuration.disableAgent = disableAgent
        guard ["full", "none"].contains(agentIsolation) else {
            throw ValidationError("--agent-isolation \(agentIsolation): use full or none")
        }
        configuration.agentIsolation = agentIsolation == "full"
        guard clusterCIDR.split(separator: "/").first.map({ $0.split(separator: ".").count == 4 }) == true else {
            throw ValidationError("--cluster-cidr \(clusterCIDR): use an IPv4 network such as 10.42.0.0/16")
        }
        configuration.clusterCIDR = clusterCIDR
        configuration.clusterDomain = clusterDomain
        configuration.datastoreEndpoint = datastoreEndpoint
        configuration.serviceCIDR = serviceCIDR
        guard let ports = ServiceNetwork.parsePortRange(serviceNodePortRange), ports.lowerBound >= 1,
            ports.upperBound <= 65535
        else {
            throw ValidationError("--service-node-port-range \(serviceNodePortRange): use FIRST-LAST, e.g. 30000-32767")
        }
        configuration.serviceNodePortRange = ports
        guard let grace = GoDuration.parse(nodeMonitorGracePeriod), grace > .zero else {
            throw ValidationError(
                "--node-monitor-grace-period \(nodeMonitorGracePeriod): use a Go duration such as 40s")
        }
        configuration.nodeMonitorGracePeriod = grace
        guard let ttl = GoDuration.parse(eventTTL), ttl > .zero else {
            throw ValidationError("--event-ttl \(eventTTL): use a Go duration such as 1h0m0s")
        }
        configuration.eventTTL = ttl
        configuration.disableControllerManager = disableControllerManager
        configuration.disableScheduler = disableScheduler
        configuration.etcdListenClientURLs = etcdListenClientURLs.split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let level = try ConsoleLogging.level(logLevel)
        configuration.logLevel = level
        ConsoleLogging.bootstrap(level)
        let logger = Logger(label: "kelson")
        let server = try await ClusterServer(configuration: configuration, logger: logger)
        logger.info("starting kelson server", metadata: ["data-dir": "\(directory)"])
        try await server.run()
    }
}
