import Foundation
import KubeAPI
import Logging
import Synchronization
import Testing

@testable import KubeControllers
@testable import KubeServer

@Suite struct JobControllerTests {
    static let jobs = "/apis/batch/v1/namespaces/default/jobs"
    static let podsPath = "/api/v1/namespaces/default/pods"

    static func job(_ name: String, spec: JSONObject = [:]) -> JSONValue {
        var fields: JSONObject = [
            "template": [
                "metadata": ["labels": ["app": .string(name)]],
                "spec": ["restartPolicy": "Never", "containers": [["name": "work", "image": "busybox:1.36"]]],
            ]
        ]
        for (key, value) in spec { fields[key] = value }
        return ["apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": .string(name)], "spec": .object(fields)]
    }

    static func pods(of job: String, _ client: KubeClient) async throws -> [JSONValue] {
        let list = try await client.list(podsPath, query: "labelSelector=job-name%3D\(job)")
        return list["items"]?.arrayValue ?? []
    }

    static func active(_ pods: [JSONValue]) -> [JSONValue] {
        pods.filter { pod in
            let phase = pod[path: "status", "phase"]?.stringValue
            return phase != "Succeeded" && phase != "Failed"
        }
    }

    /// Acts as the node would: the pod ends with `phase`.
    static func finish(_ pod: JSONValue, _ phase: String, _ client: KubeClient) async throws {
        _ = try await client.patch(
            "\(podsPath)/\(pod[path: "metadata", "name"]?.stringValue ?? "")/status", .merge,
            ["status": ["phase": .string(phase)]])
    }

    static func condition(_ job: JSONValue?, _ type: String) -> JSONValue? {
        job?[path: "status", "conditions"]?.arrayValue?.first { $0["type"]?.stringValue == type }
    }

    static func events(_ client: KubeClient, reason: String) async throws -> [String] {
        let list = try await client.list("/api/v1/namespaces/default/events")
        return (list["items"]?.arrayValue ?? []).filter { $0["reason"]?.stringValue == reason }.compactMap {
            $0["message"]?.stringValue
        }
    }

    @Test func createDefaultsTheSelectorLabelsAndCounts() async throws {
        let cluster = try TestCluster(controllers: { _ in [] })
        try await cluster.start()
        let created = try await cluster.client.create(Self.jobs, Self.job("pi"))
        let uid = try #require(created[path: "metadata", "uid"]?.stringValue)
        #expect(
            created[path: "spec", "selector"] == ["matchLabels": ["batch.kubernetes.io/controller-uid": .string(uid)]])
        let labels = created[path: "spec", "template", "metadata", "labels"]
        #expect(labels?["batch.kubernetes.io/controller-uid"]?.stringValue == uid)
        #expect(labels?["batch.kubernetes.io/job-name"] == "pi")
        #expect(labels?["controller-uid"]?.stringValue == uid)
        #expect(labels?["job-name"] == "pi")
        #expect(labels?["app"] == "pi")
        #expect(created[path: "spec", "completions"] == 1)
        #expect(created[path: "spec", "parallelism"] == 1)
        #expect(created[path: "spec", "backoffLimit"] == 6)
        #expect(created[path: "spec", "completionMode"] == "NonIndexed")
        #expect(created[path: "spec", "suspend"] == false)
        // Parallelism alone leaves completions unset (a work queue Job).
        let queueJob = try await cluster.client.create(Self.jobs, Self.job("queue", spec: ["parallelism": 3]))
        #expect(queueJob[path: "spec", "completions"] == nil)
        do {
            var always = Self.job("always")
            always[path: "spec", "template", "spec", "restartPolicy"] = nil
            _ = try await cluster.client.create(Self.jobs, always)
            Issue.record("a Job whose pods restart Always was accepted")
        } catch {
            #expect(error.code == 422)
            #expect(
                error.message
                    == "Job.batch \"always\" is invalid: spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
            )
        }
        await cluster.stop()
    }

    @Test func runsToCompletionWithAtMostParallelismPods() async throws {
        let cluster = try TestCluster(controllers: { ctx in [JobController(context: ctx)] })
        try await cluster.start()
        let client = cluster.client
        _ = try await client.create(Self.jobs, Self.job("batch", spec: ["completions": 3, "parallelism": 2]))
        var finished = 0
        while finished < 3 {
            let done = finished
            let ready = await cluster.eventually {
                let pods = try await Self.pods(of: "batch", client)
                return Self.active(pods).count == min(2, 3 - done)
            }
            #expect(ready)
            let pods = try await Self.pods(of: "batch", client)
            let running = Self.active(pods)
            #expect(running.count <= 2)
            #expect(pods.count == finished + running.count)
            try await Self.finish(try #require(running.first), "Succeeded", client)
            finished += 1
        }
        let complete = await cluster.eventually {
            Self.condition(await cluster.get("\(Self.jobs)/batch"), "Complete")?["status"] == "True"
        }
        #expect(complete)
        let job = await cluster.get("\(Self.jobs)/batch")
        #expect(job?[path: "status", "succeeded"] == 3)
        #expect(job?[path: "status", "active"] == nil)
        #expect(job?[path: "status", "completionTime"] != nil)
        #expect(Self.condition(job, "Complete")?["reason"] == "CompletionsReached")
        let pods = try await Self.pods(of: "batch", client)
        #expect(pods.count == 3)
        #expect(pods.allSatisfy { $0[path: "status", "phase"] == "Succeeded" })
        let owner = pods.first?[path: "metadata", "ownerReferences"]?.arrayValue?.first
        #expect(owner?["kind"] == "Job")
        #expect(owner?["controller"] == true)
        #expect(owner?["blockOwnerDeletion"] == true)
        let completed = await cluster.eventually {
            try await Self.events(client, reason: "Completed") == ["Job completed"]
        }
        #expect(completed)
        #expect(try await Self.events(client, reason: "SuccessfulCreate").count == 3)
        await cluster.stop()
    }

    @Test func failsOnceTheBackoffLimitIsPassed() async throws {
        let cluster = try TestCluster(controllers: { ctx in [JobController(context: ctx)] })
        try await cluster.start()
        let client = cluster.client
        _ = try await client.create(Self.jobs, Self.job("flaky", spec: ["backoffLimit": 1]))
        for attempt in 1...2 {
            let started = await cluster.eventually {
                let pods = try await Self.pods(of: "flaky", client)
                return pods.count == attempt && Self.active(pods).count == 1
            }
            #expect(started)
            let pod = try #require(Self.active(try await Self.pods(of: "flaky", client)).first)
            try await Self.finish(pod, "Failed", client)
            // The replacement waits 10 s after a failure (on the controllers' clock).
            cluster.advance(by: 15)
        }
        let failed = await cluster.eventually {
            Self.condition(await cluster.get("\(Self.jobs)/flaky"), "Failed")?["status"] == "True"
        }
        #expect(failed)
        let job = await cluster.get("\(Self.jobs)/flaky")
        #expect(Self.condition(job, "Failed")?["reason"] == "BackoffLimitExceeded")
        #expect(Self.condition(job, "Failed")?["message"] == "Job has reached the specified backoff limit")
        #expect(job?[path: "status", "failed"] == 2)
        #expect(try await Self.pods(of: "flaky", client).count == 2)
        await cluster.stop()
    }

    @Test func theActiveDeadlineFailsTheJobAndStopsItsPods() async throws {
        let cluster = try TestCluster(controllers: { ctx in [JobController(context: ctx)] })
        try await cluster.start()
        let client = cluster.client
        _ = try await client.create(
            Self.jobs, Self.job("slow", spec: ["completions": 2, "parallelism": 2, "activeDeadlineSeconds": 30]))
        let started = await cluster.eventually { try await Self.pods(of: "slow", client).count == 2 }
        #expect(started)
        cluster.advance(by: 31)
        let failed = await cluster.eventually {
            Self.condition(await cluster.get("\(Self.jobs)/slow"), "Failed")?["reason"] == "DeadlineExceeded"
        }
        #expect(failed)
        let job = await cluster.get("\(Self.jobs)/slow")
        #expect(Self.condition(job, "Failed")?["message"] == "Job was active longer than specified deadline")
        // The pods were never bound to a node, so their deletion is immediate.
        #expect(try await Self.pods(of: "slow", client).isEmpty)
        let deleted = await cluster.eventually { try await Self.events(client, reason: "SuccessfulDelete").count == 2 }
        #expect(deleted)
        await cluster.stop()
    }

    @Test func aFinishedJobGoesAfterItsTTL() async throws {
        let cluster = try TestCluster(controllers: { ctx in [JobController(context: ctx)] })
        try await cluster.start()
        let client = cluster.client
        _ = try await client.create(Self.jobs, Self.job("brief", spec: ["ttlSecondsAfterFinished": 60]))
        let started = await cluster.eventually { try await Self.pods(of: "brief", client).count == 1 }
        #expect(started)
        try await Self.finish(try #require(try await Self.pods(of: "brief", client).first), "Succeeded", client)
        let complete = await cluster.eventually {
            Self.condition(await cluster.get("\(Self.jobs)/brief"), "Complete")?["status"] == "True"
        }
        #expect(complete)
        #expect(await cluster.get("\(Self.jobs)/brief") != nil)
        cluster.advance(by: 61)
        let gone = await cluster.eventually { await cluster.get("\(Self.jobs)/brief") == nil }
        #expect(gone)
        await cluster.stop()
    }

    @Test func suspendStopsThePodsAndResumeStartsThemAgain() async throws {
        let cluster = try TestCluster(controllers: { ctx in [JobController(context: ctx)] })
        try await cluster.start()
        let client = cluster.client
        _ = try await client.create(Self.jobs, Self.job("paused", spec: ["parallelism": 2, "completions": 4]))
        #expect(await cluster.eventually { try await Self.pods(of: "paused", client).count == 2 })
        _ = try await client.patch("\(Self.jobs)/paused", .merge, ["spec": ["suspend": true]])
        let suspended = await cluster.eventually {
            let job = await cluster.get("\(Self.jobs)/paused")
            let pods = try await Self.pods(of: "paused", client)
            return Self.condition(job, "Suspended")?["status"] == "True" && pods.isEmpty
        }
        #expect(suspended)
        _ = try await client.patch("\(Self.jobs)/paused", .merge, ["spec": ["suspend": false]])
        let resumed = await cluster.eventually {
            let job = await cluster.get("\(Self.jobs)/paused")
            let pods = try await Self.pods(of: "paused", client)
            return Self.condition(job, "Suspended")?["reason"] == "JobResumed" && pods.count == 2
        }
        #expect(resumed)
        await cluster.stop()
    }

    /// A cache that has not seen the pods just created must not make the controller create them again, and a
    /// controller started afresh on the same store (a restart) counts the pods already there.
    @Test func noDuplicatePodsWithAStaleCacheOrAfterARestart() async throws {
        let cluster = try TestCluster(controllers: { _ in [] })
        try await cluster.start()
        let client = cluster.client
        _ = try await client.create(Self.jobs, Self.job("once", spec: ["parallelism": 2, "completions": 2]))
        var logger = Logger(label: "test")
        logger.logLevel = .warning

        // The pod cache never runs: it stays empty, as a watch that lags far behind would.
        let stale = ControllerContext(client: client, logger: logger, now: { cluster.context.now() })
        let first = JobController(context: stale)
        let jobsRunning = Task { await stale.informer(.jobs).run() }
        await stale.informer(.jobs).waitForSync()
        try await first.reconcile("default/once")
        try await first.reconcile("default/once")
        try await first.reconcile("default/once")
        #expect(try await Self.pods(of: "once", client).count == 2)
        jobsRunning.cancel()

        // A new controller, as after a restart: its caches list what is stored.
        let fresh = ControllerContext(client: client, logger: logger, now: { cluster.context.now() })
        let second = JobController(context: fresh)
        let informers = [fresh.informer(.jobs), fresh.informer(.pods)]
        let running = informers.map { informer in Task { await informer.run() } }
        for informer in informers { await informer.waitForSync() }
        try await second.reconcile("default/once")
        try await second.reconcile("default/once")
        #expect(try await Self.pods(of: "once", client).count == 2)
        for task in running { task.cancel() }
        await cluster.stop()
    }
}
