import Foundation
import KubeAPI
import Testing

@testable import KubeControllers
@testable import KubeServer

/// The CronJob controller alone: the tests finish its Jobs themselves (through `/status`), as the Job
/// controller would, and move the clock to make the schedule come due.
@Suite struct CronJobControllerTests {
    static let cronJobs = "/apis/batch/v1/namespaces/default/cronjobs"
    static let jobs = "/apis/batch/v1/namespaces/default/jobs"

    static func cronJob(_ name: String, spec: JSONObject = [:]) -> JSONValue {
        var fields: JSONObject = [
            "schedule": "* * * * *",
            "jobTemplate": [
                "metadata": ["labels": ["team": "data"], "annotations": ["note": "nightly"]],
                "spec": [
                    "template": [
                        "spec": [
                            "restartPolicy": "OnFailure", "containers": [["name": "work", "image": "busybox:1.36"]],
                        ]
                    ]
                ],
            ],
        ]
        for (key, value) in spec { fields[key] = value }
        return [
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": ["name": .string(name)], "spec": .object(fields),
        ]
    }

    static func start() async throws -> (TestCluster, CronJobController) {
        let cluster = try TestCluster(controllers: { ctx in [CronJobController(context: ctx)] })
        try await cluster.start()
        // Start 5 s into a minute, so each 60 s step passes exactly one due time of `* * * * *`.
        let second = cluster.context.now().timeIntervalSince1970.truncatingRemainder(dividingBy: 60)
        var step = 5 - second
        if step < 0 { step += 60 }
        cluster.advance(by: step)
        let controller = try #require(cluster.manager.controllers.first as? CronJobController)
        return (cluster, controller)
    }

    static func jobNames(_ cluster: TestCluster) async throws -> [String] {
        try await cluster.names(jobs)
    }

    /// Marks a Job Complete (or Failed) as the Job controller would.
    static func finish(_ name: String, _ type: String = "Complete", _ cluster: TestCluster) async throws {
        let now = APITime.format(cluster.context.now())
        var status: JSONObject = [
            "startTime": .string(now),
            "conditions": [["type": .string(type), "status": "True", "lastTransitionTime": .string(now)]],
        ]
        if type == "Complete" { status["completionTime"] = .string(now) }
        _ = try await cluster.client.patch("\(jobs)/\(name)/status", .merge, ["status": .object(status)])
    }

    static func events(_ cluster: TestCluster, reason: String) async throws -> [String] {
        let list = try await cluster.client.list("/api/v1/namespaces/default/events")
        return (list["items"]?.arrayValue ?? []).filter { $0["reason"]?.stringValue == reason }.compactMap {
            $0["message"]?.stringValue
        }
    }

