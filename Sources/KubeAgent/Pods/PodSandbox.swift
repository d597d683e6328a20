import Foundation
import KubeAPI

/// What a pod's containers share: its network namespace and address (or the host's with `hostNetwork`), UTS and
/// IPC namespaces (hostname = the pod's), and the files every container sees at /etc/hosts, /etc/hostname and
/// /etc/resolv.conf.
struct PodSandbox: Sendable {
    let key: String
    let podIP: String
    let networkNamespace: String?
    let utsNamespace: String?
    let ipcNamespace: String?
    let files: [String: String]

    /// `/run/kelson-<instance>`, a private mount so namespaces can be pinned by bind mounts under it.
    static func namespaceRoot(instance: String) -> String { "/run/kelson-\(instance)" }

    static func prepareNamespaceRoot(instance: String) throws {
        let root = namespaceRoot(instance: instance)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        if !mounts.contains(" \(root) ") {
            try HostCommand.run(["mount", "--bind", root, root])
        }
        try HostCommand.run(["mount", "--make-private", root])
    }

    static func removeNamespaceRoot(instance: String) {
        let root = namespaceRoot(instance: instance)
        for pod in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            removePinned(root + "/" + pod)
        }
        try? HostCommand.run(["umount", "-l", root])
        try? FileManager.default.removeItem(atPath: root)
    }

    private static func removePinned(_ directory: String) {
        for name in ["uts", "ipc"] { try? HostCommand.run(["umount", "-l", directory + "/" + name]) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func create(
        pod: JSONValue, key: String, address: String?, network: PodNetwork, settings: AgentSettings,
        hostIP: String, directory: String
    ) async throws -> PodSandbox {
        let hostNetwork = pod[path: "spec", "hostNetwork"]?.boolValue == true
        let podName = pod[path: "metadata", "name"]?.stringValue ?? ""
        let namespace = pod[path: "metadata", "namespace"]?.stringValue ?? "default"
        let hostname = pod[path: "spec", "hostname"]?.stringValue ?? String(podName.prefix(63))
        var networkNamespace: String?
        var uts: String?
        var ipc: String?
        let podIP: String
        if hostNetwork || !settings.isolation {
            podIP = hostIP
        } else {
            guard let address else {
                throw ContainerConfigError(reason: "CreatePodSandboxError", message: "no free pod address on this node")
            }
            let pinned = namespaceRoot(instance: settings.instance) + "/" + key
            do {
                try await network.createNamespace(pod: key, address: address)
                try FileManager.default.createDirectory(atPath: pinned, withIntermediateDirectories: true)
                for name in ["uts", "ipc"] {
                    FileManager.default.createFile(atPath: pinned + "/" + name, contents: nil)
                }
                try await HostCommand.run(
                    ["unshare", "--uts=\(pinned)/uts", "--ipc=\(pinned)/ipc", "hostname", hostname])
            } catch {
                // Nothing half-made stays behind: the next attempt starts clean.
                network.deleteNamespace(pod: key)
                removePinned(pinned)
                throw error
            }
            networkNamespace = network.namespacePath(pod: key)
            uts = pinned + "/uts"
            ipc = pinned + "/ipc"
            podIP = address
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var hosts =
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        if hostNetwork {
            hosts = (try? String(contentsOfFile: "/etc/hosts", encoding: .utf8)) ?? hosts
        } else {
            var names = [hostname]
            if let subdomain = pod[path: "spec", "subdomain"]?.stringValue, !subdomain.isEmpty {
                names.insert("\(hostname).\(subdomain).\(namespace).svc.\(settings.clusterDomain)", at: 0)
            }
            hosts += "\(podIP)\t\(names.joined(separator: "\t"))\n"
        }
        for alias in pod[path: "spec", "hostAliases"]?.arrayValue ?? [] {
            let names = (alias["hostnames"]?.arrayValue ?? []).compactMap(\.stringValue)
            if let ip = alias["ip"]?.stringValue, !names.isEmpty {
                hosts += "\(ip)\t\(names.joined(separator: "\t"))\n"
            }
        }
        let policy = pod[path: "spec", "dnsPolicy"]?.stringValue ?? "ClusterFirst"
        let clusterDNS = policy == "ClusterFirstWithHostNet" || (policy == "ClusterFirst" && !hostNetwork)
        var resolv = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
        if clusterDNS {
            let domain = settings.clusterDomain
            resolv =
                "search \(namespace).svc.\(domain) svc.\(domain) \(domain)\nnameserver \(network.gateway)\noptions ndots:5\n"
        }
        if policy == "None" { resolv = "" }
        if let config = pod[path: "spec", "dnsConfig"] {
            let servers = (config["nameservers"]?.arrayValue ?? []).compactMap(\.stringValue)
            let searches = (config["searches"]?.arrayValue ?? []).compactMap(\.stringValue)
            if !searches.isEmpty { resolv += "search \(searches.joined(separator: " "))\n" }
            for server in servers { resolv += "nameserver \(server)\n" }
            let options = (config["options"]?.arrayValue ?? []).compactMap { option -> String? in
                guard let name = option["name"]?.stringValue else { return nil }
                return option["value"]?.stringValue.map { "\(name):\($0)" } ?? name
            }
            if !options.isEmpty { resolv += "options \(options.joined(separator: " "))\n" }
        }
        var files: [String: String] = [:]
        for (target, name, text) in [
            ("/etc/hosts", "hosts", hosts), ("/etc/resolv.conf", "resolv.conf", resolv),
            ("/etc/hostname", "hostname", hostname + "\n"),
        ] {
            let path = directory + "/" + name
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            files[target] = path
        }
        return PodSandbox(
            key: key, podIP: podIP, networkNamespace: networkNamespace, utsNamespace: uts, ipcNamespace: ipc,
            files: files)
    }

    func destroy(network: PodNetwork, instance: String) {
        if networkNamespace != nil { network.deleteNamespace(pod: key) }
        if utsNamespace != nil { Self.removePinned(Self.namespaceRoot(instance: instance) + "/" + key) }
    }
}
