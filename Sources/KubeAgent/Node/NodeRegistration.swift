import Foundation
import KubeAPI
import KubeServer

/// The Node object as the kubelet registers and reports it: capacity from the machine, addresses, nodeInfo,
/// conditions; and the heartbeat Lease in `kube-node-lease`.
struct NodeRegistration: Sendable {
    let client: KubeClient
    let settings: AgentSettings
    let hostIP: String
    let podCIDR: String

    static let kubeletVersion = "v1.33.0+kelson"

    var nodePath: String { KubeClient.path(apiVersion: "v1", plural: "nodes", name: settings.nodeName) }

    static func memoryBytes() -> Int64 {
        let text = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let kib = line.split(separator: " ").dropFirst().first.flatMap { Int64($0) } ?? 0
            return kib * 1024
        }
        return 0
    }

    static func cpus() -> Int { ProcessInfo.processInfo.activeProcessorCount }

    /// The host's address toward the outside (the source of its default route), else loopback.
    static func hostAddress() -> String {
        if let route = try? HostCommand.run(["ip", "-4", "-o", "route", "get", "1.0.0.1"]) {
            let fields = route.split(separator: " ")
            if let index = fields.firstIndex(of: "src"), index + 1 < fields.count { return String(fields[index + 1]) }
        }
        return "127.0.0.1"
    }

    private func read(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Creates the Node if it is missing (labels as the kubelet sets them), then reports its status.
    func register() async throws {
        let node: JSONValue = [
            "apiVersion": "v1", "kind": "Node",
            "metadata": [
                "name": .string(settings.nodeName),
                "labels": [
                    "kubernetes.io/hostname": .string(settings.nodeName), "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": .string(Self.architecture), "beta.kubernetes.io/os": "linux",
                    "beta.kubernetes.io/arch": .string(Self.architecture),
                ],
            ],
            "spec": ["podCIDR": .string(podCIDR), "podCIDRs": [.string(podCIDR)]],
        ]
        do {
            _ = try await client.create(KubeClient.path(apiVersion: "v1", plural: "nodes"), node)
        } catch {
            guard error.code == 409 else { throw error }
            _ = try await client.patch(nodePath, .merge, ["spec": node["spec"] ?? [:]])
        }
        try await reportStatus(ready: true)
    }

    static var architecture: String {
        #if arch(arm64)
            "arm64"
        #else
            "amd64"
        #endif
    }

    func reportStatus(ready: Bool, message: String? = nil) async throws {
        let now = JSONValue.string(APITime.format(Date()))
        let memory = Self.memoryBytes()
        let capacity: JSONValue = [
            "cpu": .string(String(Self.cpus())), "memory": .string("\(memory / 1024)Ki"),
            "pods": .string(String(settings.maxPods)), "ephemeral-storage": "0",
        ]
        var uname = utsname()
        Glibc.uname(&uname)
        let kernel = withUnsafeBytes(of: uname.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let osRelease = read("/etc/os-release").split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }
            .map { String($0.dropFirst("PRETTY_NAME=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        func condition(_ type: String, _ status: String, _ reason: String, _ text: String) -> JSONValue {
            [
                "type": .string(type), "status": .string(status), "reason": .string(reason), "message": .string(text),
                "lastHeartbeatTime": now, "lastTransitionTime": now,
            ]
        }
        let status: JSONValue = [
            "capacity": capacity, "allocatable": capacity,
            "addresses": [
                ["type": "InternalIP", "address": .string(hostIP)],
                ["type": "Hostname", "address": .string(settings.nodeName)],
            ],
            "conditions": [
                condition(
                    "MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                ready
                    ? condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")
                    : condition("Ready", "False", "KubeletNotReady", message ?? "container runtime is down"),
            ],
            "daemonEndpoints": ["kubeletEndpoint": ["Port": 0]],
            "nodeInfo": [
                "machineID": .string(read("/etc/machine-id")),
                "systemUUID": .string(read("/sys/class/dmi/id/product_uuid")),
                "bootID": .string(read("/proc/sys/kernel/random/boot_id")), "kernelVersion": .string(kernel),
                "osImage": .string(osRelease ?? "Linux"), "containerRuntimeVersion": "kelson://0.1.0",
                "kubeletVersion": .string(Self.kubeletVersion), "kubeProxyVersion": .string(Self.kubeletVersion),
                "operatingSystem": "linux", "architecture": .string(Self.architecture),
            ],
        ]
        _ = try await client.patch(nodePath + "/status", .merge, ["status": status])
    }

    /// Renews (or creates) the node's Lease.
    func renewLease() async throws {
        let path = KubeClient.path(
            apiVersion: "coordination.k8s.io/v1", plural: "leases", namespace: "kube-node-lease")
        let spec: JSONValue = [
            "holderIdentity": .string(settings.nodeName), "leaseDurationSeconds": 40,
            "renewTime": .string(APITime.format(Date(), fractionalDigits: 6)),
        ]
        do {
            _ = try await client.patch(path + "/" + settings.nodeName, .merge, ["spec": spec])
        } catch {
            guard error.code == 404 else { throw error }
            let lease: JSONValue = [
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": ["name": .string(settings.nodeName), "namespace": "kube-node-lease"], "spec": spec,
            ]
            _ = try await client.create(path, lease)
        }
    }
}
