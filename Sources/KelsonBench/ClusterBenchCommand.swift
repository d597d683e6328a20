import ArgumentParser
import Foundation
import Kelson
import KubeAPI
import KubeControllers
import KubeServer
import Logging
import Synchronization

/// `kelson bench-cluster`: the controllers and the scheduler on the in-process API over a fresh SQLite store, with
/// nodes registered by the benchmark (pods are bound, never run). It measures what issue 19 asks of them:
/// - the API's own CPU per pod create and per binding (no controllers running), the yardstick;
/// - the scheduler's rate: pods created first, then the scheduler started, until every pod is bound;
/// - a Deployment's latency: from its create until all its pods are bound (repeated, median and worst);
/// - the controllers' CPU per pod: a Deployment's whole cost minus the API's cost of the creates and bindings
///   it made (everything runs in this one process, so CPU is counted with getrusage around each phase).
public struct ClusterBenchCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bench-cluster",
        abstract: "Benchmark the controllers and the scheduler of kelson server (in-process, on SQLite).")

    @Option(help: "Nodes to register.") var nodes = 10
    @Option(help: "Pods for the API-cost and scheduler phases.") var pods = 2000
    @Option(help: "Replicas of the latency Deployment.") var replicas = 100
    @Option(help: "Rounds of the latency Deployment.") var rounds = 5
    @Option(help: "Concurrent in-process clients creating pods.") var clients = 16
    @Option(help: "Data directory (default: a fresh temporary one, removed after).") var dataDir: String?
    @Option(help: "Controllers to leave out of the Deployment phase, comma-separated (e.g. garbage-collector).")
    var disable = ""

    public init() {}

    public func run() async throws {
        let directory = dataDir ?? NSTemporaryDirectory() + "kelson-bench-cluster-\(UUID().uuidString)"
        defer { if dataDir == nil { try? FileManager.default.removeItem(atPath: directory) } }
        var logger = Logger(label: "bench-cluster")
        logger.logLevel = .warning
        var store = KelsonConfiguration()
        store.dataDirectory = directory
        let server = try KelsonServer(configuration: store, logger: logger)
        let handler = APIHandler.inProcess(
            storage: LocalObjectStorage(store: server.store, hub: server.watchHub))
        let client = KubeClient(handler: handler)
        let disabled = Set(disable.split(separator: ",").map(String.init))
        let bench = ClusterBench(client: client, logger: logger, clients: clients, disabled: disabled)
        try await bench.prepare(nodes: nodes)

        let create = try await bench.apiCost(pods: pods)
        print(String(format: "API create:  %6.0f pods/s, %5.0f µs CPU per create", create.rate, create.cpu))
        let bind = try await bench.bindCost()
        print(String(format: "API binding: %6.0f binds/s, %5.0f µs CPU per binding", bind.rate, bind.cpu))
        let scheduler = try await bench.schedulerRate(pods: pods)
        print(String(format: "scheduler:   %6.0f pods bound/s (%d pods waiting, %d nodes)", scheduler, pods, nodes))
        let observe = try await bench.observeCost(pods: pods)
        print(
            String(
                format:
                    "following:   %5.0f µs CPU per pod created while the controllers watch (%5.0f µs more than alone)",
                observe, observe - create.cpu))
        var latencies: [Double] = []
        var controllerCPU: [Double] = []
        var tallies: [[String: Int]] = []
        for round in 0..<rounds {
            let (latency, cpu, tally) = try await bench.deployment(replicas: replicas, round: round)
            latencies.append(latency)
            // The API's share: each create costs what a pod create does, every other request what a binding does.
            let requests = tally.filter { !$0.key.hasPrefix("reconcile ") }
            let creates = requests.filter { $0.key.hasPrefix("POST ") && !$0.key.hasSuffix("binding") }.values
                .reduce(0, +)
            let others = requests.values.reduce(0, +) - creates
            controllerCPU.append(cpu - Double(creates) * create.cpu - Double(others) * bind.cpu)
            tallies.append(tally)
        }
        latencies.sort()
        let perPod = controllerCPU.sorted()[controllerCPU.count / 2] / Double(replicas)
        if let tally = tallies.last {
            let lines = tally.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            print("requests and reconciles of the last Deployment round: " + lines.joined(separator: ", "))
        }
        print(
            String(
                format: "deployment:  %d replicas all bound %.0f ms after create (median of %d; worst %.0f ms)",
                replicas, latencies[latencies.count / 2] * 1000, rounds, (latencies.last ?? 0) * 1000))
        print(
            String(
                format:
                    "controllers: %5.0f µs CPU per pod (the Deployment's whole cost less the API cost of their requests)",
                perPod))
        server.store.close()
    }
}

/// The phases of `kelson bench-cluster`.
struct ClusterBench {
    let client: KubeClient
    let logger: Logger
    let clients: Int
    let disabled: Set<String>

