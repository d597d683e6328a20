import Foundation
import KubeAPI
import Logging
import RevisionLog
import SQLiteBackend
import Synchronization

@testable import KubeControllers
@testable import KubeServer

/// The API server on a real SQLite file and the controllers on it, in-process, with a clock the test can move.
final class TestCluster: Sendable {
    let directory: String
    let store: Store
    let client: KubeClient
    let context: ControllerContext
    let manager: ControllerManager
    private let clock = TestClock()
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(
        controllers: (ControllerContext) -> [any Controller] = ControllerSet.make,
        settings: ControllerSettings = ControllerSettings()
    ) throws {
        directory = NSTemporaryDirectory() + "kelson-controllers-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let backend = try SQLiteBackend(configuration: SQLiteConfiguration(path: directory + "/db.sqlite"))
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        store = try Store(backend: backend, logger: logger)
        let hub = WatchHub(store: store)
        let clock = self.clock
        let now: @Sendable () -> Date = { clock.now() }
        let handler = APIHandler.inProcess(storage: LocalObjectStorage(store: store, hub: hub), now: now)
        client = KubeClient(handler: handler)
        context = ControllerContext(client: client, settings: settings, logger: logger, now: now)
        manager = ControllerManager(context: context, controllers: controllers(context))
    }

    /// Creates the namespaces `kelson server` makes at start, then starts the controllers.
    func start() async throws {
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            _ = try? await client.create(
                "/api/v1/namespaces", ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]])
        }
        let manager = self.manager
        task.withLock { $0 = Task { try? await manager.run() } }
        for informer in context.informers.all { await informer.waitForSync() }
    }

    /// Moves the controllers' and the API server's clock forward.
    func advance(by seconds: TimeInterval) {
        clock.offset.withLock { $0 += seconds }
        manager.resyncAll()
    }

    /// Stops the controllers; the API and the store stay.
    func stopControllers() async {
        let running = task.withLock { $0 }
        running?.cancel()
        await running?.value
    }

    func stop() async {
        await stopControllers()
        store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Polls `condition` until it holds or `timeout` passes; returns whether it held.
    func eventually(
        timeout: Duration = .seconds(20), _ condition: @Sendable () async throws -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return (try? await condition()) == true
    }

    func get(_ path: String) async -> JSONValue? { try? await client.get(path) }

    func names(_ path: String, query: String = "") async throws -> [String] {
        let list = try await client.list(path, query: query)
        return (list["items"]?.arrayValue ?? []).compactMap { $0[path: "metadata", "name"]?.stringValue }.sorted()
    }
}

/// The wall clock moved forward by what the test asks.
final class TestClock: Sendable {
    let offset = Mutex<TimeInterval>(0)
    func now() -> Date { Date().addingTimeInterval(offset.withLock { $0 }) }
}

extension TestCluster {
    /// What a node agent would report: the pod running and Ready (with an IP), through `pods/{name}/status`.
    func markReady(_ namespace: String, _ name: String, ip: String = "10.42.0.10") async throws {
        let now = APITime.format(context.now())
        let patch: JSONValue = [
            "status": [
                "phase": "Running", "podIP": .string(ip),
                "conditions": [
                    ["type": "Ready", "status": "True", "lastTransitionTime": .string(now)],
                    ["type": "ContainersReady", "status": "True", "lastTransitionTime": .string(now)],
                ],
            ]
        ]
        _ = try await client.patch("/api/v1/namespaces/\(namespace)/pods/\(name)/status", .merge, patch)
    }

    /// The pods of a namespace (optionally with a label selector).
    func pods(_ namespace: String = "default", selector: String = "") async throws -> [JSONValue] {
        let query =
            selector.isEmpty
            ? "" : "labelSelector=" + (selector.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        return try await client.list("/api/v1/namespaces/\(namespace)/pods", query: query)["items"]?.arrayValue ?? []
    }
}

extension TestCluster {
    /// Acts as the nodes' kubelets would for the pods of `namespace` until cancelled: each pod (each bound one, with
    /// `boundOnly`) starts and becomes ready with an IP; a pod being deleted finishes stopping.
    func runNodeStandIn(_ namespace: String = "default", boundOnly: Bool = false) -> Task<Void, Never> {
        Task {
            var counter = 1
            while !Task.isCancelled {
                for pod in (try? await pods(namespace)) ?? [] {
                    if pod.isDeleting {
                        _ = try? await client.delete(
                            "/api/v1/namespaces/\(namespace)/pods/\(pod.name)", options: ["gracePeriodSeconds": 0])
                    } else if !PodState.isReady(pod),
                        !boundOnly || !(pod[path: "spec", "nodeName"]?.stringValue ?? "").isEmpty
                    {
                        counter += 1
                        try? await markReady(namespace, pod.name, ip: "10.42.\(counter / 250).\(counter % 250 + 2)")
                    }
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }
}

extension Controller {
    /// Reconciles `key` once beside the running manager, as its queue would: a 409 means this pass wrote from a
    /// cache older than the manager's own write, which the manager retries without a word; what counts is the
    /// objects the test then reads.
    func reconcileBesideTheManager(_ key: String) async throws {
        do {
            try await reconcile(key)
        } catch {
            guard (error as? KubeError)?.code == 409 else { throw error }
        }
    }
}
