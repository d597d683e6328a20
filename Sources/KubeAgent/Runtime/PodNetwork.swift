import Foundation

/// The node's pod network: a bridge `kb<instance>` holding the node's pod CIDR's first address (the pods'
/// gateway, and where cluster DNS listens), and per pod a network namespace `kp-<instance>-<pod>` joined to the
/// bridge by a veth pair, with one address from the node's /24.
struct PodNetwork: Sendable {
    let instance: String
    /// The node's pod subnet, as its first three octets (`10.42.0`) — a /24.
    let subnetPrefix: String

    init(instance: String, clusterCIDR: String) {
        self.instance = instance
        let address = clusterCIDR.split(separator: "/").first.map(String.init) ?? "10.42.0.0"
        let octets = address.split(separator: ".")
        subnetPrefix = octets.count == 4 ? "\(octets[0]).\(octets[1]).\(octets[2])" : "10.42.0"
    }

    var bridge: String { "kb\(instance)" }
    var gateway: String { "\(subnetPrefix).1" }
    var podCIDR: String { "\(subnetPrefix).0/24" }

    /// Creates the bridge (if missing) and turns on forwarding.
    func setUp() throws {
        if (try? HostCommand.run(["ip", "link", "show", bridge])) == nil {
            try HostCommand.run(["ip", "link", "add", bridge, "type", "bridge"])
            try HostCommand.run(["ip", "addr", "add", "\(gateway)/24", "dev", bridge])
        }
        try HostCommand.run(["ip", "link", "set", bridge, "up"])
        // The first `ip netns add` on a machine makes /run/netns a shared mount; pods starting together would race
        // to do it, so it is done once here.
        let probe = "kp-\(instance)-setup"
        try HostCommand.run(["ip", "netns", "add", probe])
        try HostCommand.run(["ip", "netns", "del", probe])
        try? "1".write(toFile: "/proc/sys/net/ipv4/ip_forward", atomically: false, encoding: .utf8)
        // NodePorts reached on 127.0.0.1 are routed on to pods only with this (kube-proxy sets it too).
        try? "1".write(
            toFile: "/proc/sys/net/ipv4/conf/all/route_localnet", atomically: false, encoding: .utf8)
    }

    /// Removes the bridge and every pod namespace of this instance.
    func tearDown() {
        for namespace in namespaces() { try? HostCommand.run(["ip", "netns", "del", namespace]) }
        try? HostCommand.run(["ip", "link", "del", bridge])
    }

    func namespaceName(pod key: String) -> String { "kp-\(instance)-\(key)" }
    func namespacePath(pod key: String) -> String { "/run/netns/" + namespaceName(pod: key) }

    /// This instance's pod namespaces that exist now.
    func namespaces() -> [String] {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        return all.filter { $0.hasPrefix("kp-\(instance)-") }
    }

    /// A namespace for the pod with `address` (`10.42.0.7`) on eth0, the default route through the bridge: two
    /// commands (the namespace and its veth pair from the host, then its addresses and route inside).
    func createNamespace(pod key: String, address: String) async throws {
        let namespace = namespaceName(pod: key)
        let host = "kv\(key.prefix(10))"
        try await HostCommand.run(
            ["ip", "-batch", "-"],
            input: """
                netns add \(namespace)
                link add \(host) type veth peer name eth0 netns \(namespace)
                link set \(host) master \(bridge) up
                """)
        try await HostCommand.run(
            ["ip", "-n", namespace, "-batch", "-"],
            input: """
                link set lo up
                addr add \(address)/24 dev eth0
                link set eth0 up
                route add default via \(gateway)
                """)
    }

    func deleteNamespace(pod key: String) {
        try? HostCommand.run(["ip", "netns", "del", namespaceName(pod: key)])
        try? HostCommand.run(["ip", "link", "del", "kv\(key.prefix(10))"])
    }
}

/// Pod addresses in the node's /24: .2 to .254, the lowest free one first.
struct AddressPool: Sendable {
    let prefix: String
    private(set) var used: Set<Int> = []

    init(prefix: String) { self.prefix = prefix }

    mutating func take() -> String? {
        guard let free = (2...254).first(where: { !used.contains($0) }) else { return nil }
        used.insert(free)
        return "\(prefix).\(free)"
    }

    mutating func give(_ address: String) {
        if let last = address.split(separator: ".").last, let value = Int(last) { used.remove(value) }
    }
}
