import Foundation
import GRPCWire
import KubeAPI
import KubeServer
import Logging
import ServiceLifecycle
import Synchronization

/// The node agent (kubelet-lite) as a `Service`: registers the Node and keeps its Lease, runs the pods bound to
/// it (`PodRunner`), programs the service proxy, and answers `pods/log` for them. On graceful shutdown it stops
/// every pod's processes and removes what it made in the kernel; after a crash, the next start finds what the
/// last run left (cgroups, network namespaces, the nftables table) and removes it before starting pods again, so
/// no process outlives its pod and none runs twice.
public final class NodeAgent: Service, PodNode, Sendable {
    public let settings: AgentSettings
    private let client: KubeClient
    private let podNodes: PodNodes?
    private let logger: Logger
    private let runners = Mutex<[String: PodRunner]>([:])
    private let pods: Informer
    private let configMaps: Informer
    private let secrets: Informer
    private let services: Informer
    private let slices: Informer
    private let network: PodNetwork
    private let proxy: ServiceProxy
    private let dnsRecords: ClusterDNSRecords

    public init(client: KubeClient, settings: AgentSettings, podNodes: PodNodes?, logger: Logger) {
        var client = client
        client.userAgent = "kubelet/\(NodeRegistration.kubeletVersion) (linux/amd64) kelson"
        self.client = client
        self.settings = settings
        self.podNodes = podNodes
        self.logger = logger
        let selector = "fieldSelector=spec.nodeName%3D\(settings.nodeName)"
        pods = Informer(client: client, path: "/api/v1/pods", query: selector)
        configMaps = Informer(client: client, path: "/api/v1/configmaps")
        secrets = Informer(client: client, path: "/api/v1/secrets")
        services = Informer(client: client, path: "/api/v1/services")
        slices = Informer(client: client, path: "/apis/discovery.k8s.io/v1/endpointslices")
        network = PodNetwork(instance: settings.instance, clusterCIDR: settings.clusterCIDR)
        proxy = ServiceProxy(instance: settings.instance, podCIDR: network.podCIDR)
        dnsRecords = ClusterDNSRecords(clusterDomain: settings.clusterDomain)
    }

    /// Why this machine cannot run isolated pods, or nil when it can.
    public static func unmetRequirements(isolation: Bool) -> String? {
        if getuid() != 0 {
            return
                "the node agent needs root to run pods (namespaces, cgroups, the pod network); run as root, or pass --disable-agent"
        }
        let tools = isolation ? ["ip", "nft", "nsenter", "unshare", "mount", "chroot", "hostname"] : ["ip", "nft"]
        let missing = tools.filter { !HostCommand.exists($0) }
        if !missing.isEmpty {
            return
                "the node agent needs \(missing.joined(separator: ", ")) on PATH (apt-get install -y iproute2 nftables util-linux)"
        }
        if isolation, !FileManager.default.fileExists(atPath: "/proc/self/ns/pid") {
            return
                "this kernel has no namespaces: pass --agent-isolation=none to run pods in the host's namespaces (no isolation)"
        }
        return nil
    }

