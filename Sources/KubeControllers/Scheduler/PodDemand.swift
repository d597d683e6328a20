import KubeAPI

/// A host port a container asks for: one per (protocol, address, port).
struct HostPort: Hashable, Sendable {
    var proto: String
    var ip: String
    var port: Int64

    /// 0.0.0.0 conflicts with every address on the same protocol and port (the NodePorts plugin's rule).
    func conflicts(with other: HostPort) -> Bool {
        proto == other.proto && port == other.port && (ip == other.ip || ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// What a pod takes from a node, read once per pod: its requests (cpu in millicores, the rest in units), the
/// non-zero requests least-requested scoring uses, host ports, and its controller's uid for spreading.
struct PodDemand: Sendable {
    var requests: [String: Int64] = [:]
    /// cpu and memory with kube-scheduler's defaults for containers that request none (100m, 200Mi), so
    /// BestEffort pods still spread.
    var scoringCPU: Int64 = 0
    var scoringMemory: Int64 = 0
    var ports: [HostPort] = []
    var owner: String?

    static let defaultCPU: Int64 = 100
    static let defaultMemory: Int64 = 200 * 1024 * 1024

    init(pod: JSONValue) {
        let spec = pod["spec"] ?? [:]
        // Containers run together: their requests add up. Init containers run one at a time before them: the
        // pod needs the largest of them, if that is more. Then the runtime's overhead.
        var scoring = (cpu: Int64(0), memory: Int64(0))
        for container in spec["containers"]?.arrayValue ?? [] {
            let requests = Self.requests(of: container)
            for (resource, amount) in requests { self.requests[resource, default: 0] += amount }
            scoring.cpu += requests["cpu"] ?? Self.defaultCPU
            scoring.memory += requests["memory"] ?? Self.defaultMemory
            for port in container["ports"]?.arrayValue ?? [] {
                guard let hostPort = port["hostPort"]?.intValue, hostPort > 0 else { continue }
                let ip = port["hostIP"]?.stringValue ?? ""
                ports.append(
                    HostPort(
                        proto: port["protocol"]?.stringValue ?? "TCP", ip: ip.isEmpty ? "0.0.0.0" : ip,
                        port: hostPort))
            }
        }
        for container in spec["initContainers"]?.arrayValue ?? [] {
            let requests = Self.requests(of: container)
            for (resource, amount) in requests where amount > self.requests[resource, default: 0] {
                self.requests[resource] = amount
            }
            scoring.cpu = max(scoring.cpu, requests["cpu"] ?? Self.defaultCPU)
            scoring.memory = max(scoring.memory, requests["memory"] ?? Self.defaultMemory)
        }
        for (resource, amount) in spec["overhead"]?.objectValue ?? [:] {
            let value = Quantity.amount(of: resource, amount)
            requests[resource, default: 0] += value
            if resource == "cpu" { scoring.cpu += value }
            if resource == "memory" { scoring.memory += value }
        }
        scoringCPU = scoring.cpu
        scoringMemory = scoring.memory
        owner = pod.controllerReference?["uid"]?.stringValue
    }

    /// A container's requests; limits stand in for requests that are not given (the API's defaulting).
    private static func requests(of container: JSONValue) -> [String: Int64] {
        var result: [String: Int64] = [:]
        for (resource, amount) in container[path: "resources", "limits"]?.objectValue ?? [:] {
            result[resource] = Quantity.amount(of: resource, amount)
        }
        for (resource, amount) in container[path: "resources", "requests"]?.objectValue ?? [:] {
            result[resource] = Quantity.amount(of: resource, amount)
        }
        return result
    }

    var cpu: Int64 { requests["cpu"] ?? 0 }
    var memory: Int64 { requests["memory"] ?? 0 }
}
