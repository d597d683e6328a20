import KubeAPI
import Testing

@testable import KubeControllers

@Suite struct ReplicaSetControllerTests {
    static func replicaSet(_ name: String, replicas: Int64, app: String = "web") -> JSONValue {
        [
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": ["name": .string(name)],
            "spec": [
                "replicas": .int(replicas), "selector": ["matchLabels": ["app": .string(app)]],
                "template": [
                    "metadata": ["labels": ["app": .string(app)]],
                    "spec": ["containers": [["name": "web", "image": "nginx"]]],
                ],
            ],
        ]
    }

    static let path = "/apis/apps/v1/namespaces/default/replicasets"

    @Test func createsAndDeletesPodsToMatchReplicasAndReportsStatus() async throws {
        let cluster = try TestCluster(controllers: { [ReplicaSetController(context: $0)] })
        try await cluster.start()
        _ = try await cluster.client.create(Self.path, Self.replicaSet("web", replicas: 3))
        #expect(await cluster.eventually { try await cluster.pods(selector: "app=web").count == 3 })
        let pods = try await cluster.pods(selector: "app=web")
        for pod in pods {
            #expect(pod.name.hasPrefix("web-"))
            #expect(pod.controllerReference?["name"] == "web")
            #expect(pod.controllerReference?["kind"] == "ReplicaSet")
        }
        for pod in pods { try await cluster.markReady("default", pod.name) }
        #expect(
            await cluster.eventually {
                let set = try await cluster.client.get(Self.path + "/web")
                return set[path: "status", "readyReplicas"] == 3 && set[path: "status", "availableReplicas"] == 3
                    && set[path: "status", "observedGeneration"] == 1
            })
        _ = try await cluster.client.patch(Self.path + "/web", .merge, ["spec": ["replicas": 1]])
        #expect(await cluster.eventually { try await cluster.pods(selector: "app=web").count == 1 })
        // Stays at one: no flapping once the cache has caught up.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await cluster.pods(selector: "app=web").count == 1)
        // An event per pod made.
        let events = try await cluster.client.list("/api/v1/namespaces/default/events")["items"]?.arrayValue ?? []
        #expect(events.filter { $0["reason"] == "SuccessfulCreate" }.count == 3)
        await cluster.stop()
    }

    @Test func adoptsMatchingOrphansAndReleasesPodsThatStopMatching() async throws {
        let cluster = try TestCluster(controllers: { [ReplicaSetController(context: $0)] })
        try await cluster.start()
        _ = try await cluster.client.create(
            "/api/v1/namespaces/default/pods",
            [
                "apiVersion": "v1", "kind": "Pod", "metadata": ["name": "orphan", "labels": ["app": "db"]],
                "spec": ["containers": [["name": "db", "image": "postgres"]]],
            ])
        _ = try await cluster.client.create(Self.path, Self.replicaSet("db", replicas: 2, app: "db"))
        #expect(await cluster.eventually { try await cluster.pods(selector: "app=db").count == 2 })
        let orphan = try await cluster.client.get("/api/v1/namespaces/default/pods/orphan")
        #expect(orphan.controllerReference?["name"] == "db")
        // Relabelled: released, and replaced.
        _ = try await cluster.client.patch(
            "/api/v1/namespaces/default/pods/orphan", .merge, ["metadata": ["labels": ["app": "debug"]]])
        #expect(
            await cluster.eventually {
                let released = try await cluster.client.get("/api/v1/namespaces/default/pods/orphan")
                let count = try await cluster.pods(selector: "app=db").count
                return released.controllerReference == nil && count == 2
            })
        await cluster.stop()
    }
}
