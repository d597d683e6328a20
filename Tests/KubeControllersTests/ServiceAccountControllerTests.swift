import KubeAPI
import KubeServer
import Testing

@testable import KubeControllers

@Suite struct ServiceAccountControllerTests {
    @Test func everyNamespaceGetsTheDefaultAccountTheCAAndDefaultTheKubernetesService() async throws {
        var settings = ControllerSettings()
        settings.apiServerAddress = ("127.0.0.1", 6443)
        settings.certificateAuthorityPEM = "-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n"
        let authorityPEM = settings.certificateAuthorityPEM
        let cluster = try TestCluster(controllers: { [ServiceAccountController(context: $0)] }, settings: settings)
        try await cluster.start()
        _ = try await cluster.client.create(
            "/api/v1/namespaces", ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "team"]])
        #expect(
            await cluster.eventually {
                let account = await cluster.get("/api/v1/namespaces/team/serviceaccounts/default")
                let authority = await cluster.get("/api/v1/namespaces/team/configmaps/kube-root-ca.crt")
                return account != nil && authority?[path: "data", "ca.crt"]?.stringValue == authorityPEM
            })
        // Deleted, it comes back.
        _ = try await cluster.client.delete("/api/v1/namespaces/team/serviceaccounts/default")
        #expect(
            await cluster.eventually { await cluster.get("/api/v1/namespaces/team/serviceaccounts/default") != nil })
        let service = try await cluster.client.get("/api/v1/namespaces/default/services/kubernetes")
        #expect(service[path: "spec", "clusterIP"] == "10.43.0.1")
        #expect(service[path: "spec", "ports"]?.arrayValue?.first?["port"] == 443)
        let endpoints = try await cluster.client.get("/api/v1/namespaces/default/endpoints/kubernetes")
        #expect(endpoints["subsets"]?.arrayValue?.first?["addresses"]?.arrayValue?.first?["ip"] == "127.0.0.1")
        await cluster.stop()
    }

    @Test func newPodsGetTheDefaultAccountAndItsProjectedVolume() async throws {
        let cluster = try TestCluster(controllers: { _ in [] })
        try await cluster.start()
        let pod = try await cluster.client.create(
            "/api/v1/namespaces/default/pods",
            [
                "apiVersion": "v1", "kind": "Pod", "metadata": ["name": "p"],
                "spec": ["containers": [["name": "c", "image": "busybox"]]],
            ])
        #expect(pod[path: "spec", "serviceAccountName"] == "default")
        let volume = try #require(pod[path: "spec", "volumes"]?.arrayValue?.first)
        #expect(volume["name"]?.stringValue?.hasPrefix("kube-api-access-") == true)
        #expect(volume[path: "projected", "sources"]?.arrayValue?.count == 3)
        let mount = pod[path: "spec", "containers"]?.arrayValue?.first?["volumeMounts"]?.arrayValue?.first
        #expect(mount?["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount")
        #expect(mount?["readOnly"] == true)
        let optedOut = try await cluster.client.create(
            "/api/v1/namespaces/default/pods",
            [
                "apiVersion": "v1", "kind": "Pod", "metadata": ["name": "q"],
                "spec": ["automountServiceAccountToken": false, "containers": [["name": "c", "image": "busybox"]]],
            ])
        #expect(optedOut[path: "spec", "volumes"] == nil)
        await cluster.stop()
    }
}

@Suite struct EventTTLControllerTests {
    @Test func eventsGoAnHourAfterTheyLastHappened() async throws {
        let cluster = try TestCluster(controllers: { [EventTTLController(context: $0)] })
        try await cluster.start()
        let now = cluster.context.now()
        for (name, age) in [("old", 3700.0), ("recent", 60.0)] {
            let time = JSONValue.string(APITime.format(now.addingTimeInterval(-age)))
            _ = try await cluster.client.create(
                "/api/v1/namespaces/default/events",
                [
                    "apiVersion": "v1", "kind": "Event", "metadata": ["name": .string(name)],
                    "involvedObject": ["kind": "Pod", "name": "p", "namespace": "default"], "reason": "Test",
                    "message": "m", "firstTimestamp": time, "lastTimestamp": time, "count": 1, "type": "Normal",
                ])
        }
        #expect(await cluster.eventually { await cluster.get("/api/v1/namespaces/default/events/old") == nil })
        #expect(await cluster.get("/api/v1/namespaces/default/events/recent") != nil)
        cluster.advance(by: 3600)
        #expect(await cluster.eventually { await cluster.get("/api/v1/namespaces/default/events/recent") == nil })
        await cluster.stop()
    }
}