    static func cpuMicroseconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = Double(usage.ru_utime.tv_sec) * 1e6 + Double(usage.ru_utime.tv_usec)
        let system = Double(usage.ru_stime.tv_sec) * 1e6 + Double(usage.ru_stime.tv_usec)
        return user + system
    }

    func prepare(nodes: Int) async throws {
        for name in ["default", "kube-node-lease", "bench-api", "bench-scheduler"] {
            _ = try? await client.create(
                "/api/v1/namespaces", ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]])
        }
        let now = JSONValue.string(APITime.format(Date()))
        let resources: JSONValue = ["cpu": "640", "memory": "2560Gi", "pods": "100000"]
        for index in 0..<nodes {
            let name = "node-\(index)"
            _ = try await client.create(
                "/api/v1/nodes", ["apiVersion": "v1", "kind": "Node", "metadata": ["name": .string(name)]])
            _ = try await client.patch(
                "/api/v1/nodes/\(name)/status", .merge,
                [
                    "status": [
                        "capacity": resources, "allocatable": resources,
                        "conditions": [
                            [
                                "type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now,
                                "lastTransitionTime": now,
                            ]
                        ],
                    ]
                ])
            _ = try await client.create(
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                [
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": ["name": .string(name)],
                    "spec": [
                        "holderIdentity": .string(name), "leaseDurationSeconds": 3600,
                        "renewTime": .string(APITime.format(Date(), fractionalDigits: 6)),
                    ],
                ])
        }
    }

    static func pod(_ name: String) -> JSONValue {
        [
            "apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string(name), "labels": ["bench": "yes"]],
            "spec": [
                "containers": [
                    [
                        "name": "c", "image": "busybox",
                        "resources": ["requests": ["cpu": "10m", "memory": "16Mi"]],
                    ]
                ]
            ],
        ]
    }

    /// Runs `count` calls over `clients` concurrent tasks; answers calls per second and CPU µs per call.
    func measure(_ count: Int, _ call: @escaping @Sendable (Int) async throws -> Void) async throws -> (
        rate: Double, cpu: Double
    ) {
        let cpu = Self.cpuMicroseconds()
        let start = ContinuousClock.now
        let next = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    while true {
                        let index = next.value.add(1, ordering: .relaxed).oldValue
                        guard index < count else { return }
                        try await call(index)
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = (ContinuousClock.now - start).seconds
        return (Double(count) / seconds, (Self.cpuMicroseconds() - cpu) / Double(count))
    }

    func apiCost(pods: Int) async throws -> (rate: Double, cpu: Double) {
        let client = client
        return try await measure(pods) { index in
            _ = try await client.create("/api/v1/namespaces/bench-api/pods", Self.pod("p-\(index)"))
        }
    }

    func bindCost() async throws -> (rate: Double, cpu: Double) {
        let client = client
        let names = try await client.list("/api/v1/namespaces/bench-api/pods")["items"]?.arrayValue?.map(\.name) ?? []
        return try await measure(names.count) { index in
            let binding: JSONValue = [
                "apiVersion": "v1", "kind": "Binding", "metadata": ["name": .string(names[index])],
                "target": ["apiVersion": "v1", "kind": "Node", "name": .string("node-\(index % 10)")],
            ]
            _ = try await client.create("/api/v1/namespaces/bench-api/pods/\(names[index])/binding", binding)
        }
    }

    /// Pods waiting first; then the scheduler alone, until each is bound.
    func schedulerRate(pods: Int) async throws -> Double {
        let client = client
        _ = try await measure(pods) { index in
            _ = try await client.create("/api/v1/namespaces/bench-scheduler/pods", Self.pod("s-\(index)"))
        }
        let context = ControllerContext(client: client, logger: logger)
        let manager = ControllerManager.standard(
            context: context, disabled: Set(ControllerManager.controllerNames).subtracting(["scheduler"]))
        let start = ContinuousClock.now
        let running = Task { try? await manager.run() }
        defer { running.cancel() }
        try await waitUntilBound(namespace: "bench-scheduler", count: pods)
        return Double(pods) / (ContinuousClock.now - start).seconds
    }

    /// Bound pods created while every controller runs (none acts on them): what following the pods costs the
    /// controllers' informers and handlers, on top of the create itself.
    func observeCost(pods: Int) async throws -> Double {
        _ = try await client.create(
            "/api/v1/namespaces", ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "bench-observe"]])
        let context = ControllerContext(client: client, logger: logger)
        let manager = ControllerManager.standard(context: context, disabled: disabled)
        let running = Task { try? await manager.run() }
        defer { running.cancel() }
        for informer in context.informers.all { await informer.waitForSync() }
        try await waitUntilIdle(manager)
        let cache = context.informer(.pods)
        let client = client
        let cpu = Self.cpuMicroseconds()
        _ = try await measure(pods) { index in
            var pod = Self.pod("o-\(index)")
            pod[path: "spec", "nodeName"] = .string("node-\(index % 10)")
            _ = try await client.create("/api/v1/namespaces/bench-observe/pods", pod)
        }
        // Until the controllers' cache has every pod: their share of the work is done by then.
        while cache.objects(inNamespace: "bench-observe").count < pods {
            try await Task.sleep(for: .milliseconds(2))
        }
        return (Self.cpuMicroseconds() - cpu) / Double(pods)
    }

    /// One Deployment of `replicas` in its own namespace with every controller running: seconds from its create
    /// until all its pods are bound, and the process CPU (µs) from its create until then.
    func deployment(replicas: Int, round: Int) async throws -> (Double, Double, [String: Int]) {
        let namespace = "bench-deploy-\(round)"
        _ = try await client.create(
            "/api/v1/namespaces", ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]])
        let requests = RequestTally()
        var observed = client
        observed.observer = { method, path in requests.count(method, path) }
        let context = ControllerContext(client: observed, logger: logger)
        let manager = ControllerManager.standard(context: context, disabled: disabled)
        let running = Task { try? await manager.run() }
        defer { running.cancel() }
        for informer in context.informers.all { await informer.waitForSync() }
        // The first pass over what is already stored is not the Deployment's cost: start once it is done.
        try await waitUntilIdle(manager)
        requests.reset()
        let reconcilesBefore = manager.reconcileCounts
        let cpu = Self.cpuMicroseconds()
        let start = ContinuousClock.now
        _ = try await client.create(
            "/apis/apps/v1/namespaces/\(namespace)/deployments",
            [
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
                "spec": [
                    "replicas": .int(Int64(replicas)), "selector": ["matchLabels": ["app": "web"]],
                    "template": [
                        "metadata": ["labels": ["app": "web"]],
                        "spec": Self.pod("x")["spec"] ?? [:],
                    ],
                ],
            ])
        // Read from the controllers' own pod cache (polling it costs little; a watch of our own would parse every
        // pod change again and count against the controllers).
        let pods = context.informer(.pods)
        while pods.objects(inNamespace: namespace).filter({ !($0[path: "spec", "nodeName"]?.stringValue ?? "").isEmpty }
        )
        .count < replicas {
            try await Task.sleep(for: .milliseconds(2))
        }
        let seconds = (ContinuousClock.now - start).seconds
        let used = Self.cpuMicroseconds() - cpu
        // Every request the controllers made stopped counting at the last binding (the tally keeps going a little;
        // it is read now).
        var tally = requests.snapshot()
        for (name, count) in manager.reconcileCounts where count > reconcilesBefore[name] ?? 0 {
            tally["reconcile \(name)"] = count - (reconcilesBefore[name] ?? 0)
        }
        return (seconds, used, tally)
    }

    /// Until no controller has work queued, for 100 ms in a row.
    func waitUntilIdle(_ manager: ControllerManager) async throws {
        var quiet = 0
        while quiet < 50 {
            quiet = manager.isIdle ? quiet + 1 : 0
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Watches the namespace's pods until `count` of them have a node.
    func waitUntilBound(namespace: String, count: Int) async throws {
        let path = "/api/v1/namespaces/\(namespace)/pods"
        while true {
            let list = try await client.list(path, query: "fieldSelector=spec.nodeName%21%3D")
            let version = list[path: "metadata", "resourceVersion"]?.stringValue ?? ""
            var bound = Set((list["items"]?.arrayValue ?? []).map(\.name))
            if bound.count >= count { return }
            let events = try await client.watch(path, query: "resourceVersion=\(version)")
            defer { events.cancel() }
            for await (type, object) in events where type == "MODIFIED" || type == "ADDED" {
                if !(object[path: "spec", "nodeName"]?.stringValue ?? "").isEmpty { bound.insert(object.name) }
                if bound.count >= count { return }
            }
        }
    }
}

/// Requests by method and the last segment of their path (`POST pods`, `PUT status`, `POST binding`).
final class RequestTally: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func count(_ method: String, _ path: String) {
        let last = path.split(separator: "/").last.map(String.init) ?? ""
        // `…/pods/NAME/status` → "status"; `…/namespaces/ns/pods` → "pods"; `…/pods/NAME` → the collection.
        let segments = path.split(separator: "/")
        let what: String
        if ["status", "binding", "scale", "finalize"].contains(last) {
            what = last
        } else if method == "POST" || method == "GET" && segments.count % 2 == 0 {
            what = last
        } else {
            what = segments.dropLast().last.map(String.init) ?? last
        }
        counts.withLock { $0["\(method) \(what)", default: 0] += 1 }
    }

    func snapshot() -> [String: Int] { counts.withLock { $0 } }
    func reset() { counts.withLock { $0 = [:] } }
}

/// A shared counter the client tasks take indices from.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

extension JSONValue {
    fileprivate var name: String { self[path: "metadata", "name"]?.stringValue ?? "" }
}

extension Duration {
    fileprivate var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
