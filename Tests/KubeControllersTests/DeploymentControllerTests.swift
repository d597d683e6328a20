import KubeAPI
import Synchronization
import Testing

@testable import KubeControllers

@Suite struct DeploymentControllerTests {
    static let path = "/apis/apps/v1/namespaces/default/deployments"

    static func deployment(_ name: String, replicas: Int64, image: String = "nginx:1", strategy: JSONValue? = nil)
        -> JSONValue
    {
        var object: JSONValue = [
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": .string(name)],
            "spec": [
                "replicas": .int(replicas), "selector": ["matchLabels": ["app": .string(name)]],
                "template": [
                    "metadata": ["labels": ["app": .string(name)]],
                    "spec": ["containers": [["name": "main", "image": .string(image)]]],
                ],
            ],
        ]
        if let strategy { object[path: "spec", "strategy"] = strategy }
        return object
    }

    static func controllers(_ context: ControllerContext) -> [any Controller] {
        [DeploymentController(context: context), ReplicaSetController(context: context)]
    }

    static func replicaSets(_ cluster: TestCluster) async throws -> [JSONValue] {
        try await cluster.client.list("/apis/apps/v1/namespaces/default/replicasets")["items"]?.arrayValue ?? []
    }

    /// The deployment has rolled out as `kubectl rollout status` judges it.
    static func rolledOut(_ cluster: TestCluster, _ name: String) async throws -> Bool {
        let deployment = try await cluster.client.get(Self.path + "/" + name)
        let wanted = deployment[path: "spec", "replicas"]?.intValue ?? 1
        let status = deployment["status"] ?? [:]
        return status["observedGeneration"] == deployment[path: "metadata", "generation"]
            && (status["updatedReplicas"]?.intValue ?? 0) == wanted && (status["replicas"]?.intValue ?? 0) == wanted
            && (status["availableReplicas"]?.intValue ?? 0) == wanted
    }

