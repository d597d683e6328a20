import KubeAPI
import Logging
import Testing

@testable import KubeControllers

@Suite struct LeaderElectionTests {
    /// Two servers' controllers on one store: one leads, the other waits; when the leader stops, the other takes
    /// over and carries on.
    @Test func onlyTheHolderOfTheLeaseRunsTheControllers() async throws {
        var first = ControllerSettings()
        first.leaderElectionIdentity = "server-a"
        let cluster = try TestCluster(controllers: { [ReplicaSetController(context: $0)] }, settings: first)
        try await cluster.start()
        var second = ControllerSettings()
        second.leaderElectionIdentity = "server-b"
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let otherContext = ControllerContext(client: cluster.client, settings: second, logger: logger)
        let other = ControllerManager(context: otherContext, controllers: [ReplicaSetController(context: otherContext)])
        let otherTask = Task { try? await other.run() }

        let lease = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager"
        #expect(await cluster.eventually { await cluster.get(lease)?[path: "spec", "holderIdentity"] == "server-a" })
        _ = try await cluster.client.create(
            ReplicaSetControllerTests.path, ReplicaSetControllerTests.replicaSet("web", replicas: 3))
        #expect(await cluster.eventually { try await cluster.pods(selector: "app=web").count == 3 })
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await cluster.pods(selector: "app=web").count == 3)

        // The leader stops (and gives the lease up): the other takes over.
        await cluster.stopControllers()
        #expect(await cluster.eventually { await cluster.get(lease)?[path: "spec", "holderIdentity"] == "server-b" })
        _ = try await cluster.client.patch(ReplicaSetControllerTests.path + "/web", .merge, ["spec": ["replicas": 5]])
        #expect(await cluster.eventually { try await cluster.pods(selector: "app=web").count == 5 })
        otherTask.cancel()
        await otherTask.value
        await cluster.stop()
    }
}
