import KubeAPI
import Testing

@testable import KubeControllers

/// Endpoints and EndpointSlices follow the pods a Service selects, on the real API server and SQLite.
@Suite struct EndpointsControllerTests {
    static let pods = "/api/v1/namespaces/default/pods"
    static let services = "/api/v1/namespaces/default/services"
    static let slices = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"

    static func makeCluster() throws -> TestCluster {
        try TestCluster(controllers: { [EndpointsController(context: $0), EndpointSliceController(context: $0)] })
    }

    static func pod(_ name: String, app: String = "web", port: Int64 = 8080) -> JSONValue {
        [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": .string(name), "labels": ["app": .string(app)]],
            "spec": [
                "nodeName": "node-1",
                "containers": [
                    ["name": "web", "image": "nginx:1", "ports": [["name": "http", "containerPort": .int(port)]]]
                ],
            ],
        ]
    }

    /// What a node agent reports: an address, and whether the pod is Ready.
    static func report(_ cluster: TestCluster, _ name: String, ip: String, ready: Bool) async throws {
        _ = try await cluster.client.patch(
            "\(pods)/\(name)/status", .merge,
            [
                "status": [
                    "phase": "Running", "podIP": .string(ip),
                    "conditions": [["type": "Ready", "status": .string(ready ? "True" : "False")]],
                ]
            ])
    }

