import Foundation
import KubeAPI
import Logging
import Synchronization
import Testing

@testable import KubeControllers
@testable import KubeServer

@Suite struct DaemonSetControllerTests {
    static let path = "/apis/apps/v1/namespaces/default/daemonsets"
    static let revisions = "/apis/apps/v1/namespaces/default/controllerrevisions"

    static func daemonSet(
        _ name: String = "agent", image: String = "agent:1", podSpec: JSONObject = [:], strategy: JSONValue? = nil
    ) -> JSONValue {
        var spec: JSONObject = ["containers": [["name": "agent", "image": .string(image)]]]
        for (key, value) in podSpec { spec[key] = value }
        var setSpec: JSONObject = [
            "selector": ["matchLabels": ["app": .string(name)]],
            "template": ["metadata": ["labels": ["app": .string(name)]], "spec": .object(spec)],
        ]
        if let strategy { setSpec["updateStrategy"] = strategy }
        return [
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": ["name": .string(name)], "spec": .object(setSpec),
        ]
    }

    static func cluster() async throws -> TestCluster {
        let cluster = try TestCluster(controllers: { [DaemonSetController(context: $0), Scheduler(context: $0)] })
        try await cluster.start()
        return cluster
    }

    @Test func runsOnePodOnEveryNodeThroughTheScheduler() async throws {
        let cluster = try await Self.cluster()
        for name in ["a", "b", "c"] { try await cluster.makeNode(name) }
        let created = try await cluster.client.create(Self.path, Self.daemonSet())
        // The API server's defaults.
        #expect(
            created[path: "spec", "updateStrategy"] == [
                "type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": 1, "maxSurge": 0],
            ])
        #expect(created[path: "spec", "revisionHistoryLimit"] == 10)
        #expect(created.annotation("deprecated.daemonset.template.generation") == "1")
        #expect(
            await cluster.eventually {
                try await cluster.pods(selector: "app=agent").compactMap { $0[path: "spec", "nodeName"]?.stringValue }
                    .sorted() == ["a", "b", "c"]
            })
        let revisions = try await cluster.client.list(Self.revisions)["items"]?.arrayValue ?? []
        #expect(revisions.count == 1)
        let revision = try #require(revisions.first)
        let hash = try #require(revision.labels["controller-revision-hash"])
        #expect(revision.name == "agent-\(hash)")
        #expect(revision["revision"] == 1)
        #expect(revision[path: "data", "spec", "template", "$patch"] == "replace")
        #expect(Self.image(revision[path: "data", "spec", "template"]) == "agent:1")
        #expect(revision.controllerReference?["kind"] == "DaemonSet")
        for pod in try await cluster.pods(selector: "app=agent") {
            #expect(pod.name.hasPrefix("agent-"))
            #expect(pod.controllerReference?["name"] == "agent")
            #expect(pod.labels["controller-revision-hash"] == hash)
            #expect(pod.labels["pod-template-generation"] == "1")
            let node = try #require(pod[path: "spec", "nodeName"]?.stringValue)
            let terms = pod[
                path: "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                "nodeSelectorTerms"]
            #expect(
                terms == [["matchFields": [["key": "metadata.name", "operator": "In", "values": [.string(node)]]]]])
            let tolerations = pod[path: "spec", "tolerations"]?.arrayValue ?? []
            #expect(
                tolerations.contains([
                    "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                ]))
            #expect(
                tolerations.contains([
                    "key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule",
                ]))
        }
        let events = try await cluster.client.list("/api/v1/namespaces/default/events")["items"]?.arrayValue ?? []
        let creates = events.filter {
            $0["reason"] == "SuccessfulCreate" && $0[path: "involvedObject", "name"] == "agent"
        }
        #expect(creates.count == 3)
        #expect(creates.allSatisfy { $0["message"]?.stringValue?.hasPrefix("Created pod: agent-") == true })
        // Stays at one pod a node once the cache has caught up.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await cluster.pods(selector: "app=agent").count == 3)
        await cluster.stop()
    }

    @Test func reportsStatusCounts() async throws {
        let cluster = try await Self.cluster()
        for name in ["a", "b", "c"] { try await cluster.makeNode(name) }
        _ = try await cluster.client.create(Self.path, Self.daemonSet())
        #expect(await cluster.eventually { try await cluster.pods(selector: "app=agent").count == 3 })
        let pods = try await cluster.pods(selector: "app=agent").sorted { $0.name < $1.name }
        for pod in pods.prefix(2) { try await cluster.markReady("default", pod.name) }
        #expect(
            await cluster.eventually {
                let status = try await cluster.client.get(Self.path + "/agent")["status"]
                return status == [
                    "currentNumberScheduled": 3, "numberMisscheduled": 0, "desiredNumberScheduled": 3,
                    "numberReady": 2, "updatedNumberScheduled": 3, "numberAvailable": 2, "numberUnavailable": 1,
                    "observedGeneration": 1,
                ]
            })
        try await cluster.markReady("default", pods[2].name)
        #expect(
            await cluster.eventually {
                let status = try await cluster.client.get(Self.path + "/agent")["status"]
                return status?["numberAvailable"] == 3 && status?["numberUnavailable"] == nil
            })
        await cluster.stop()
    }

    @Test func nodeSelectorLimitsTheNodes() async throws {
        let cluster = try await Self.cluster()
        try await cluster.makeNode("a", labels: ["disk": "ssd"])
        try await cluster.makeNode("b", labels: ["disk": "ssd"])
        try await cluster.makeNode("c")
        _ = try await cluster.client.create(Self.path, Self.daemonSet(podSpec: ["nodeSelector": ["disk": "ssd"]]))
        #expect(await cluster.eventually { try await Self.nodesWithPods(cluster) == ["a", "b"] })
        #expect(
            await cluster.eventually {
                try await cluster.client.get(Self.path + "/agent")[path: "status", "desiredNumberScheduled"] == 2
            })
        // Labelling c brings a pod there; unlabelling a takes its pod away.
        _ = try await cluster.client.patch("/api/v1/nodes/c", .merge, ["metadata": ["labels": ["disk": "ssd"]]])
        #expect(await cluster.eventually { try await Self.nodesWithPods(cluster) == ["a", "b", "c"] })
        _ = try await cluster.client.patch("/api/v1/nodes/a", .merge, ["metadata": ["labels": ["disk": nil]]])
        let kubelets = cluster.runNodeStandIn(boundOnly: true)
        #expect(await cluster.eventually { try await Self.nodesWithPods(cluster) == ["b", "c"] })
        kubelets.cancel()
        await cluster.stop()
    }

    @Test func skipsATaintedNodeUnlessTolerated() async throws {
        let cluster = try await Self.cluster()
        try await cluster.makeNode("a")
        try await cluster.makeNode("b", taints: [["key": "dedicated", "value": "infra", "effect": "NoSchedule"]])
        // Node problems and cordoning do not keep daemon pods away (their automatic tolerations).
        try await cluster.makeNode(
            "c", taints: [["key": "node.kubernetes.io/not-ready", "effect": "NoExecute"]], unschedulable: true)
        _ = try await cluster.client.create(Self.path, Self.daemonSet())
        #expect(await cluster.eventually { try await Self.nodesWithPods(cluster) == ["a", "c"] })
        let kubelets = cluster.runNodeStandIn(boundOnly: true)
        let toleration: JSONValue = ["key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"]
        _ = try await cluster.client.patch(
            Self.path + "/agent", .merge, ["spec": ["template": ["spec": ["tolerations": [toleration]]]]])
        #expect(await cluster.eventually { try await Self.nodesWithPods(cluster) == ["a", "b", "c"] })
        kubelets.cancel()
        await cluster.stop()
    }

    @Test func followsNodesComingAndGoing() async throws {
        let cluster = try await Self.cluster()
        try await cluster.makeNode("a")
        _ = try await cluster.client.create(Self.path, Self.daemonSet())
        #expect(await cluster.eventually { try await Self.nodesWithPods(cluster) == ["a"] })
        try await cluster.makeNode("b")
        #expect(await cluster.eventually { try await Self.nodesWithPods(cluster) == ["a", "b"] })
        let pods = try await cluster.pods(selector: "app=agent")
        for pod in pods { try await cluster.markReady("default", pod.name) }
        _ = try await cluster.client.delete("/api/v1/nodes/b")
        // No kubelet will ever confirm the pod of a node that is gone: it goes at once.
        #expect(
            await cluster.eventually {
                let pods = try await cluster.pods(selector: "app=agent")
                return pods.count == 1 && pods[0][path: "spec", "nodeName"] == "a"
            })
        await cluster.stop()
    }

    @Test func rollsATemplateChangeOneNodeAtATime() async throws {
        let cluster = try await Self.cluster()
        for name in ["a", "b", "c"] { try await cluster.makeNode(name) }
        let kubelets = cluster.runNodeStandIn(boundOnly: true)
        _ = try await cluster.client.create(Self.path, Self.daemonSet())
        #expect(await cluster.eventually { try await Self.readyNodes(cluster) == 3 })
        // Watches the rollout: every snapshot of the pods must show at most one node without a ready pod.
        let fewest = Fewest()
        let sampler = Task {
            while !Task.isCancelled {
                if let ready = try? await Self.readyNodes(cluster) { fewest.record(ready) }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        _ = try await cluster.client.patch(
            Self.path + "/agent", .merge,
            ["spec": ["template": ["spec": ["containers": [["name": "agent", "image": "agent:2"]]]]]])
        #expect(
            await cluster.eventually(timeout: .seconds(40)) {
                let pods = try await cluster.pods(selector: "app=agent").filter { !$0.isDeleting }
                let set = try await cluster.client.get(Self.path + "/agent")
                return pods.count == 3
                    && pods.allSatisfy {
                        Self.image($0) == "agent:2" && PodState.isReady($0)
                            && $0.labels["pod-template-generation"] == "2"
                    }
                    && set[path: "status", "updatedNumberScheduled"] == 3
                    && set[path: "status", "numberAvailable"] == 3 && set[path: "status", "observedGeneration"] == 2
            })
        sampler.cancel()
        _ = await sampler.value
        #expect(fewest.current >= 2)
        let revisions = try await cluster.client.list(Self.revisions)["items"]?.arrayValue ?? []
        #expect(revisions.compactMap { $0["revision"]?.intValue }.sorted() == [1, 2])
        let events = try await cluster.client.list("/api/v1/namespaces/default/events")["items"]?.arrayValue ?? []
        #expect(events.contains { $0["reason"] == "SuccessfulDelete" && $0[path: "involvedObject", "name"] == "agent" })
        kubelets.cancel()
        await cluster.stop()
    }

    @Test func onDeleteReplacesOnlyPodsTheUserDeletes() async throws {
        let cluster = try await Self.cluster()
        for name in ["a", "b"] { try await cluster.makeNode(name) }
        _ = try await cluster.client.create(Self.path, Self.daemonSet(strategy: ["type": "OnDelete"]))
        #expect(await cluster.eventually { try await Self.nodesWithPods(cluster) == ["a", "b"] })
        _ = try await cluster.client.patch(
            Self.path + "/agent", .merge,
            ["spec": ["template": ["spec": ["containers": [["name": "agent", "image": "agent:2"]]]]]])
        #expect(
            await cluster.eventually {
                let set = try await cluster.client.get(Self.path + "/agent")
                return set[path: "status", "observedGeneration"] == 2
                    && set[path: "status", "updatedNumberScheduled"] == nil
            })
        let before = try await cluster.pods(selector: "app=agent")
        #expect(before.allSatisfy { Self.image($0) == "agent:1" })
        let victim = try #require(before.first { $0[path: "spec", "nodeName"] == "a" })
        _ = try await cluster.client.delete(
            "/api/v1/namespaces/default/pods/\(victim.name)", options: ["gracePeriodSeconds": 0])
        #expect(
            await cluster.eventually {
                let pods = try await cluster.pods(selector: "app=agent")
                let images = Dictionary(
                    pods.map { ($0[path: "spec", "nodeName"]?.stringValue ?? "", Self.image($0)) },
                    uniquingKeysWith: { first, _ in first })
                return pods.count == 2 && images["a"] == "agent:2" && images["b"] == "agent:1"
            })
        await cluster.stop()
    }

    @Test func aStaleCacheNeverPutsTwoPodsOnANode() async throws {
        let cluster = try TestCluster(controllers: { _ in [] })
        try await cluster.start()
        for name in ["a", "b", "c"] { try await cluster.makeNode(name) }
        _ = try await cluster.client.create(Self.path, Self.daemonSet())
        // A controller whose pod informer never runs: its pod cache stays empty whatever it creates.
        let context = ControllerContext(client: cluster.client, logger: Logger(label: "stale"))
        let controller = DaemonSetController(context: context)
        let daemonSets = context.informer(.daemonSets)
        let nodes = context.informer(.nodes)
        let informers = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await daemonSets.run() }
                group.addTask { await nodes.run() }
            }
        }
        #expect(await cluster.eventually { daemonSets.get("default/agent") != nil && nodes.objects.count == 3 })
        for _ in 0..<2 { try await controller.reconcileBesideTheManager("default/agent") }
        let pods = try await cluster.pods(selector: "app=agent")
        #expect(pods.count == 3)
        #expect(Set(pods.compactMap { DaemonPlacement.targetNode(of: $0) }) == ["a", "b", "c"])
        informers.cancel()
        await informers.value
        await cluster.stop()
    }

    /// The first container's image of a pod or template.
    static func image(_ pod: JSONValue?) -> String {
        pod?[path: "spec", "containers"]?.arrayValue?.first?["image"]?.stringValue ?? ""
    }

    final class Fewest: Sendable {
        let value = Mutex(Int.max)
        func record(_ count: Int) { value.withLock { $0 = min($0, count) } }
        var current: Int { value.withLock { $0 } }
    }

    /// The nodes that hold a pod of the DaemonSet that is not being deleted, bound or pinned.
    static func nodesWithPods(_ cluster: TestCluster, app: String = "agent") async throws -> [String] {
        try await cluster.pods(selector: "app=\(app)").filter { !$0.isDeleting }.compactMap {
            DaemonPlacement.targetNode(of: $0)
        }
        .sorted()
    }

    /// How many nodes have a ready daemon pod that is not being deleted.
    static func readyNodes(_ cluster: TestCluster) async throws -> Int {
        let pods = try await cluster.pods(selector: "app=agent")
        return Set(
            pods.filter { !$0.isDeleting && PodState.isReady($0) }.compactMap {
                $0[path: "spec", "nodeName"]?.stringValue
            }
        )
        .count
    }
}
