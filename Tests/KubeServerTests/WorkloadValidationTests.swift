import KubeAPI
import Testing

@testable import KubeServer

@Suite struct WorkloadValidationTests {
    static func deployment(selector: JSONValue, labels: JSONValue) -> JSONValue {
        [
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
            "spec": [
                "selector": selector,
                "template": [
                    "metadata": ["labels": labels], "spec": ["containers": [["name": "c", "image": "nginx"]]],
                ],
            ],
        ]
    }

    @Test func aTemplateItsSelectorDoesNotMatchIsRefused() async throws {
        let (client, store) = try RegistryTests.makeClient()
        defer { store.close() }
        let path = "/apis/apps/v1/namespaces/default/deployments"
        do {
            _ = try await client.create(
                path, Self.deployment(selector: ["matchLabels": ["app": "web"]], labels: ["app": "api"]))
            Issue.record("created")
        } catch {
            #expect(error.code == 422)
            #expect(error.message.contains("spec.template.metadata.labels: Invalid value: "), "\(error.message)")
            #expect(error.message.contains("`selector` does not match template `labels`"), "\(error.message)")
        }
        do {
            _ = try await client.create(path, Self.deployment(selector: [:], labels: ["app": "web"]))
            Issue.record("created")
        } catch {
            #expect(error.message.contains("empty selector is invalid for deployment"), "\(error.message)")
        }
        let created = try await client.create(
            path, Self.deployment(selector: ["matchLabels": ["app": "web"]], labels: ["app": "web", "tier": "x"]))
        #expect(created[path: "metadata", "name"] == "web")
    }
}
