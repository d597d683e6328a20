import Foundation
import KubeAPI
import Testing

@testable import KubeControllers
@testable import KubeServer

/// Nodes and pods as a kubelet and a user would write them.
extension TestCluster {
    /// Registers a node, then posts its status (allocatable, capacity, Ready) through `nodes/{name}/status`.
    @discardableResult
    func makeNode(
        _ name: String, cpu: String = "4", memory: String = "8Gi", pods: Int64 = 110, labels: [String: String] = [:],
        taints: [JSONValue] = [], unschedulable: Bool = false, ready: String = "True"
    ) async throws -> JSONValue {
        var labelObject: JSONObject = ["kubernetes.io/hostname": .string(name)]
        for (key, value) in labels { labelObject[key] = .string(value) }
        var spec: JSONObject = [:]
        if !taints.isEmpty { spec["taints"] = .array(taints) }
        if unschedulable { spec["unschedulable"] = true }
        var node = try await client.create(
            "/api/v1/nodes",
            [
                "apiVersion": "v1", "kind": "Node",
                "metadata": ["name": .string(name), "labels": .object(labelObject)],
                "spec": .object(spec),
            ])
        let now = JSONValue.string(APITime.format(context.now()))
        let resources: JSONValue = ["cpu": .string(cpu), "memory": .string(memory), "pods": .string(String(pods))]
        node["status"] = [
            "capacity": resources, "allocatable": resources,
            "conditions": [
                [
                    "type": "Ready", "status": .string(ready), "reason": "KubeletReady",
                    "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now,
                ]
            ],
        ]
        return try await client.update("/api/v1/nodes/\(name)/status", node)
    }

    /// Creates a pod in `default` with one container (its cpu and memory requests, host port) and `spec` merged in.
    @discardableResult
    func makePod(
        _ name: String, cpu: String? = nil, memory: String? = nil, hostPort: Int64? = nil, owner: String? = nil,
        spec: JSONObject = [:], nodeName: String? = nil
    ) async throws -> JSONValue {
        var requests: JSONObject = [:]
        if let cpu { requests["cpu"] = .string(cpu) }
        if let memory { requests["memory"] = .string(memory) }
        var container: JSONObject = ["name": "app", "image": "nginx", "resources": ["requests": .object(requests)]]
        if let hostPort { container["ports"] = [["containerPort": 80, "hostPort": .int(hostPort)]] }
        var podSpec: JSONObject = ["containers": [.object(container)]]
        for (key, value) in spec { podSpec[key] = value }
        if let nodeName { podSpec["nodeName"] = .string(nodeName) }
        var metadata: JSONObject = ["name": .string(name)]
        if let owner {
            metadata["ownerReferences"] = [
                [
                    "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": .string(owner),
                    "controller": true,
                ]
            ]
        }
        return try await client.create(
            "/api/v1/namespaces/default/pods",
            ["apiVersion": "v1", "kind": "Pod", "metadata": .object(metadata), "spec": .object(podSpec)])
    }

    func nodeName(ofPod name: String) async -> String? {
        await get("/api/v1/namespaces/default/pods/\(name)")?[path: "spec", "nodeName"]?.stringValue
    }

    /// The messages of the events of `reason` about pod `name`.
    func eventMessages(pod name: String, reason: String) async throws -> [String] {
        let list = try await client.list("/api/v1/namespaces/default/events")
        return (list["items"]?.arrayValue ?? []).filter {
            $0[path: "involvedObject", "name"]?.stringValue == name && $0["reason"]?.stringValue == reason
        }.compactMap { $0["message"]?.stringValue }
    }
}

@Suite struct SchedulerTests {
    func cluster() async throws -> TestCluster {
        let cluster = try TestCluster(controllers: { [Scheduler(context: $0)] })
        try await cluster.start()
        return cluster
    }

