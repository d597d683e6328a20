import Foundation
import KubeAPI
import KubeServer
import Logging
import Synchronization
import Testing

@testable import KubeControllers

@Suite struct StatefulSetControllerTests {
    static let path = "/apis/apps/v1/namespaces/default/statefulsets"
    static let pods = "/api/v1/namespaces/default/pods"

    static func statefulSet(
        _ name: String, replicas: Int64, policy: String? = nil, image: String = "nginx:1.27",
        extra: JSONObject = [:]
    ) -> JSONValue {
        var spec: JSONObject = [
            "replicas": .int(replicas), "serviceName": .string(name),
            "selector": ["matchLabels": ["app": .string(name)]],
            "template": [
                "metadata": ["labels": ["app": .string(name)]],
                "spec": ["containers": [["name": "main", "image": .string(image)]]],
            ],
        ]
        if let policy { spec["podManagementPolicy"] = .string(policy) }
        for (key, value) in extra { spec[key] = value }
        return [
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": ["name": .string(name)], "spec": .object(spec),
        ]
    }

    static func started() async throws -> TestCluster {
        let cluster = try TestCluster(controllers: { [StatefulSetController(context: $0)] })
        try await cluster.start()
        return cluster
    }

    /// The names of the pods deleted from now on, in order, until `count` of them.
    static func deletions(_ cluster: TestCluster, count: Int) async throws -> Task<[String], Never> {
        let version = try await cluster.client.list(Self.pods)[path: "metadata", "resourceVersion"]?.stringValue ?? ""
        let events = try await cluster.client.watch(Self.pods, query: "resourceVersion=\(version)")
        return Task {
            var names: [String] = []
            for await event in events where event.type == "DELETED" {
                names.append(event.object.name)
                if names.count == count { break }
            }
            events.cancel()
            return names
        }
    }

    /// Whether `kubectl rollout status statefulset/<name>` says done (its StatefulSetStatusViewer, for
    /// RollingUpdate): the generation observed, every pod ready, and the pods from the partition up updated.
    static func rolledOut(_ cluster: TestCluster, _ name: String) async throws -> Bool {
        let set = try await cluster.client.get(Self.path + "/" + name)
        let status = set["status"] ?? [:]
        let replicas = set[path: "spec", "replicas"]?.intValue ?? 1
        let partition = set[path: "spec", "updateStrategy", "rollingUpdate", "partition"]?.intValue ?? 0
        guard let observed = status["observedGeneration"]?.intValue, observed >= set.generation else { return false }
        return (status["readyReplicas"]?.intValue ?? 0) >= replicas
            && (status["updatedReplicas"]?.intValue ?? 0) >= replicas - partition
    }

    /// The first container's image of a pod (or pod template).
    static func image(_ pod: JSONValue) -> String? {
        pod[path: "spec", "containers"]?.arrayValue?.first?["image"]?.stringValue
    }

    static func status(_ cluster: TestCluster, _ name: String) async throws -> JSONValue {
        try await cluster.client.get(Self.path + "/" + name)["status"] ?? [:]
    }

