import ArgumentParser
import Foundation
import KubeAgent
import KubeServer
import Logging
import ServiceLifecycle

/// `kelson agent`: a node that joins a `kelson server` elsewhere (k3s's `agent`): it registers the Node, runs the
/// pods bound to it, and serves the service proxy and cluster DNS on this machine, talking to the API over HTTPS
/// with the token.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run a node that joins a kelson server: pods bound to it run here as isolated processes.",
        discussion: """
            Needs root. The API server answers `kubectl logs`, `exec`, `attach` and `port-forward` only for pods on
            its own node so far; pods on this node are run, reported and reachable through Services on this node.
            """)

    @Option(name: .customLong("server"), help: "The API server to join, https://HOST:PORT.")
    var server: String

    @Option(name: .customLong("token"), help: "A bearer token the API server accepts (its --token).")
    var token: String?

    @Option(
        name: .customLong("certificate-authority"),
        help: "The cluster CA to verify the API server with (the server's <data-dir>/tls/server-ca.crt).")
    var certificateAuthority: String?

    @Flag(name: .customLong("insecure-skip-tls-verify"), help: "Do not verify the API server's certificate.")
    var insecureSkipTLSVerify = false

    @Option(name: .customLong("node-name"), help: "This node's name (default: the host name).")
    var nodeName: String?

    @Option(
        name: .customLong("data-dir"),
        help: "Where pods' files and logs live (default: /var/lib/kelson-agent as root, ~/.kelson-agent otherwise).")
    var dataDirectory: String?

    @Option(name: .customLong("cluster-cidr"), help: "IPv4 network of pod addresses.")
    var clusterCIDR = "10.42.0.0/16"

    @Option(
        name: .customLong("pod-cidr"),
        help: "This node's pod network, a /24 (default: the first /24 of --cluster-cidr; give each node its own).")
    var podCIDR: String?

    @Option(name: .customLong("service-cidr"), help: "IPv4 network of Service cluster IPs.")
    var serviceCIDR = "10.43.0.0/16"

    @Option(name: .customLong("cluster-domain"), help: "The cluster's DNS domain.")
    var clusterDomain = "cluster.local"

    @Option(name: .customLong("agent-isolation"), help: "full (default) or none: pods in the host's namespaces.")
    var agentIsolation = "full"

    @Option(name: .customLong("log-level"), help: "debug, info, warn or error.")
    var logLevel = "info"

    func run() async throws {
        guard certificateAuthority != nil || insecureSkipTLSVerify else {
            throw ValidationError(
                "give --certificate-authority (the server's <data-dir>/tls/server-ca.crt) or --insecure-skip-tls-verify"
            )
        }
        guard ["full", "none"].contains(agentIsolation) else {
            throw ValidationError("--agent-isolation \(agentIsolation): use full or none")
        }
        for (flag, value) in [("--cluster-cidr", clusterCIDR), ("--pod-cidr", podCIDR ?? clusterCIDR)] {
            guard value.split(separator: "/").first.map({ $0.split(separator: ".").count == 4 }) == true else {
                throw ValidationError("\(flag) \(value): use an IPv4 network such as 10.42.1.0/24")
            }
        }
        let pem = try certificateAuthority.map { try String(contentsOfFile: $0, encoding: .utf8) }
        let transport: RemoteTransport
        do {
            transport = try RemoteTransport(server: server, token: token, certificateAuthorityPEM: pem)
        } catch {
            throw ValidationError("\(error)")
        }
        let level = try ConsoleLogging.level(logLevel)
        ConsoleLogging.bootstrap(level)
        let logger = Logger(label: "kelson")
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "."
        let directory = dataDirectory ?? (getuid() == 0 ? "/var/lib/kelson-agent" : home + "/.kelson-agent")
        let name = nodeName ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "node"
        var settings = AgentSettings(nodeName: name, stateDirectory: directory)
        settings.clusterCIDR = podCIDR ?? clusterCIDR
        settings.serviceCIDR = serviceCIDR
        settings.clusterDomain = clusterDomain
        settings.isolation = agentIsolation == "full"
        if let problem = NodeAgent.unmetRequirements(isolation: settings.isolation) { throw ValidationError(problem) }
        let agent = NodeAgent(
            client: KubeClient(transport: transport), settings: settings, podNodes: nil, logger: logger)
        logger.info("starting kelson agent", metadata: ["server": "\(server)", "node": "\(name)"])
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: agent)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