    @Test func rollsOutANewTemplateAndBackWithRevisions() async throws {
        let cluster = try TestCluster(controllers: Self.controllers)
        try await cluster.start()
        let node = cluster.runNodeStandIn()
        _ = try await cluster.client.create(Self.path, Self.deployment("web", replicas: 4))
        #expect(await cluster.eventually { try await Self.rolledOut(cluster, "web") })
        let first = try await cluster.client.get(Self.path + "/web")
        #expect(first.annotation(DeploymentRevisions.revisionAnnotation) == "1")
        #expect(first.condition("Progressing")?["reason"] == "NewReplicaSetAvailable")
        #expect(first.condition("Available")?["status"] == "True")
        let firstSets = try await Self.replicaSets(cluster)
        #expect(firstSets.count == 1)
        let firstHash = try #require(firstSets.first?.labels["pod-template-hash"])
        #expect(firstSets.first?.name == "web-\(firstHash)")

        // `kubectl set image`: a second ReplicaSet takes over; the first is kept at zero.
        _ = try await cluster.client.patch(
            Self.path + "/web", .strategic,
            ["spec": ["template": ["spec": ["containers": [["name": "main", "image": "nginx:2"]]]]]])
        #expect(
            await cluster.eventually {
                let pods = try await cluster.pods(selector: "app=web")
                let rolled = try await Self.rolledOut(cluster, "web")
                return rolled && pods.count == 4
                    && pods.allSatisfy { $0[path: "spec", "containers"]?.arrayValue?.first?["image"] == "nginx:2" }
            })
        let sets = try await Self.replicaSets(cluster)
        #expect(sets.count == 2)
        let old = try #require(sets.first { $0.labels["pod-template-hash"] == .some(firstHash) })
        #expect(old[path: "spec", "replicas"] == 0)
        #expect(
            try await cluster.client.get(Self.path + "/web").annotation(DeploymentRevisions.revisionAnnotation) == "2")

        // Back to the first template (what `kubectl rollout undo` writes): the first ReplicaSet is new again, as
        // revision 3.
        _ = try await cluster.client.patch(
            Self.path + "/web", .strategic,
            ["spec": ["template": ["spec": ["containers": [["name": "main", "image": "nginx:1"]]]]]])
        #expect(
            await cluster.eventually {
                let set = try await cluster.client.get("/apis/apps/v1/namespaces/default/replicasets/web-\(firstHash)")
                let rolled = try await Self.rolledOut(cluster, "web")
                return rolled && set[path: "spec", "replicas"] == 4
                    && set.annotation(DeploymentRevisions.revisionAnnotation) == "3"
            })
        #expect(try await Self.replicaSets(cluster).count == 2)
        let events = try await cluster.client.list("/api/v1/namespaces/default/events")["items"]?.arrayValue ?? []
        let scaledUp = "Scaled up replica set web-\(firstHash) from 0 to 4"
        #expect(events.contains { $0["reason"] == "ScalingReplicaSet" && $0["message"]?.stringValue == scaledUp })
        node.cancel()
        await cluster.stop()
    }

    @Test func rollingUpdateStaysWithinSurgeAndUnavailability() async throws {
        let cluster = try TestCluster(controllers: Self.controllers)
        try await cluster.start()
        let node = cluster.runNodeStandIn()
        let strategy: JSONValue = ["type": "RollingUpdate", "rollingUpdate": ["maxSurge": 1, "maxUnavailable": 0]]
        _ = try await cluster.client.create(Self.path, Self.deployment("api", replicas: 3, strategy: strategy))
        #expect(await cluster.eventually { try await Self.rolledOut(cluster, "api") })
        let most = Mutex(0)
        let watcher = Task {
            while !Task.isCancelled {
                let count = ((try? await cluster.pods(selector: "app=api")) ?? []).filter { !$0.isDeleting }.count
                most.withLock { $0 = max($0, count) }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        _ = try await cluster.client.patch(
            Self.path + "/api", .strategic,
            ["spec": ["template": ["spec": ["containers": [["name": "main", "image": "nginx:2"]]]]]])
        #expect(
            await cluster.eventually {
                let sets = try await Self.replicaSets(cluster)
                let rolled = try await Self.rolledOut(cluster, "api")
                return sets.count == 2 && rolled
            })
        watcher.cancel()
        // replicas + maxSurge at most, ever.
        #expect(most.withLock { $0 } <= 4)
        node.cancel()
        await cluster.stop()
    }

    @Test func recreateStopsEveryOldPodBeforeStartingNewOnes() async throws {
        let cluster = try TestCluster(controllers: Self.controllers)
        try await cluster.start()
        let node = cluster.runNodeStandIn()
        _ = try await cluster.client.create(
            Self.path, Self.deployment("db", replicas: 2, strategy: ["type": "Recreate"]))
        #expect(await cluster.eventually { try await Self.rolledOut(cluster, "db") })
        let mixed = Mutex(false)
        let watcher = Task {
            while !Task.isCancelled {
                let images = Set(
                    ((try? await cluster.pods(selector: "app=db")) ?? []).compactMap {
                        $0[path: "spec", "containers"]?.arrayValue?.first?["image"]?.stringValue
                    })
                if images.count > 1 { mixed.withLock { $0 = true } }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        _ = try await cluster.client.patch(
            Self.path + "/db", .strategic,
            ["spec": ["template": ["spec": ["containers": [["name": "main", "image": "nginx:2"]]]]]])
        #expect(
            await cluster.eventually {
                let pods = try await cluster.pods(selector: "app=db")
                let rolled = try await Self.rolledOut(cluster, "db")
                return rolled && pods.count == 2
                    && pods.allSatisfy { $0[path: "spec", "containers"]?.arrayValue?.first?["image"] == "nginx:2" }
            })
        watcher.cancel()
        #expect(!mixed.withLock { $0 })
        node.cancel()
        await cluster.stop()
    }

    @Test func aRolloutWithoutProgressExceedsItsDeadline() async throws {
        let cluster = try TestCluster(controllers: Self.controllers)
        try await cluster.start()
        var deployment = Self.deployment("stuck", replicas: 2)
        deployment[path: "spec", "progressDeadlineSeconds"] = 30
        _ = try await cluster.client.create(Self.path, deployment)
        #expect(await cluster.eventually { try await cluster.pods(selector: "app=stuck").count == 2 })
        // No node makes the pods ready; after the deadline, Progressing turns False.
        try await Task.sleep(for: .milliseconds(300))
        cluster.advance(by: 31)
        #expect(
            await cluster.eventually {
                let current = try await cluster.client.get(Self.path + "/stuck")
                return current.condition("Progressing")?["reason"] == "ProgressDeadlineExceeded"
                    && current.condition("Progressing")?["status"] == "False"
            })
        await cluster.stop()
    }

    @Test func revisionHistoryLimitKeepsThatManyOldReplicaSets() async throws {
        let cluster = try TestCluster(controllers: Self.controllers)
        try await cluster.start()
        let node = cluster.runNodeStandIn()
        var deployment = Self.deployment("hist", replicas: 1)
        deployment[path: "spec", "revisionHistoryLimit"] = 1
        _ = try await cluster.client.create(Self.path, deployment)
        for version in 2...4 {
            _ = try await cluster.client.patch(
                Self.path + "/hist", .strategic,
                [
                    "spec": [
                        "template": ["spec": ["containers": [["name": "main", "image": .string("nginx:\(version)")]]]]
                    ]
                ])
            #expect(
                await cluster.eventually {
                    let current = try await cluster.client.get(Self.path + "/hist")
                    let rolled = try await Self.rolledOut(cluster, "hist")
                    return current.annotation(DeploymentRevisions.revisionAnnotation) == String(version) && rolled
                })
        }
        // The new one and one old one.
        #expect(await cluster.eventually { try await Self.replicaSets(cluster).count == 2 })
        node.cancel()
        await cluster.stop()
    }
}