    @Test func firesOnceAtEachDueTime() async throws {
        let (cluster, controller) = try await Self.start()
        let created = try await cluster.client.create(Self.cronJobs, Self.cronJob("tick"))
        #expect(created[path: "spec", "concurrencyPolicy"] == "Allow")
        #expect(created[path: "spec", "suspend"] == false)
        #expect(created[path: "spec", "successfulJobsHistoryLimit"] == 3)
        #expect(created[path: "spec", "failedJobsHistoryLimit"] == 1)
        cluster.advance(by: 60)
        #expect(await cluster.eventually { try await Self.jobNames(cluster).count == 1 })
        // Reconciling again at the same time starts nothing more.
        try await controller.reconcileBesideTheManager("default/tick")
        try await controller.reconcileBesideTheManager("default/tick")
        let names = try await Self.jobNames(cluster)
        #expect(names.count == 1)
        let job = try #require(await cluster.get("\(Self.jobs)/\(names[0])"))
        let stamp = try #require(
            job[path: "metadata", "annotations", CronJobController.scheduledTimestampAnnotation]?.stringValue)
        let due = try #require(APITime.parse(stamp))
        #expect(names[0] == "tick-\(Int64(due.timeIntervalSince1970) / 60)")
        #expect(job[path: "metadata", "labels", "team"] == "data")
        #expect(job[path: "metadata", "annotations", "note"] == "nightly")
        let owner = job[path: "metadata", "ownerReferences"]?.arrayValue?.first
        #expect(owner?["kind"] == "CronJob")
        #expect(owner?["uid"] == created[path: "metadata", "uid"])
        let recorded = await cluster.eventually {
            let cronJob = await cluster.get("\(Self.cronJobs)/tick")
            return cronJob?[path: "status", "lastScheduleTime"]?.stringValue.flatMap(APITime.parse) == due
                && cronJob?[path: "status", "active"]?.arrayValue?.first?["name"]?.stringValue == names[0]
        }
        #expect(recorded)
        #expect(
            await cluster.eventually {
                try await Self.events(cluster, reason: "SuccessfulCreate") == ["Created job \(names[0])"]
            })

        cluster.advance(by: 60)
        #expect(await cluster.eventually { try await Self.jobNames(cluster).count == 2 })
        try await Self.finish(names[0], "Complete", cluster)
        let seen = await cluster.eventually {
            let cronJob = await cluster.get("\(Self.cronJobs)/tick")
            return cronJob?[path: "status", "lastSuccessfulTime"] != nil
                && cronJob?[path: "status", "active"]?.arrayValue?.count == 1
        }
        #expect(seen)
        #expect(
            await cluster.eventually {
                try await Self.events(cluster, reason: "SawCompletedJob") == [
                    "Saw completed job: \(names[0]), status: Complete"
                ]
            })
        await cluster.stop()
    }

    @Test func forbidSkipsWhileAJobRuns() async throws {
        let (cluster, controller) = try await Self.start()
        _ = try await cluster.client.create(Self.cronJobs, Self.cronJob("solo", spec: ["concurrencyPolicy": "Forbid"]))
        cluster.advance(by: 60)
        #expect(await cluster.eventually { try await Self.jobNames(cluster).count == 1 })
        let first = try await Self.jobNames(cluster)[0]
        #expect(
            await cluster.eventually {
                await cluster.get("\(Self.cronJobs)/solo")?[path: "status", "active"]?.arrayValue?.count == 1
            })
        cluster.advance(by: 60)
        #expect(await cluster.eventually { try await !Self.events(cluster, reason: "JobAlreadyActive").isEmpty })
        try await controller.reconcileBesideTheManager("default/solo")
        #expect(try await Self.jobNames(cluster) == [first])
        try await Self.finish(first, "Complete", cluster)
        cluster.advance(by: 60)
        #expect(await cluster.eventually { try await Self.jobNames(cluster).count == 2 })
        await cluster.stop()
    }

    @Test func replaceDeletesTheRunningJob() async throws {
        let (cluster, _) = try await Self.start()
        _ = try await cluster.client.create(
            Self.cronJobs, Self.cronJob("swap", spec: ["concurrencyPolicy": "Replace"]))
        cluster.advance(by: 60)
        #expect(await cluster.eventually { try await Self.jobNames(cluster).count == 1 })
        let first = try await Self.jobNames(cluster)[0]
        #expect(
            await cluster.eventually {
                await cluster.get("\(Self.cronJobs)/swap")?[path: "status", "active"]?.arrayValue?.count == 1
            })
        cluster.advance(by: 60)
        let replaced = await cluster.eventually {
            let names = try await Self.jobNames(cluster)
            return names.count == 1 && names[0] != first
        }
        #expect(replaced)
        #expect(
            await cluster.eventually {
                try await Self.events(cluster, reason: "SuccessfulDelete") == ["Deleted job \(first)"]
            })
        await cluster.stop()
    }

    @Test func historyLimitsKeepTheNewestFinishedJobs() async throws {
        let (cluster, _) = try await Self.start()
        _ = try await cluster.client.create(
            Self.cronJobs,
            Self.cronJob("kept", spec: ["successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 1]))
        var made: [String] = []
        for _ in 1...3 {
            cluster.advance(by: 60)
            let known = made
            #expect(await cluster.eventually { try await Self.jobNames(cluster).contains { !known.contains($0) } })
            let names = try await Self.jobNames(cluster)
            let newest = try #require(names.filter { !made.contains($0) }.first)
            made.append(newest)
            try await Self.finish(newest, "Complete", cluster)
            // Each later Job starts later: the oldest is the one to go.
            cluster.advance(by: 1)
        }
        let newest = made[2]
        let trimmed = await cluster.eventually { try await Self.jobNames(cluster) == [newest] }
        #expect(trimmed)
        await cluster.stop()
    }

    @Test func suspendStopsNewJobs() async throws {
        let (cluster, controller) = try await Self.start()
        _ = try await cluster.client.create(Self.cronJobs, Self.cronJob("held", spec: ["suspend": true]))
        #expect(await cluster.eventually { controller.cronJobs.get("default/held") != nil })
        cluster.advance(by: 120)
        try await controller.reconcileBesideTheManager("default/held")
        #expect(try await Self.jobNames(cluster).isEmpty)
        _ = try await cluster.client.patch("\(Self.cronJobs)/held", .merge, ["spec": ["suspend": false]])
        #expect(await cluster.eventually { try await Self.jobNames(cluster).count == 1 })
        await cluster.stop()
    }

    @Test func schedulesAndTimeZonesAreValidated() async throws {
        let (cluster, _) = try await Self.start()
        func refusal(_ spec: JSONObject) async -> String? {
            do {
                _ = try await cluster.client.create(Self.cronJobs, Self.cronJob("bad", spec: spec))
                return nil
            } catch {
                return error.code == 422 ? error.message : "status \(error.code)"
            }
        }
        #expect(
            await refusal(["schedule": "61 * * * *"])
                == "CronJob.batch \"bad\" is invalid: spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"
        )
        #expect(
            await refusal(["timeZone": "Europe/Pariss"])
                == "CronJob.batch \"bad\" is invalid: spec.timeZone: Invalid value: \"Europe/Pariss\": unknown time zone Europe/Pariss"
        )
        #expect(
            await refusal(["schedule": "CRON_TZ=UTC * * * * *"])
                == "CronJob.batch \"bad\" is invalid: spec.schedule: Invalid value: \"CRON_TZ=UTC * * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
        )
        #expect(await refusal(["timeZone": "Europe/Paris", "schedule": "0 3 * * *"]) == nil)
        await cluster.stop()
    }
}
