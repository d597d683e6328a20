import Foundation
import KubeAPI

/// The node's service proxy, in the kernel: one nftables table `kelson_<instance>` rewritten whole (atomically,
/// by `nft -f`) whenever Services or EndpointSlices change. Traffic to a ClusterIP:port (from the host: output
/// hook; from pods: prerouting) or to any local address at a NodePort is DNATed to one ready endpoint chosen at
/// random (`numgen`), or by a hash of the client's address with `sessionAffinity: ClientIP`; a Service
/// without ready endpoints rejects (connection refused, as kube-proxy). Pod traffic that was DNATed is
/// masqueraded, so a pod reaching a Service backed by a pod on the same bridge gets its answers.
///
/// A future scale-to-zero activator fits in the no-endpoints branch: DNAT to the activator's port instead of
/// rejecting, and it holds the connection until a pod is ready.
struct ServiceProxy: Sendable {
    let instance: String
    let podCIDR: String

    var table: String { "kelson_\(instance)" }

    struct Rule {
        var address: String
        var port: Int64
        var proto: String
        var endpoints: [(ip: String, port: Int64)]
        var affinity: Bool
    }

    /// Rules for every Service port: ClusterIP ones, and NodePort ones (address "" means any local address).
    static func rules(services: [JSONValue], slices: [JSONValue]) -> [Rule] {
        var slicesByService: [String: [JSONValue]] = [:]
        for slice in slices {
            guard let service = slice[path: "metadata", "labels", "kubernetes.io/service-name"]?.stringValue else {
                continue
            }
            let namespace = slice[path: "metadata", "namespace"]?.stringValue ?? ""
            slicesByService["\(namespace)/\(service)", default: []].append(slice)
        }
        var rules: [Rule] = []
        for service in services {
            guard let clusterIP = service[path: "spec", "clusterIP"]?.stringValue, !clusterIP.isEmpty,
                clusterIP != "None"
            else { continue }
            let key =
                "\(service[path: "metadata", "namespace"]?.stringValue ?? "")/\(service[path: "metadata", "name"]?.stringValue ?? "")"
            let affinity = service[path: "spec", "sessionAffinity"]?.stringValue == "ClientIP"
            for port in service[path: "spec", "ports"]?.arrayValue ?? [] {
                guard let number = port["port"]?.intValue else { continue }
                let proto = (port["protocol"]?.stringValue ?? "TCP").lowercased()
                guard proto == "tcp" || proto == "udp" else { continue }
                let portName = port["name"]?.stringValue ?? ""
                var endpoints: [(String, Int64)] = []
                for slice in slicesByService[key] ?? [] {
                    guard
                        let slicePort = (slice["ports"]?.arrayValue ?? []).first(where: {
                            ($0["name"]?.stringValue ?? "") == portName
                        }), let target = slicePort["port"]?.intValue
                    else { continue }
                    for endpoint in slice["endpoints"]?.arrayValue ?? []
                    where endpoint[path: "conditions", "ready"]?.boolValue != false {
                        for address in endpoint["addresses"]?.arrayValue ?? [] {
                            if let ip = address.stringValue { endpoints.append((ip, target)) }
                        }
                    }
                }
                endpoints.sort { "\($0.0):\($0.1)" < "\($1.0):\($1.1)" }
                rules.append(
                    Rule(address: clusterIP, port: number, proto: proto, endpoints: endpoints, affinity: affinity))
                if let nodePort = port["nodePort"]?.intValue {
                    rules.append(
                        Rule(address: "", port: nodePort, proto: proto, endpoints: endpoints, affinity: affinity))
                }
            }
        }
        return rules
    }

    /// The whole table as an nft script (deleting the previous one in the same transaction).
    func script(_ rules: [Rule]) -> String {
        var nat: [String] = []
        var filter: [String] = []
        var chains: [String] = []
        for (index, rule) in rules.enumerated() {
            let match =
                rule.address.isEmpty
                ? "fib daddr type local \(rule.proto) dport \(rule.port)"
                : "ip daddr \(rule.address) \(rule.proto) dport \(rule.port)"
            guard !rule.endpoints.isEmpty else {
                filter.append("\(match) reject")
                continue
            }
            let chain = "svc_\(index)"
            nat.append("\(match) jump \(chain)")
            let targets = rule.endpoints.enumerated().map { "\($0.offset) : \($0.element.ip) . \($0.element.port)" }
            var body: [String] = []
            let l4 = "meta l4proto \(rule.proto)"
            // ClientIP affinity: the endpoint is chosen by a hash of the client's address, so a client keeps its
            // endpoint while the endpoints stay the same (kube-proxy remembers the choice for a timeout instead).
            let choice =
                rule.affinity
                ? "jhash ip saddr mod \(rule.endpoints.count)" : "numgen random mod \(rule.endpoints.count)"
            body.append("\(l4) dnat ip to \(choice) map { \(targets.joined(separator: ", ")) }")
            chains.append("chain \(chain) {\n\(body.map { "    " + $0 }.joined(separator: "\n"))\n  }")
        }
        return """
            table ip \(table) {}
            delete table ip \(table)
            table ip \(table) {
              chain services {
                \(nat.joined(separator: "\n    "))
              }
              \(chains.joined(separator: "\n  "))
              chain prerouting { type nat hook prerouting priority dstnat; policy accept; jump services; }
              chain output { type nat hook output priority -100; policy accept; jump services; }
              chain postrouting {
                type nat hook postrouting priority srcnat; policy accept;
                ct status dnat ip saddr \(podCIDR) masquerade
                ct status dnat ip saddr 127.0.0.0/8 masquerade
              }
              chain rejects {
                \(filter.joined(separator: "\n    "))
              }
              chain filter_output { type filter hook output priority 0; policy accept; ct state new jump rejects; }
              chain filter_forward { type filter hook forward priority 0; policy accept; ct state new jump rejects; }
            }

            """
    }

    func apply(_ rules: [Rule]) throws {
        try HostCommand.run(["nft", "-f", "-"], input: script(rules))
    }

    func remove() {
        try? HostCommand.run(["nft", "delete", "table", "ip", table])
    }
}