    /// One node that fits and one that does not, for each filter.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var setUp: @Sendable (TestCluster) async throws -> Void
        var pod: @Sendable (TestCluster) async throws -> Void
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "nodeSelector",
            setUp: { cluster in
                try await cluster.makeNode("a", labels: ["disk": "hdd"])
                try await cluster.makeNode("b", labels: ["disk": "ssd"])
            },
            pod: { try await $0.makePod("p", spec: ["nodeSelector": ["disk": "ssd"]]) }),
        Case(
            name: "required node affinity",
            setUp: { cluster in
                try await cluster.makeNode("a", labels: ["zone": "east", "gen": "3"])
                try await cluster.makeNode("b", labels: ["zone": "west", "gen": "5"])
            },
            pod: { cluster in
                let terms: JSONValue = [
                    [
                        "matchExpressions": [
                            ["key": "zone", "operator": "NotIn", "values": ["east"]],
                            ["key": "gen", "operator": "Gt", "values": ["4"]],
                            ["key": "gpu", "operator": "DoesNotExist"],
                        ],
                        "matchFields": [["key": "metadata.name", "operator": "In", "values": ["a", "b"]]],
                    ]
                ]
                try await cluster.makePod(
                    "p",
                    spec: [
                        "affinity": [
                            "nodeAffinity": [
                                "requiredDuringSchedulingIgnoredDuringExecution": ["nodeSelectorTerms": terms]
                            ]
                        ]
                    ])
            }),
        Case(
            name: "taints and tolerations",
            setUp: { cluster in
                try await cluster.makeNode("a", taints: [["key": "dedicated", "value": "gpu", "effect": "NoSchedule"]])
                try await cluster.makeNode("b", taints: [["key": "team", "value": "blue", "effect": "NoExecute"]])
            },
            pod: { cluster in
                try await cluster.makePod(
                    "p", spec: ["tolerations": [["key": "team", "operator": "Equal", "value": "blue"]]])
            }),
        Case(
            name: "resources",
            setUp: { cluster in
                // Without the filter, a would score higher (its memory is nearly free).
                try await cluster.makeNode("a", cpu: "4", memory: "4Gi")
                try await cluster.makeNode("b", cpu: "1", memory: "200Mi")
                try await cluster.makePod("used", cpu: "3800m", nodeName: "a")
            },
            pod: { try await $0.makePod("p", cpu: "0.5", memory: "128Mi") }),
        Case(
            name: "host ports",
            setUp: { cluster in
                try await cluster.makeNode("a")
                try await cluster.makeNode("b")
                try await cluster.makePod("used", hostPort: 8080, nodeName: "a")
                try await cluster.makePod("other", hostPort: 9090, nodeName: "b")
            },
            pod: { try await $0.makePod("p", hostPort: 8080) }),
        Case(
            name: "cordon",
            setUp: { cluster in
                try await cluster.makeNode("a", unschedulable: true)
                try await cluster.makeNode("b")
            },
            pod: { try await $0.makePod("p") }),
        Case(
            name: "readiness",
            setUp: { cluster in
                try await cluster.makeNode("a", ready: "False")
                try await cluster.makeNode("b", cpu: "1")
            },
            pod: { try await $0.makePod("p") }),
    ]

    @Test(arguments: cases) func placesThePodOnTheNodeThatFits(_ scenario: Case) async throws {
        let cluster = try await cluster()
        try await scenario.setUp(cluster)
        try await scenario.pod(cluster)
        let placed = await cluster.eventually { await cluster.nodeName(ofPod: "p") != nil }
        #expect(placed)
        #expect(await cluster.nodeName(ofPod: "p") == "b")
        let scheduled = await cluster.eventually {
            try await cluster.eventMessages(pod: "p", reason: "Scheduled") == ["Successfully assigned default/p to b"]
        }
        #expect(scheduled)
        let pod = await cluster.get("/api/v1/namespaces/default/pods/p")
        #expect(pod?.condition("PodScheduled")?["status"] == "True")
        await cluster.stop()
    }

    @Test func spreadsTheReplicasOfOneOwner() async throws {
        let cluster = try await cluster()
        try await cluster.makeNode("a")
        try await cluster.makeNode("b")
        for index in 0..<4 { try await cluster.makePod("web-\(index)", cpu: "100m", owner: "rs-uid") }
        let placed = await cluster.eventually {
            var all = true
            for index in 0..<4 where await cluster.nodeName(ofPod: "web-\(index)") == nil { all = false }
            return all
        }
        #expect(placed)
        var counts: [String: Int] = [:]
        for index in 0..<4 { counts[await cluster.nodeName(ofPod: "web-\(index)") ?? "", default: 0] += 1 }
        #expect(counts == ["a": 2, "b": 2])
        await cluster.stop()
    }

    @Test func anUnschedulablePodSaysWhyThenRunsWhenANodeAppears() async throws {
        let cluster = try await cluster()
        try await cluster.makeNode("small", cpu: "1")
        try await cluster.makePod("big", cpu: "2")
        let expected =
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption "
            + "victims found for incoming pod."
        let marked = await cluster.eventually {
            let condition = await cluster.get("/api/v1/namespaces/default/pods/big")?.condition("PodScheduled")
            return condition?["status"] == "False" && condition?["reason"] == "Unschedulable"
                && condition?["message"]?.stringValue == expected
        }
        #expect(marked)
        let warned = await cluster.eventually {
            try await cluster.eventMessages(pod: "big", reason: "FailedScheduling").contains(expected)
        }
        #expect(warned)
        let pod = await cluster.get("/api/v1/namespaces/default/pods/big")
        #expect(pod?[path: "status", "phase"] == "Pending")
        #expect(pod?[path: "spec", "nodeName"] == nil)
        try await cluster.makeNode("large", cpu: "4")
        let placed = await cluster.eventually { await cluster.nodeName(ofPod: "big") == "large" }
        #expect(placed)
        await cluster.stop()
    }

    @Test func reasonsAreCountedAndSortedOverNodes() async throws {
        let cluster = try await cluster()
        try await cluster.makeNode("small", cpu: "1")
        try await cluster.makeNode("cordoned", unschedulable: true)
        try await cluster.makePod("big", cpu: "2")
        let expected =
            "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable. preemption: 0/2 nodes are "
            + "available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
        let warned = await cluster.eventually {
            try await cluster.eventMessages(pod: "big", reason: "FailedScheduling").contains(expected)
        }
        #expect(warned)
        await cluster.stop()
    }

    @Test func withoutNodesNothingIsAvailable() async throws {
        let cluster = try await cluster()
        try await cluster.makePod("lonely")
        let warned = await cluster.eventually {
            try await cluster.eventMessages(pod: "lonely", reason: "FailedScheduling") == [
                "no nodes available to schedule pods"
            ]
        }
        #expect(warned)
        await cluster.stop()
    }

    @Test func aBurstNeverOvercommitsANode() async throws {
        let cluster = try await cluster()
        try await cluster.makeNode("only", pods: 10)
        for index in 0..<50 { try await cluster.makePod("burst-\(index)") }
        @Sendable func counts() async throws -> (bound: Int, refused: Int) {
            let list = try await cluster.client.list("/api/v1/namespaces/default/pods")
            let items = list["items"]?.arrayValue ?? []
            let bound = items.filter { $0[path: "spec", "nodeName"]?.stringValue == "only" }.count
            let refused = items.filter { $0.condition("PodScheduled")?["status"] == "False" }.count
            return (bound, refused)
        }
        let settled = await cluster.eventually { try await counts() == (10, 40) }
        #expect(settled)
        #expect(try await counts() == (10, 40))
        // Deleting one bound pod makes room for exactly one more.
        let bound = try await cluster.client.list(
            "/api/v1/namespaces/default/pods", query: "fieldSelector=spec.nodeName%3Donly")
        let victim = bound["items"]?.arrayValue?.first?.name ?? ""
        _ = try await cluster.client.delete(
            "/api/v1/namespaces/default/pods/\(victim)", options: ["gracePeriodSeconds": 0])
        let refilled = await cluster.eventually { try await counts() == (10, 39) }
        #expect(refilled)
        await cluster.stop()
    }

    @Test func newPodsTolerateUnreachableNodesForFiveMinutes() async throws {
        let cluster = try TestCluster(controllers: { _ in [] })
        try await cluster.start()
        let pod = try await cluster.makePod("p", spec: ["tolerations": [["key": "dedicated", "operator": "Exists"]]])
        let tolerations = pod[path: "spec", "tolerations"]?.arrayValue ?? []
        #expect(
            tolerations == [
                ["key": "dedicated", "operator": "Exists"],
                [
                    "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                    "tolerationSeconds": 300,
                ],
                [
                    "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                    "tolerationSeconds": 300,
                ],
            ])
        // A pod that already tolerates them (here: every taint) keeps its own.
        let tolerant = try await cluster.makePod("q", spec: ["tolerations": [["operator": "Exists"]]])
        #expect(tolerant[path: "spec", "tolerations"] == [["operator": "Exists"]])
        await cluster.stop()
    }

    @Test func quantitiesReadAsKubernetesReadsThem() {
        #expect(Quantity.value("500m", scale: 1000) == 500)
        #expect(Quantity.value("1.5", scale: 1000) == 1500)
        #expect(Quantity.value(.int(2), scale: 1000) == 2000)
        #expect(Quantity.value("1Ki") == 1024)
        #expect(Quantity.value("128Mi") == 134_217_728)
        #expect(Quantity.value("1G") == 1_000_000_000)
        #expect(Quantity.value("1e3") == 1000)
        #expect(Quantity.value("2E") == 2_000_000_000_000_000_000)
        #expect(Quantity.value("1.5Gi") == 1_610_612_736)
        #expect(Quantity.value("100n", scale: 1000) == 1)
        #expect(Quantity.value("12x") == nil)
        #expect(Quantity.value("") == nil)
        // The integer shortcut agrees with the exact reading.
        for text in ["0", "1", "250m", "1m", "1500m", "999m", "4", "16Mi", "8Gi", "3k", "2M", "7G", "1Ti", "42Ki"] {
            for scale: Int64 in [1, 1000] {
                let exact = Quantity.parse(text).map { ($0 * Decimal(scale)) }
                let fast = Quantity.integerValue(text, scale: scale)
                var rounded = Decimal()
                var value = exact ?? 0
                NSDecimalRound(&rounded, &value, 0, .up)
                #expect(fast.map { Decimal($0) } == rounded, "\(text) × \(scale)")
            }
        }
        #expect(Quantity.value("9223372036854775807Ki") == Int64.max)
    }
}
