import Foundation
import Synchronization
import Testing

/// A `kelson server` with its node agent, on pod and Service networks of its own (so clusters of parallel tests
/// never share an address), and what it made in the kernel, for tests to look at and to check it is all gone.
final class AgentCluster {
    let cluster: ClusterProcess
    let podPrefix: String
    let servicePrefix: String

    private static let counter = Atomic<Int>(0)

    init(extraArguments: [String] = []) throws {
        // Second octets 100–249 for pods and services, spread by process and by cluster.
        let next = Self.counter.add(1, ordering: .relaxed).oldValue
        let base = (Int(getpid()) * 7 + next * 2) % 74
        podPrefix = "10.\(100 + base * 2)"
        servicePrefix = "10.\(101 + base * 2)"
        cluster = try ClusterProcess.start(
            extraArguments: ["--cluster-cidr", "\(podPrefix).0.0/16", "--service-cidr", "\(servicePrefix).0.0/16"]
                + extraArguments,
            agent: true)
    }

    /// The agent's instance (names its bridge `kb<instance>`, cgroups `kelson-<instance>`), from the server's log.
    var instance: String {
        let log = (try? String(contentsOfFile: cluster.path("server.log"), encoding: .utf8)) ?? ""
        guard let range = log.range(of: "on bridge kb") else { return "" }
        return String(log[range.upperBound...].prefix { $0.isHexDigit })
    }

    /// Processes inside this agent's containers' cgroups: pid → command line.
    func containerProcesses() -> [Int32: String] { Self.containerProcesses(instance: instance) }

    /// Processes inside the containers' cgroups of the agent with `instance`.
    static func containerProcesses(instance: String) -> [Int32: String] {
        let marker = "/kelson-\(instance)/"
        var found: [Int32: String] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                let cgroups = try? String(contentsOfFile: "/proc/\(entry)/cgroup", encoding: .utf8),
                cgroups.contains(marker),
                let command = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/cmdline"))
            else { continue }
            found[pid] = String(decoding: command.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        }
        return found
    }

    func processes(matching text: String) -> [Int32] {
        containerProcesses().filter { $0.value.contains(text) }.map(\.key).sorted()
    }

    /// What is left in the kernel of this agent: a list of descriptions, empty when all is gone.
    static func leftovers(instance: String) -> [String] {
        guard !instance.isEmpty else { return ["no instance found in the server's log"] }
        var left: [String] = []
        if (try? Shell.succeeds("ip link show kb\(instance)")) == true { left.append("bridge kb\(instance)") }
        let namespaces = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        left += namespaces.filter { $0.hasPrefix("kp-\(instance)-") }.map { "netns \($0)" }
        if (try? Shell.succeeds("nft list table ip kelson_\(instance)")) == true {
            left.append("nft table kelson_\(instance)")
        }
        for controller in ["memory", "cpu", "pids", ""] {
            let path = "/sys/fs/cgroup/\(controller.isEmpty ? "" : controller + "/")kelson-\(instance)"
            if FileManager.default.fileExists(atPath: path) { left.append("cgroup \(path)") }
        }
        if FileManager.default.fileExists(atPath: "/run/kelson-\(instance)") { left.append("/run/kelson-\(instance)") }
        return left
    }

    /// Stops the server (SIGTERM: the agent stops every pod) and checks nothing is left behind.
    func stop() {
        let instance = self.instance
        cluster.stop()
        let left = Self.leftovers(instance: instance)
        #expect(left.isEmpty, "left behind after kelson server stopped: \(left)")
        // Clean up anyway, so one failure does not leak into other tests or the machine.
        for item in left {
            if item.hasPrefix("bridge ") { _ = try? Shell.succeeds("ip link del kb\(instance)") }
            if item.hasPrefix("netns ") { _ = try? Shell.succeeds("ip netns del \(item.dropFirst(6))") }
            if item.hasPrefix("nft ") { _ = try? Shell.succeeds("nft delete table ip kelson_\(instance)") }
        }
    }

    static func eventually(_ seconds: TimeInterval = 60, _ condition: () throws -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return true }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return false
    }
}

/// A shell command line, for the kernel's tools in checks (`ip`, `nft`).
enum Shell {
    static func run(_ command: String, watchdog: TimeInterval = 60) throws -> KelsonRun {
        try KelsonRun.run(executable: "/bin/sh", ["-c", command], watchdog: watchdog)
    }

    static func succeeds(_ command: String) throws -> Bool { try run(command).exitCode == 0 }
}