    public func run() async throws {
        if let problem = Self.unmetRequirements(isolation: settings.isolation) { throw AgentError(problem) }
        if !settings.isolation {
            logger.warning("node agent: --agent-isolation=none: pods run in the host's namespaces, without isolation")
        }
        cleanUpLeftovers()
        try FileManager.default.createDirectory(atPath: settings.stateDirectory, withIntermediateDirectories: true)
        let hostIP = NodeRegistration.hostAddress()
        var dns: ClusterDNSServer?
        if settings.isolation {
            try network.setUp()
            try PodSandbox.prepareNamespaceRoot(instance: settings.instance)
            // Cluster DNS on the pods' gateway: what every pod's resolv.conf names.
            let server = ClusterDNSServer(host: network.gateway, port: 53, records: dnsRecords, logger: logger)
            try await server.start()
            dns = server
        }
        let registration = NodeRegistration(
            client: client, settings: settings, hostIP: hostIP, podCIDR: network.podCIDR)
        try await registration.register()
        let events = EventRecorder(client: client, now: { Date() }, logger: logger)
        let configMaps = configMaps
        let secrets = secrets
        let services = services
        let objects = ClusterObjects(
            configMap: { namespace, name in configMaps.get("\(namespace)/\(name)") },
            secret: { namespace, name in secrets.get("\(namespace)/\(name)") },
            services: { namespace in services.objects(inNamespace: namespace) },
            allocatableCPUMillis: Int64(NodeRegistration.cpus() * 1000),
            allocatableMemory: NodeRegistration.memoryBytes())
        let runtime = AgentRuntime(
            client: client, settings: settings, network: network, objects: objects, hostIP: hostIP, events: events,
            addresses: .init(prefix: network.subnetPrefix), logger: logger)
        let proxyChanges = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let podChanges = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        services.onChange { _ in proxyChanges.continuation.yield() }
        slices.onChange { _ in proxyChanges.continuation.yield() }
        pods.onChange { _ in podChanges.continuation.yield() }
        podNodes?.register(settings.nodeName, self)
        logger.info(
            "node agent: node \(settings.nodeName), pods in \(network.podCIDR) on bridge \(network.bridge), state in \(settings.stateDirectory)"
        )
        await withDiscardingTaskGroup { group in
            for informer in [pods, configMaps, secrets, services, slices] { group.addTask { await informer.run() } }
            group.addTask { await events.run() }
            group.addTask {
                for await _ in proxyChanges.stream { self.programProxy() }
            }
            group.addTask {
                await configMaps.waitForSync()
                await secrets.waitForSync()
                await services.waitForSync()
                for await _ in podChanges.stream { self.syncPods(runtime: runtime) }
            }
            group.addTask {
                var lastStatus = ContinuousClock.now
                var wasReady = true
                while !Task.isCancelled {
                    do {
                        try await registration.renewLease()
                        let problem = self.runtimeProblem()
                        if ContinuousClock.now - lastStatus > .seconds(60) || (problem == nil) != wasReady {
                            try await registration.reportStatus(ready: problem == nil, message: problem)
                            lastStatus = .now
                            wasReady = problem == nil
                        }
                    } catch {
                        self.logger.warning("node agent: heartbeat failed: \(error)")
                    }
                    try? await Task.sleep(for: self.settings.leaseRenewInterval)
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await dns?.stop()
        await shutdown()
    }

    /// Why this node cannot run pods now (its bridge is gone, say), after trying to repair it; nil when it can.
    private func runtimeProblem() -> String? {
        guard settings.isolation else { return nil }
        if FileManager.default.fileExists(atPath: "/sys/class/net/\(network.bridge)") { return nil }
        do {
            try network.setUp()
            // The pods' veths lost their bridge with it: join them to the new one.
            for namespace in network.namespaces() {
                let key = namespace.dropFirst("kp-\(settings.instance)-".count)
                try? HostCommand.run(["ip", "link", "set", "kv\(key)", "master", network.bridge, "up"])
            }
            logger.warning("node agent: the bridge \(network.bridge) was gone; made it again")
            return nil
        } catch {
            return "the pod network's bridge \(network.bridge) is missing and could not be made again: \(error)"
        }
    }

    /// Starts a runner for each new pod, passes changes to the others, stops those whose pod is gone.
    private func syncPods(runtime: AgentRuntime) {
        let current = pods.objects
        var seen = Set<String>()
        for pod in current {
            guard let uid = pod[path: "metadata", "uid"]?.stringValue else { continue }
            seen.insert(uid)
            let phase = pod[path: "status", "phase"]?.stringValue
            let existing = runners.withLock { $0[uid] }
            if let existing {
                Task { await existing.update(pod) }
                continue
            }
            // A finished pod from before a restart stays finished.
            if phase == "Succeeded" || phase == "Failed", pod[path: "metadata", "deletionTimestamp"] == nil { continue }
            let runner = PodRunner(pod: pod, runtime: runtime)
            runners.withLock { $0[uid] = runner }
            Task {
                await runner.run()
                _ = self.runners.withLock { $0.removeValue(forKey: uid) }
            }
            runner.wake()
        }
        let gone = runners.withLock { runners in runners.filter { !seen.contains($0.key) }.map(\.value) }
        for runner in gone { Task { await runner.remove() } }
    }

    private func programProxy() {
        dnsRecords.update(services: services.objects, endpointSlices: slices.objects)
        let rules = ServiceProxy.rules(services: services.objects, slices: slices.objects)
        do {
            try proxy.apply(rules)
        } catch {
            logger.error("node agent: service proxy rules: \(error)")
        }
    }

    private func shutdown() async {
        podNodes?.unregister(settings.nodeName)
        let all = runners.withLock { Array($0.values) }
        await withTaskGroup(of: Void.self) { group in
            for runner in all { group.addTask { await runner.shutdown(grace: .seconds(10)) } }
        }
        cleanUpLeftovers()
        logger.info("node agent: stopped every pod's processes")
    }

    /// Removes everything a previous run of this agent made in the kernel.
    private func cleanUpLeftovers() {
        for group in CGroup.leftovers(instance: settings.instance) { group.destroy() }
        CGroup.removeInstance(settings.instance)
        if settings.isolation {
            network.tearDown()
            PodSandbox.removeNamespaceRoot(instance: settings.instance)
        }
        proxy.remove()
        try? FileManager.default.removeItem(atPath: settings.stateDirectory + "/pods")
    }

    // MARK: PodNode

    public func serve(_ kind: PodStreamKind, pod: JSONValue, request: HTTPRequest) async throws(KubeError)
        -> HTTPResponse
    {
        guard let uid = pod[path: "metadata", "uid"]?.stringValue, let runner = runners.withLock({ $0[uid] }) else {
            throw .badRequest("pod \(pod[path: "metadata", "name"]?.stringValue ?? "") is not running on this node")
        }
        let query = QueryParameters(request.query)
        switch kind {
        case .log:
            let options = try LogQuery(query: request.query)
            let target = try await runner.logTarget(container: query["container"], previous: options.previous)
            return options.respond(path: target.path) {
                target.running ? await runner.isRunning(container: target.container) : false
            }
        case .exec:
            let options = try StreamOptions.parse(query: request.query, requiresCommand: true)
            let entry = try await runner.entry(container: options.container)
            if SPDYUpgrade.isRequested(request) {
                return try SPDYRemoteCommand.startExec(
                    request: request, options: options, enter: entry.enter, environment: entry.environment,
                    logger: logger)
            }
            return try ExecSession.start(
                request: request, options: options, enter: entry.enter, environment: entry.environment, logger: logger)
        case .attach:
            let options = try StreamOptions.parse(query: request.query, requiresCommand: false)
            let container = try await runner.attachable(container: options.container)
            if SPDYUpgrade.isRequested(request) {
                return try SPDYRemoteCommand.startAttach(
                    request: request, options: options, container: container, logger: logger)
            }
            return try AttachSession.start(request: request, options: options, container: container, logger: logger)
        case .portforward:
            // Connections are made inside the pod's network namespace (the host's for hostNetwork pods).
            let shared = pod[path: "spec", "hostNetwork"]?.boolValue == true || !settings.isolation
            let namespacePath = shared ? "/proc/self/ns/net" : network.namespacePath(pod: runner.key)
            let namespace = pod[path: "metadata", "namespace"]?.stringValue ?? ""
            let name = pod[path: "metadata", "name"]?.stringValue ?? ""
            return try PortForwardSession.start(
                request: request, pod: "\(namespace)/\(name)", logger: logger,
                connect: { port in try await connectInNetworkNamespace(path: namespacePath, port: port) })
        }
    }
}

public struct AgentError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
