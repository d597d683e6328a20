import Foundation
import KubeAPI

/// How a node agent runs: its node, where it keeps state, and the networks it serves (k3s's flag names and
/// defaults). One agent per data directory; `instance` keeps the kernel objects of two agents on one machine
/// (bridges, network namespaces, cgroups, nftables tables) apart.
public struct AgentSettings: Sendable {
    public var nodeName: String
    /// `<data-dir>/agent`: pod directories (volumes, container scratch layers, logs).
    public var stateDirectory: String
    /// `--cluster-cidr`: pod addresses; this node takes the first /24 of it.
    public var clusterCIDR = "10.42.0.0/16"
    /// `--service-cidr`: Service ClusterIPs (the proxy's rules match it).
    public var serviceCIDR = "10.43.0.0/16"
    /// `--cluster-domain`.
    public var clusterDomain = "cluster.local"
    /// False with `--agent-isolation none`: pods run in the host's namespaces (a warning says isolation is off).
    public var isolation = true
    /// The kubelet's `--max-pods`.
    public var maxPods = 110
    /// How often the Lease is renewed (the kubelet's 10 s).
    public var leaseRenewInterval: Duration = .seconds(10)
    /// A container's log file is rotated past this size; `logFilesMaximum` files are kept per container.
    public var logFileMaximumBytes = 10 << 20
    public var logFilesMaximum = 5
    /// Short and stable for one data directory: names this agent's kernel objects.
    public var instance: String

    public init(nodeName: String, stateDirectory: String) {
        self.nodeName = nodeName
        self.stateDirectory = stateDirectory
        let path = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
        instance = String(String(FNV1a.hash(path), radix: 16).suffix(6))
    }
}
