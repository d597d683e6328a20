import ArgumentParser
import Foundation
import Kelson
import KubeAPI
import KubeServer
import Logging
import ServiceLifecycle
import Synchronization

/// `kelson bench-pods`: a whole `kelson server` in this process (store, API, controllers, scheduler and the node
/// agent running pods as real processes) on a fresh data directory. It measures what issue 20 asks of the agent:
/// - pod startup latency: `--pods` pods created at `--rate` per second, each timed from its create request to the
///   moment a watcher sees it `Running` (p50, p99, worst);
/// - memory: the process's RSS with the node idle and with `--max-pods` pods running; run it again with
///   `--disable-agent` for the same process without an agent, and the difference is the agent's own.
public struct PodStartupBenchCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bench-pods",
        abstract: "Benchmark the node agent: pod startup latency and memory (needs root; runs real pods).")

    @Option(help: "Pods for the latency phase.") var pods = 100
    @Option(help: "Pods created per second in the latency phase.") var rate = 10.0
    @Option(help: "Pods running in the memory phase.") var maxPods = 110
    @Option(help: "Pod network (this node takes its first /24).") var clusterCIDR = "10.240.0.0/16"
    @Option(help: "Service network.") var serviceCIDR = "10.241.0.0/16"
    @Flag(help: "Run the server without its agent: only the idle RSS is measured.") var disableAgent = false

    public init() {}

    static func residentBytes() -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
        }
        return 0
    }

    public func run() async throws {
        let directory = NSTemporaryDirectory() + "kelson-bench-pods-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var logger = Logger(label: "bench-pods")
        logger.logLevel = .warning
        var configuration = ClusterConfiguration(dataDirectory: directory, nodeName: "bench")
        configuration.httpsPort = 0
        configuration.clusterCIDR = clusterCIDR
        configuration.serviceCIDR = serviceCIDR
        configuration.disableAgent = disableAgent
        let server = try await ClusterServer(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: server.services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                logger: logger))
        let running = Task { try await group.run() }
        let client = KubeClient(handler: server.apiServer.handler)
        // However the phases end, the server shuts down gracefully: the agent stops its pods and removes its
        // network, nftables table and cgroups before this process exits.
        do {
            try await measure(client)
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await running.value
            throw error
        }
        await group.triggerGracefulShutdown()
        _ = try? await running.value
    }

    private func measure(_ client: KubeClient) async throws {
        if disableAgent {
            try await Task.sleep(for: .seconds(5))
            print(String(format: "RSS without the agent, idle: %.1f MiB", Double(Self.residentBytes()) / 1_048_576))
            return
        }
        try await waitForReadyNode(client)
        try await Task.sleep(for: .seconds(2))
        let idle = Self.residentBytes()
        print(String(format: "RSS with the agent, idle node: %.1f MiB", Double(idle) / 1_048_576))

        let latencies = try await startupLatencies(client)
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000 }
        print(
            String(
                format:
                    "pod startup (create → Running seen by a watcher), %d pods at %.0f/s: p50 %.0f ms, p99 %.0f ms, worst %.0f ms",
                sorted.count, rate, percentile(0.5), percentile(0.99), (sorted.last ?? 0) * 1000))

        let more = max(0, maxPods - pods)
        for index in 0..<more { try await createPod(client, name: "extra-\(index)") }
        try await waitForRunning(client, count: maxPods)
        try await Task.sleep(for: .seconds(3))
        let full = Self.residentBytes()
        print(
            String(
                format: "RSS with %d pods running: %.1f MiB (%.2f MiB per pod over the idle node)", maxPods,
                Double(full) / 1_048_576, Double(full - idle) / 1_048_576 / Double(maxPods)))
        _ = try await client.delete(
            "/api/v1/namespaces/default/pods",
            options: ["apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 1])
        try await waitForRunning(client, count: 0, timeout: .seconds(60))
    }

    private func waitForReadyNode(_ client: KubeClient) async throws {
        for _ in 0..<300 {
            if let node = try? await client.get("/api/v1/nodes/bench"),
                (node[path: "status", "conditions"]?.arrayValue ?? []).contains(where: {
                    $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
                }),
                (try? await client.get("/api/v1/namespaces/default/serviceaccounts/default")) != nil
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("the node did not become ready (is this root?)")
    }

    private func createPod(_ client: KubeClient, name: String) async throws {
        let pod: JSONValue = [
            "apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string(name)],
            "spec": [
                "terminationGracePeriodSeconds": 1,
                "containers": [["name": "main", "image": "busybox", "command": ["sleep", "3600"]]],
            ],
        ]
        _ = try await client.create("/api/v1/namespaces/default/pods", pod)
    }

    /// Creates `pods` pods at `rate` per second while a watcher notes when each is first seen Running.
    private func startupLatencies(_ client: KubeClient) async throws -> [Double] {
        let timings = StartupTimings()
        let events = try await client.watch("/api/v1/namespaces/default/pods", query: "")
        let total = pods
        let watcher = Task {
            for try await event in events {
                let object = event.object
                guard object[path: "status", "phase"]?.stringValue == "Running",
                    let name = object[path: "metadata", "name"]?.stringValue
                else { continue }
                let now = ContinuousClock.now
                guard let start = timings.created.withLock({ $0[name] }) else { continue }
                timings.seen.withLock { seen in
                    if seen[name] == nil {
                        let elapsed = now - start
                        seen[name] =
                            Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                    }
                }
                if timings.seen.withLock({ $0.count }) == total { break }
            }
        }
        let interval = Duration.seconds(1.0 / rate)
        let begin = ContinuousClock.now
        for index in 0..<pods {
            try await Task.sleep(until: begin + interval * index, clock: .continuous)
            let name = "startup-\(index)"
            timings.created.withLock { $0[name] = .now }
            try await createPod(client, name: name)
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while timings.seen.withLock({ $0.count }) < pods, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        watcher.cancel()
        events.cancel()
        return Array(timings.seen.withLock { $0.values })
    }

    private func waitForRunning(_ client: KubeClient, count: Int, timeout: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let list = try await client.list("/api/v1/namespaces/default/pods")
            let items = list["items"]?.arrayValue ?? []
            let runningPods = items.filter { $0[path: "status", "phase"]?.stringValue == "Running" }.count
            if count == 0 ? items.isEmpty : runningPods >= count { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ValidationError("pods did not reach \(count) running in time")
    }
}

/// When each pod was created and how long until it was seen Running.
private final class StartupTimings: Sendable {
    let created = Mutex<[String: ContinuousClock.Instant]>([:])
    let seen = Mutex<[String: Double]>([:])
}
