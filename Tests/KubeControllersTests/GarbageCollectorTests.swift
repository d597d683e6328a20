import KubeAPI
import Testing

@testable import KubeControllers

@Suite struct GarbageCollectorTests {
    static let deployments = "/apis/apps/v1/namespaces/default/deployments"
    static let replicaSets = "/apis/apps/v1/namespaces/default/replicasets"

    static func controllers(_ context: ControllerContext) -> [any Controller] {
        [
            DeploymentController(context: context), ReplicaSetController(context: context),
            GarbageCollector(context: context),
        ]
    }

    static func startDeployment(_ name: String) async throws -> TestCluster {
        let cluster = try TestCluster(controllers: Self.controllers)
        try await cluster.start()
        _ = try await cluster.client.create(
            Self.deployments, DeploymentControllerTests.deployment(name, replicas: 2))
        #expect(await cluster.eventually { try await cluster.pods(selector: "app=\(name)").count == 2 })
        return cluster
    }

    static func deleteOptions(_ policy: String) -> JSONValue {
        ["apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": .string(policy)]
    }

    @Test func backgroundDeletesReplicaSetsAndPodsAfterTheOwner() async throws {
        let cluster = try await Self.startDeployment("bg")
        _ = try await cluster.client.delete(Self.deployments + "/bg", options: Self.deleteOptions("Background"))
        #expect(await cluster.get(Self.deployments + "/bg") == nil)
        #expect(
            await cluster.eventually {
                let sets = try await cluster.names(Self.replicaSets)
                let pods = try await cluster.pods(selector: "app=bg")
                return sets.isEmpty && pods.isEmpty
            })
        await cluster.stop()
    }

    @Test func foregroundKeepsTheOwnerUntilItsDependentsAreGone() async throws {
        let cluster = try await Self.startDeployment("fg")
        let deleting = try await cluster.client.delete(
            Self.deployments + "/fg", options: Self.deleteOptions("Foreground"))
        #expect(deleting.finalizers == ["foregroundDeletion"])
        #expect(
            await cluster.eventually {
                let owner = await cluster.get(Self.deployments + "/fg")
                let sets = try await cluster.names(Self.replicaSets)
                let pods = try await cluster.pods(selector: "app=fg")
                return owner == nil && sets.isEmpty && pods.isEmpty
            })
        await cluster.stop()
    }

    @Test func orphanLeavesTheDependentsWithoutTheirOwner() async throws {
        let cluster = try await Self.startDeployment("or")
        _ = try await cluster.client.delete(Self.deployments + "/or", options: Self.deleteOptions("Orphan"))
        #expect(await cluster.eventually { await cluster.get(Self.deployments + "/or") == nil })
        let sets = try await cluster.client.list(Self.replicaSets)["items"]?.arrayValue ?? []
        #expect(sets.count == 1)
        #expect(sets.first?.ownerReferences.isEmpty == true)
        // The ReplicaSet still owns its pods, which stay.
        try await Task.sleep(for: .milliseconds(300))
        let pods = try await cluster.pods(selector: "app=or")
        #expect(pods.count == 2)
        #expect(pods.allSatisfy { $0.controllerReference?["kind"] == "ReplicaSet" })
        await cluster.stop()
    }

    @Test func aDependentWithAnotherLiveOwnerOnlyLosesTheDanglingReference() async throws {
        let cluster = try TestCluster(controllers: { [GarbageCollector(context: $0)] })
        try await cluster.start()
        let configMaps = "/api/v1/namespaces/default/configmaps"
        let first = try await cluster.client.create(
            configMaps, ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "owner-a"]])
        let second = try await cluster.client.create(
            configMaps, ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "owner-b"]])
        _ = try await cluster.client.create(
            configMaps,
            [
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": [
                    "name": "shared",
                    "ownerReferences": [
                        first.ownerReference(controller: false), second.ownerReference(controller: false),
                    ],
                ],
            ])
        _ = try await cluster.client.delete(configMaps + "/owner-a")
        #expect(
            await cluster.eventually {
                let shared = try await cluster.client.get(configMaps + "/shared")
                return shared.ownerReferences.map { $0["name"] } == ["owner-b"]
            })
        _ = try await cluster.client.delete(configMaps + "/owner-b")
        #expect(await cluster.eventually { await cluster.get(configMaps + "/shared") == nil })
        await cluster.stop()
    }
}
