import KubeAPI
import Testing

@testable import KubeControllers

@Suite struct NamespaceControllerTests {
    @Test func aDeletedNamespaceIsEmptiedThenGoes() async throws {
        let cluster = try TestCluster()
        try await cluster.start()
        let client = cluster.client
        _ = try await client.create(
            "/api/v1/namespaces", ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "team"]])
        for index in 0..<3 {
            _ = try await client.create(
                "/api/v1/namespaces/team/configmaps",
                ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string("cm-\(index)")]])
        }
        _ = try await client.create(
            "/apis/apps/v1/namespaces/team/deployments",
            [
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
                "spec": [
                    "selector": ["matchLabels": ["app": "web"]],
                    "template": [
                        "metadata": ["labels": ["app": "web"]],
                        "spec": ["containers": [["name": "web", "image": "nginx"]]],
                    ],
                ],
            ])
        let deleted = try await client.delete("/api/v1/namespaces/team")
        #expect(deleted[path: "status", "phase"] == "Terminating")
        let gone = await cluster.eventually { await cluster.get("/api/v1/namespaces/team") == nil }
        #expect(gone)
        #expect(try await cluster.names("/api/v1/namespaces/team/configmaps").isEmpty)
        #expect(try await cluster.names("/apis/apps/v1/namespaces/team/deployments").isEmpty)
        // Other namespaces keep what they hold.
        #expect(await cluster.get("/api/v1/namespaces/default") != nil)
        await cluster.stop()
    }
}