    @Test func createsPodsInOrderEachOnceThePreviousIsReady() async throws {
        let cluster = try await Self.started()
        _ = try await cluster.client.create(Self.path, Self.statefulSet("web", replicas: 3))
        #expect(await cluster.eventually { try await cluster.names(Self.pods) == ["web-0"] })
        // web-0 is not ready: web-1 is not made.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await cluster.names(Self.pods) == ["web-0"])
        let pod = try await cluster.client.get(Self.pods + "/web-0")
        let revision = try await Self.status(cluster, "web")["updateRevision"]?.stringValue ?? ""
        #expect(revision.hasPrefix("web-"))
        #expect(pod.labels["app"] == "web")
        #expect(pod.labels["statefulset.kubernetes.io/pod-name"] == "web-0")
        #expect(pod.labels["apps.kubernetes.io/pod-index"] == "0")
        #expect(pod.labels["controller-revision-hash"] == revision)
        #expect(pod[path: "spec", "hostname"] == "web-0")
        #expect(pod[path: "spec", "subdomain"] == "web")
        #expect(pod.controllerReference?["kind"] == "StatefulSet")
        #expect(pod.controllerReference?["name"] == "web")
        for ordinal in 0..<3 {
            try await cluster.markReady("default", "web-\(ordinal)")
            let expected = (0...min(ordinal + 1, 2)).map { "web-\($0)" }
            #expect(await cluster.eventually { try await cluster.names(Self.pods) == expected })
        }
        #expect(
            await cluster.eventually {
                let status = try await Self.status(cluster, "web")
                return status["replicas"] == 3 && status["readyReplicas"] == 3 && status["availableReplicas"] == 3
                    && status["currentReplicas"] == 3 && status["updatedReplicas"] == 3
                    && status["observedGeneration"] == 1 && status["currentRevision"] == .string(revision)
                    && status["updateRevision"] == .string(revision) && status["collisionCount"] == 0
            })
        let events = try await cluster.client.list("/api/v1/namespaces/default/events")["items"]?.arrayValue ?? []
        let created = events.filter { $0["reason"] == "SuccessfulCreate" }.compactMap { $0["message"]?.stringValue }
        #expect(created.sorted() == (0..<3).map { "create Pod web-\($0) in StatefulSet web successful" })
        // The revision the pods were made from.
        let history = try await cluster.client.get("/apis/apps/v1/namespaces/default/controllerrevisions/" + revision)
        #expect(history["revision"] == 1)
        #expect(Self.image(history[path: "data", "spec", "template"] ?? [:]) == "nginx:1.27")
        #expect(history.controllerReference?["name"] == "web")
        await cluster.stop()
    }

    @Test func scalesDownFromTheHighestOrdinalOneAtATime() async throws {
        let cluster = try await Self.started()
        let node = cluster.runNodeStandIn()
        _ = try await cluster.client.create(Self.path, Self.statefulSet("web", replicas: 4))
        #expect(await cluster.eventually { try await Self.status(cluster, "web")["readyReplicas"] == 4 })
        let deleted = try await Self.deletions(cluster, count: 3)
        _ = try await cluster.client.patch(Self.path + "/web", .merge, ["spec": ["replicas": 1]])
        #expect(await cluster.eventually { try await cluster.names(Self.pods) == ["web-0"] })
        #expect(await deleted.value == ["web-3", "web-2", "web-1"])
        #expect(
            await cluster.eventually {
                let status = try await Self.status(cluster, "web")
                return status["replicas"] == 1 && status["readyReplicas"] == 1 && status["observedGeneration"] == 2
            })
        let events = try await cluster.client.list("/api/v1/namespaces/default/events")["items"]?.arrayValue ?? []
        #expect(events.contains { $0["message"] == "delete Pod web-3 in StatefulSet web successful" })
        node.cancel()
        await cluster.stop()
    }

    @Test func replacesADeletedOrFailedPodUnderTheSameName() async throws {
        let cluster = try await Self.started()
        let node = cluster.runNodeStandIn()
        _ = try await cluster.client.create(Self.path, Self.statefulSet("db", replicas: 2))
        #expect(await cluster.eventually { try await Self.status(cluster, "db")["readyReplicas"] == 2 })
        let first = try await cluster.client.get(Self.pods + "/db-1").uid
        _ = try await cluster.client.delete(Self.pods + "/db-1")
        #expect(
            await cluster.eventually {
                let pod = try await cluster.client.get(Self.pods + "/db-1")
                return pod.uid != first && PodState.isReady(pod)
            })
        let failed = try await cluster.client.get(Self.pods + "/db-0").uid
        _ = try await cluster.client.patch(Self.pods + "/db-0/status", .merge, ["status": ["phase": "Failed"]])
        #expect(
            await cluster.eventually {
                let pod = try await cluster.client.get(Self.pods + "/db-0")
                return pod.uid != failed && PodState.isReady(pod)
            })
        #expect(try await cluster.names(Self.pods) == ["db-0", "db-1"])
        node.cancel()
        await cluster.stop()
    }

    @Test func parallelPolicyCreatesEveryPodAtOnce() async throws {
        let cluster = try await Self.started()
        _ = try await cluster.client.create(Self.path, Self.statefulSet("cache", replicas: 3, policy: "Parallel"))
        // None is ready, yet all are made.
        #expect(
            await cluster.eventually { try await cluster.names(Self.pods) == ["cache-0", "cache-1", "cache-2"] })
        #expect(
            await cluster.eventually {
                let status = try await Self.status(cluster, "cache")
                return status["replicas"] == 3 && status["readyReplicas"] == nil && status["availableReplicas"] == 0
            })
        _ = try await cluster.client.patch(Self.path + "/cache", .merge, ["spec": ["replicas": 0]])
        #expect(await cluster.eventually { try await cluster.names(Self.pods).isEmpty })
        await cluster.stop()
    }

    @Test func rollingUpdateReplacesFromTheHighestOrdinalAndHonoursThePartition() async throws {
        let cluster = try await Self.started()
        let node = cluster.runNodeStandIn()
        _ = try await cluster.client.create(Self.path, Self.statefulSet("web", replicas: 3))
        #expect(await cluster.eventually { try await Self.status(cluster, "web")["readyReplicas"] == 3 })
        let old = try await Self.status(cluster, "web")["currentRevision"]?.stringValue ?? ""
        let deleted = try await Self.deletions(cluster, count: 3)
        _ = try await cluster.client.patch(
            Self.path + "/web", .merge,
            [
                "spec": [
                    "updateStrategy": ["rollingUpdate": ["partition": 2]],
                    "template": ["spec": ["containers": [["name": "main", "image": "nginx:1.28"]]]],
                ]
            ])
        let revisionOf: @Sendable (String) async throws -> String = { name in
            try await cluster.client.get(Self.pods + "/" + name).labels["controller-revision-hash"] ?? ""
        }
        #expect(
            await cluster.eventually {
                let status = try await Self.status(cluster, "web")
                let update = status["updateRevision"]?.stringValue ?? ""
                return update != old && status["updatedReplicas"] == 1 && status["currentReplicas"] == 2
                    && status["readyReplicas"] == 3 && status["currentRevision"] == .string(old)
            })
        #expect(await cluster.eventually { try await Self.rolledOut(cluster, "web") })
        let new = try await Self.status(cluster, "web")["updateRevision"]?.stringValue ?? ""
        #expect(try await revisionOf("web-2") == new)
        // Below the partition nothing moves.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await revisionOf("web-1") == old)
        #expect(try await revisionOf("web-0") == old)
        _ = try await cluster.client.patch(
            Self.path + "/web", .merge, ["spec": ["updateStrategy": ["rollingUpdate": ["partition": 0]]]])
        #expect(
            await cluster.eventually {
                let status = try await Self.status(cluster, "web")
                return status["currentRevision"] == .string(new) && status["updateRevision"] == .string(new)
                    && status["updatedReplicas"] == 3 && status["currentReplicas"] == 3
                    && status["readyReplicas"] == 3 && status["observedGeneration"] == 3
            })
        #expect(try await Self.rolledOut(cluster, "web"))
        #expect(await deleted.value == ["web-2", "web-1", "web-0"])
        for ordinal in 0..<3 {
            let pod = try await cluster.client.get(Self.pods + "/web-\(ordinal)")
            #expect(Self.image(pod) == "nginx:1.28")
        }
        // Both templates are kept as revisions 1 and 2; going back renumbers the first as 3.
        let revisions = "/apis/apps/v1/namespaces/default/controllerrevisions"
        #expect(try await cluster.names(revisions) == [old, new].sorted())
        _ = try await cluster.client.patch(
            Self.path + "/web", .merge,
            ["spec": ["template": ["spec": ["containers": [["name": "main", "image": "nginx:1.27"]]]]]])
        #expect(
            await cluster.eventually {
                let revision = try await cluster.client.get(revisions + "/" + old)
                let status = try await Self.status(cluster, "web")
                return revision["revision"] == 3 && status["updateRevision"] == .string(old)
            })
        #expect(try await cluster.names(revisions).count == 2)
        node.cancel()
        await cluster.stop()
    }

    @Test func onDeleteReplacesOnlyThePodsDeletedByHand() async throws {
        let cluster = try await Self.started()
        let node = cluster.runNodeStandIn()
        _ = try await cluster.client.create(
            Self.path, Self.statefulSet("kv", replicas: 2, extra: ["updateStrategy": ["type": "OnDelete"]]))
        #expect(await cluster.eventually { try await Self.status(cluster, "kv")["readyReplicas"] == 2 })
        let old = try await Self.status(cluster, "kv")["currentRevision"]?.stringValue ?? ""
        _ = try await cluster.client.patch(
            Self.path + "/kv", .merge,
            ["spec": ["template": ["spec": ["containers": [["name": "main", "image": "redis:8"]]]]]])
        #expect(
            await cluster.eventually {
                let status = try await Self.status(cluster, "kv")
                return status["observedGeneration"] == 2 && status["updateRevision"] != .string(old)
                    && status["updatedReplicas"] == nil && status["currentReplicas"] == 2
            })
        try await Task.sleep(for: .milliseconds(300))
        #expect(Self.image(try await cluster.client.get(Self.pods + "/kv-1")) == "nginx:1.27")
        _ = try await cluster.client.delete(Self.pods + "/kv-1")
        #expect(
            await cluster.eventually {
                let pod = try await cluster.client.get(Self.pods + "/kv-1")
                return Self.image(pod) == "redis:8"
            })
        #expect(await cluster.eventually { try await Self.status(cluster, "kv")["updatedReplicas"] == 1 })
        node.cancel()
        await cluster.stop()
    }

    @Test func availabilityWaitsForMinReadySeconds() async throws {
        let cluster = try await Self.started()
        _ = try await cluster.client.create(
            Self.path, Self.statefulSet("slow", replicas: 1, extra: ["minReadySeconds": 30]))
        #expect(await cluster.eventually { try await cluster.names(Self.pods) == ["slow-0"] })
        try await cluster.markReady("default", "slow-0")
        #expect(
            await cluster.eventually {
                let status = try await Self.status(cluster, "slow")
                return status["readyReplicas"] == 1 && status["availableReplicas"] == 0
            })
        cluster.advance(by: 31)
        #expect(await cluster.eventually { try await Self.status(cluster, "slow")["availableReplicas"] == 1 })
        await cluster.stop()
    }

    @Test func aStaleCacheNeverMakesASecondPodForAnOrdinal() async throws {
        let cluster = try await Self.started()
        _ = try await cluster.client.create(Self.path, Self.statefulSet("web", replicas: 1))
        #expect(await cluster.eventually { try await cluster.names(Self.pods) == ["web-0"] })
        let uid = try await cluster.client.get(Self.pods + "/web-0").uid
        // A second controller whose pod and revision caches never filled: it sees the set but not its pod nor
        // its revision.
        var logger = Logger(label: "stale")
        logger.logLevel = .critical
        let staleContext = ControllerContext(client: cluster.client, logger: logger)
        let stale = StatefulSetController(context: staleContext)
        let watching = Task { await stale.sets.run() }
        let recording = Task { await staleContext.events.run() }
        await stale.sets.waitForSync()
        var failure: KubeError?
        do {
            try await stale.reconcile("default/web")
        } catch let error as KubeError {
            failure = error
        }
        // Its create met the pod already there (409, which the manager retries without a word): no second pod,
        // no warning, and the existing revision was recognised rather than duplicated.
        #expect(failure?.code == 409)
        #expect(try await cluster.names(Self.pods) == ["web-0"])
        #expect(try await cluster.client.get(Self.pods + "/web-0").uid == uid)
        #expect(try await cluster.names("/apis/apps/v1/namespaces/default/controllerrevisions").count == 1)
        // Events are written in the order recorded: once a marker recorded after the reconcile is in, any warning
        // of the reconcile would be too.
        let set = try await cluster.client.get(Self.path + "/web")
        staleContext.events.record(set, reason: "Marker", message: "after", component: "test")
        let events = "/api/v1/namespaces/default/events"
        #expect(
            await cluster.eventually {
                try await cluster.client.list(events)["items"]?.arrayValue?.contains { $0["reason"] == "Marker" }
                    == true
            })
        let written = try await cluster.client.list(events)["items"]?.arrayValue ?? []
        #expect(!written.contains { $0["type"] == "Warning" })
        watching.cancel()
        recording.cancel()
        await cluster.stop()
    }

    @Test func defaultsAndRefusesVolumeClaimTemplates() async throws {
        let cluster = try TestCluster(controllers: { _ in [] })
        try await cluster.start()
        let created = try await cluster.client.create(Self.path, Self.statefulSet("web", replicas: 1))
        #expect(created[path: "spec", "podManagementPolicy"] == "OrderedReady")
        #expect(
            created[path: "spec", "updateStrategy"] == ["type": "RollingUpdate", "rollingUpdate": ["partition": 0]])
        #expect(created[path: "spec", "revisionHistoryLimit"] == 10)
        #expect(
            created[path: "spec", "persistentVolumeClaimRetentionPolicy"]
                == ["whenDeleted": "Retain", "whenScaled": "Retain"])
        let claims: JSONValue = [
            [
                "metadata": ["name": "data"],
                "spec": ["accessModes": ["ReadWriteOnce"], "resources": ["requests": ["storage": "1Gi"]]],
            ]
        ]
        let message =
            "StatefulSet.apps \"db\" is invalid: spec.volumeClaimTemplates: Forbidden: kelson server has no "
            + "persistent volumes yet; use emptyDir or hostPath volumes in the pod template"
        var refused: KubeError?
        do {
            _ = try await cluster.client.create(
                Self.path, Self.statefulSet("db", replicas: 1, extra: ["volumeClaimTemplates": claims]))
        } catch {
            refused = error
        }
        #expect(refused?.code == 422)
        #expect(refused?.message == message)
        refused = nil
        do {
            _ = try await cluster.client.patch(Self.path + "/web", .merge, ["spec": ["volumeClaimTemplates": claims]])
        } catch {
            refused = error
        }
        #expect(refused?.code == 422)
        #expect(refused?.message == message.replacingOccurrences(of: "\"db\"", with: "\"web\""))
        // Fields fixed at create stay fixed.
        refused = nil
        do {
            _ = try await cluster.client.patch(Self.path + "/web", .merge, ["spec": ["serviceName": "other"]])
        } catch {
            refused = error
        }
        #expect(
            refused?.message
                == "StatefulSet.apps \"web\" is invalid: spec: Forbidden: updates to statefulset spec for fields other "
                + "than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
                + "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")
        // A bad policy, with upstream's wording.
        refused = nil
        do {
            _ = try await cluster.client.create(Self.path, Self.statefulSet("odd", replicas: 1, policy: "Random"))
        } catch {
            refused = error
        }
        #expect(
            refused?.message
                == "StatefulSet.apps \"odd\" is invalid: spec.podManagementPolicy: Invalid value: \"Random\": "
                + "must be 'OrderedReady' or 'Parallel'")
        await cluster.stop()
    }
}