    static func service(_ name: String, selector: JSONValue?, targetPort: JSONValue = "http") -> JSONValue {
        var spec: JSONObject = ["ports": [["name": "web", "port": 80, "targetPort": targetPort]]]
        if let selector { spec["selector"] = selector }
        return ["apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)], "spec": .object(spec)]
    }

    static func endpoints(_ cluster: TestCluster, _ name: String) async -> JSONValue? {
        await cluster.get("/api/v1/namespaces/default/endpoints/\(name)")
    }

    static func ips(_ subsets: JSONValue?, _ field: String) -> [String] {
        (subsets?.arrayValue ?? []).flatMap { ($0[field]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue } }
            .sorted()
    }

    static func slices(_ cluster: TestCluster, service: String) async throws -> [JSONValue] {
        let list = try await cluster.client.list(
            slices, query: "labelSelector=kubernetes.io%2Fservice-name%3D\(service)")
        return list["items"]?.arrayValue ?? []
    }

    @Test func endpointsFollowReadinessAndDeletion() async throws {
        let cluster = try Self.makeCluster()
        try await cluster.start()
        let client = cluster.client
        for name in ["a", "b"] { _ = try await client.create(Self.pods, Self.pod(name)) }
        _ = try await client.create(Self.pods, Self.pod("other", app: "db"))
        try await Self.report(cluster, "a", ip: "10.42.0.5", ready: true)
        try await Self.report(cluster, "b", ip: "10.42.0.6", ready: false)
        try await Self.report(cluster, "other", ip: "10.42.0.7", ready: true)
        _ = try await client.create(Self.services, Self.service("web", selector: ["app": "web"]))
        #expect(
            await cluster.eventually {
                let subsets = await Self.endpoints(cluster, "web")?["subsets"]
                return Self.ips(subsets, "addresses") == ["10.42.0.5"]
                    && Self.ips(subsets, "notReadyAddresses") == ["10.42.0.6"]
            })
        let subset = try #require(await Self.endpoints(cluster, "web")?["subsets"]?.arrayValue?.first)
        // The named target port is the container's `http`.
        #expect(subset["ports"] == [["name": "web", "port": 8080, "protocol": "TCP"]])
        let address = try #require(subset["addresses"]?.arrayValue?.first)
        #expect(address["nodeName"] == "node-1")
        #expect(address[path: "targetRef", "kind"] == "Pod")
        #expect(address[path: "targetRef", "name"] == "a")
        #expect(address[path: "targetRef", "uid"]?.stringValue?.isEmpty == false)

        // The slice says the same with conditions.
        #expect(
            await cluster.eventually {
                let endpoints = try await Self.slices(cluster, service: "web").first?["endpoints"]?.arrayValue ?? []
                return endpoints.count == 2
            })
        let slice = try #require(try await Self.slices(cluster, service: "web").first)
        #expect(slice[path: "metadata", "name"]?.stringValue?.hasPrefix("web-") == true)
        #expect(slice["addressType"] == "IPv4")
        #expect(
            slice[path: "metadata", "labels", "endpointslice.kubernetes.io/managed-by"]
                == "endpointslice-controller.k8s.io")
        #expect(slice[path: "metadata", "ownerReferences"]?.arrayValue?.first?["kind"] == "Service")
        #expect(slice[path: "metadata", "ownerReferences"]?.arrayValue?.first?["controller"] == true)
        #expect(slice["ports"] == [["name": "web", "port": 8080, "protocol": "TCP"]])
        let byName = Dictionary(
            uniqueKeysWithValues: (slice["endpoints"]?.arrayValue ?? []).map {
                ($0[path: "targetRef", "name"]?.stringValue ?? "", $0)
            })
        #expect(byName["a"]?["conditions"] == ["ready": true, "serving": true, "terminating": false])
        #expect(byName["b"]?["conditions"] == ["ready": false, "serving": false, "terminating": false])
        #expect(byName["a"]?["addresses"] == ["10.42.0.5"])
        #expect(byName["a"]?["nodeName"] == "node-1")

        // b becomes ready, a goes.
        try await Self.report(cluster, "b", ip: "10.42.0.6", ready: true)
        _ = try await client.delete("\(Self.pods)/a", options: ["gracePeriodSeconds": 0])
        #expect(
            await cluster.eventually {
                let subsets = await Self.endpoints(cluster, "web")?["subsets"]
                return Self.ips(subsets, "addresses") == ["10.42.0.6"] && Self.ips(subsets, "notReadyAddresses").isEmpty
            })
        #expect(
            await cluster.eventually {
                let endpoints = try await Self.slices(cluster, service: "web").first?["endpoints"]?.arrayValue ?? []
                return endpoints.count == 1 && endpoints[0][path: "conditions", "ready"] == true
            })
        #expect(try await Self.slices(cluster, service: "web").count == 1)

        // Deleting the Service takes its Endpoints and slices along.
        _ = try await client.delete("\(Self.services)/web")
        #expect(await cluster.eventually { await Self.endpoints(cluster, "web") == nil })
        #expect(await cluster.eventually { try await Self.slices(cluster, service: "web").isEmpty })
        await cluster.stop()
    }

    @Test func aServiceWithoutSelectorIsLeftAlone() async throws {
        let cluster = try Self.makeCluster()
        try await cluster.start()
        let client = cluster.client
        _ = try await client.create(Self.services, Self.service("external", selector: nil, targetPort: 5432))
        let manual: JSONValue = [
            "apiVersion": "v1", "kind": "Endpoints", "metadata": ["name": "external"],
            "subsets": [["addresses": [["ip": "192.168.1.10"]], "ports": [["port": 5432, "protocol": "TCP"]]]],
        ]
        _ = try await client.create("/api/v1/namespaces/default/endpoints", manual)
        // A Service with a selector, made after, gets its objects: by then the first one was seen too.
        _ = try await client.create(Self.services, Self.service("web", selector: ["app": "web"]))
        #expect(await cluster.eventually { await Self.endpoints(cluster, "web") != nil })
        #expect(await cluster.eventually { try await !Self.slices(cluster, service: "web").isEmpty })
        let kept = await Self.endpoints(cluster, "external")
        #expect(Self.ips(kept?["subsets"], "addresses") == ["192.168.1.10"])
        #expect(try await Self.slices(cluster, service: "external").isEmpty)
        // A Service whose pods have no IP yet has an empty placeholder slice.
        let placeholder = try #require(try await Self.slices(cluster, service: "web").first)
        #expect(placeholder["endpoints"]?.arrayValue?.isEmpty ?? true)
        await cluster.stop()
    }

    @Test func numericTargetPortsAndPodsWithoutTheNamedPort() async throws {
        let cluster = try Self.makeCluster()
        try await cluster.start()
        let client = cluster.client
        var plain = Self.pod("plain")
        plain[path: "spec", "containers"] = [["name": "web", "image": "nginx:1"]]
        _ = try await client.create(Self.pods, plain)
        _ = try await client.create(Self.pods, Self.pod("named", port: 9090))
        try await Self.report(cluster, "plain", ip: "10.42.0.20", ready: true)
        try await Self.report(cluster, "named", ip: "10.42.0.21", ready: true)
        _ = try await client.create(Self.services, Self.service("byname", selector: ["app": "web"]))
        _ = try await client.create(Self.services, Self.service("bynumber", selector: ["app": "web"], targetPort: 7000))
        // Only the pod that names `http` serves the named port; both serve the numbered one.
        #expect(
            await cluster.eventually {
                Self.ips(await Self.endpoints(cluster, "byname")?["subsets"], "addresses") == ["10.42.0.21"]
            })
        let named = await Self.endpoints(cluster, "byname")?["subsets"]?.arrayValue?.first
        #expect(named?["ports"] == [["name": "web", "port": 9090, "protocol": "TCP"]])
        #expect(
            await cluster.eventually {
                Self.ips(await Self.endpoints(cluster, "bynumber")?["subsets"], "addresses") == [
                    "10.42.0.20", "10.42.0.21",
                ]
            })
        await cluster.stop()
    }
}
