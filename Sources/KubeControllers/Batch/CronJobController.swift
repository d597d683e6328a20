import Foundation
import KubeAPI
import KubeServer

/// Creates a CronJob's Jobs at the times its schedule names, as kube-controller-manager's cronjob controller
/// (v2) does: one Job per due time, named `<cronjob>-<minutes since the epoch>` so a restart never creates it
/// twice; `concurrencyPolicy`, `suspend`, `startingDeadlineSeconds`; `status.active`, `lastScheduleTime`,
/// `lastSuccessfulTime`; finished Jobs beyond the history limits deleted. It queues itself again for the next
/// due time, measured on the controllers' clock.
final class CronJobController: Controller {
    let name = "cronjob"
    let queue = WorkQueue()
    let workers = 2
    let context: ControllerContext
    let cronJobs: Informer
    let jobs: Informer
    static let component = "cronjob-controller"
    static let scheduledTimestampAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp"

    init(context: ControllerContext) {
        self.context = context
        cronJobs = context.informer(.cronJobs)
        jobs = context.informer(.jobs)
        jobs.indexByController()
        cronJobs.onChange { [queue] key in queue.add(key) }
        jobs.onEvent { [queue] event in queue.addControllers(of: event, kind: "CronJob") }
    }

    func allKeys() -> [String] { cronJobs.objects.map(\.key) }

    func reconcile(_ key: String) async throws {
        guard var cronJob = cronJobs.get(key) else { return }
        let children = jobs.controlled(by: cronJob.uid)
        var status = CronJobStatus(cronJob)
        let now = context.now()
        try await observe(children, cronJob: &cronJob, status: &status)
        let requeue = try await schedule(cronJob, status: &status, now: now)
        try await cleanUp(children, cronJob: cronJob, status: &status)
        if status.changed {
            var updated = cronJob
            updated["status"] = status.json
            _ = try await context.client.update(
                Collection.cronJobs.path(key: cronJob.key, subresource: "status"), updated)
        }
        if let requeue { queue.add(key, after: requeue) }
    }

    /// Brings `status` up to date with the Jobs: finished ones leave `active`, vanished ones too, the latest
    /// success is remembered.
    private func observe(_ children: [JSONValue], cronJob: inout JSONValue, status: inout CronJobStatus)
        async throws
    {
        for job in children {
            let finished = JobConditions.isFinished(job)
            if !status.isActive(uid: job.uid), !finished {
                // Created but not recorded, or our cache is older than the Job: the stored CronJob tells.
                let fresh = try await context.client.get(Collection.cronJobs.path(key: cronJob.key))
                if CronJobStatus(fresh).isActive(uid: job.uid) {
                    cronJob = fresh
                    status = CronJobStatus(fresh)
                    continue
                }
                record(
                    cronJob, type: "Warning", reason: "UnexpectedJob",
                    message: "Saw a job that the controller did not create or forgot: \(job.name)")
            } else if status.isActive(uid: job.uid), finished {
                status.removeActive(uid: job.uid)
                let outcome = JobConditions.isTrue(job, "Complete") ? "Complete" : "Failed"
                record(
                    cronJob, reason: "SawCompletedJob", message: "Saw completed job: \(job.name), status: \(outcome)")
            }
            if JobConditions.isTrue(job, "Complete"), let completed = job.time("status", "completionTime") {
                status.noteSuccess(at: completed)
            }
        }
        let known = Set(children.map(\.uid))
        for reference in status.active where !known.contains(reference["uid"]?.stringValue ?? "") {
            // The cache may be behind: only a 404 from the API says the Job is gone.
            let name = reference["name"]?.stringValue ?? ""
            do {
                _ = try await context.client.get(Collection.jobs.path(key: "\(cronJob.namespace)/\(name)"))
            } catch {
                guard error.code == 404 else { throw error }
                record(cronJob, reason: "MissingJob", message: "Active job went missing: \(name)")
                status.removeActive(uid: reference["uid"]?.stringValue ?? "")
            }
        }
    }

    /// Starts the Job due now, if any; answers when to look again.
    private func schedule(_ cronJob: JSONValue, status: inout CronJobStatus, now: Date) async throws -> Duration? {
        if cronJob.isDeleting { return nil }
        let spec = cronJob["spec"] ?? [:]
        let zoneName = spec["timeZone"]?.stringValue
        guard let zone = TimeZones.load(zoneName ?? "") else {
            let name = zoneName ?? ""
            record(
                cronJob, type: "Warning", reason: "UnknownTimeZone",
                message: "invalid timeZone: \(CronSchedule.goQuoted(name)): unknown time zone \(name)")
            return nil
        }
        if spec["suspend"]?.boolValue == true { return nil }
        let text = spec["schedule"]?.stringValue ?? ""
        let parsed: CronSchedule
        do {
            parsed = try CronSchedule(text)
        } catch {
            record(
                cronJob, type: "Warning", reason: "UnparseableSchedule",
                message: "unparseable schedule: \(CronSchedule.goQuoted(text)) : \(error.message)")
            return nil
        }
        let schedule = CronJobSchedule(schedule: parsed, zone: zone)
        var earliest = status.lastScheduleTime ?? cronJob.time("metadata", "creationTimestamp") ?? now
        let lastKnown = earliest
        let startingDeadline = spec["startingDeadlineSeconds"]?.intValue
        if let startingDeadline {
            earliest = max(earliest, now.addingTimeInterval(-Double(startingDeadline)))
        }
        var due: Date?
        var tooMany = false
        if earliest <= now { (due, tooMany) = schedule.mostRecent(after: earliest, upTo: now) }
        if tooMany {
            record(
                cronJob, type: "Warning", reason: "TooManyMissedTimes",
                message:
                    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
        }
        guard let due else { return schedule.delay(toNextAfter: max(lastKnown, earliest), now: now) }
        let later = schedule.delay(toNextAfter: due, now: now)
        if let startingDeadline, due.addingTimeInterval(Double(startingDeadline)) < now {
            record(
                cronJob, type: "Warning", reason: "MissSchedule",
                message: "Missed scheduled time to start a job: \(CronJobSchedule.rfc1123z(due))")
            return later
        }
        let jobName = Self.jobName(cronJob.name, due)
        if status.isActive(name: jobName) || status.lastScheduleTime == due { return later }
        let policy = spec["concurrencyPolicy"]?.stringValue ?? "Allow"
        if policy == "Forbid", !status.active.isEmpty {
            record(
                cronJob, reason: "JobAlreadyActive",
                message: "Not starting job because prior execution is running and concurrency policy is Forbid")
            return later
        }
        if policy == "Replace" {
            for reference in status.active {
                let name = reference["name"]?.stringValue ?? ""
                try await deleteJob(name, cronJob: cronJob)
                status.removeActive(uid: reference["uid"]?.stringValue ?? "")
            }
        }
        guard let job = try await createJob(jobName, cronJob: cronJob, due: due, zone: zone) else { return later }
        status.addActive(job)
        status.lastScheduleTime = due
        return later
    }

    /// Creates the Job of one due time; a Job of that name already there (a restart after the create, before the
    /// status write) is the same Job if this CronJob controls it.
    private func createJob(_ name: String, cronJob: JSONValue, due: Date, zone: TimeZone) async throws -> JSONValue? {
        let template = cronJob[path: "spec", "jobTemplate"] ?? [:]
        var annotations = template[path: "metadata", "annotations"]?.objectValue ?? JSONObject()
        annotations[Self.scheduledTimestampAnnotation] = .string(CronJobSchedule.rfc3339(due, in: zone))
        var metadata: JSONObject = [
            "name": .string(name), "namespace": .string(cronJob.namespace),
            "annotations": .object(annotations),
            "ownerReferences": [
                [
                    "apiVersion": "batch/v1", "kind": "CronJob", "name": .string(cronJob.name),
                    "uid": .string(cronJob.uid), "controller": true, "blockOwnerDeletion": true,
                ]
            ],
        ]
        if let labels = template[path: "metadata", "labels"] { metadata["labels"] = labels }
        let job: JSONValue = [
            "apiVersion": "batch/v1", "kind": "Job", "metadata": .object(metadata), "spec": template["spec"] ?? [:],
        ]
        do {
            let created = try await context.client.create(Collection.jobs.path(namespace: cronJob.namespace), job)
            record(cronJob, reason: "SuccessfulCreate", message: "Created job \(name)")
            return created
        } catch {
            guard error.code == 409, error.reason == "AlreadyExists" else {
                record(
                    cronJob, type: "Warning", reason: "FailedCreate", message: "Error creating job: \(error.message)")
                throw error
            }
        }
        let existing = try await context.client.get(Collection.jobs.path(key: "\(cronJob.namespace)/\(name)"))
        guard existing.controllerReference?["uid"]?.stringValue == cronJob.uid else { return nil }
        return existing
    }

    /// Deletes a Job and, through the garbage collector, its pods.
    private func deleteJob(_ name: String, cronJob: JSONValue) async throws {
        do {
            _ = try await context.client.delete(
                Collection.jobs.path(key: "\(cronJob.namespace)/\(name)"),
                options: ["apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"])
        } catch {
            guard error.code == 404 else {
                record(cronJob, type: "Warning", reason: "FailedDelete", message: "Deleted job: \(error.message)")
                throw error
            }
        }
        record(cronJob, reason: "SuccessfulDelete", message: "Deleted job \(name)")
    }

    /// Keeps the newest `successfulJobsHistoryLimit` complete and `failedJobsHistoryLimit` failed Jobs.
    private func cleanUp(_ children: [JSONValue], cronJob: JSONValue, status: inout CronJobStatus) async throws {
        let spec = cronJob["spec"] ?? [:]
        let groups: [(type: String, limit: Int64?)] = [
            ("Complete", spec["successfulJobsHistoryLimit"]?.intValue),
            ("Failed", spec["failedJobsHistoryLimit"]?.intValue),
        ]
        for (type, limit) in groups {
            guard let limit else { continue }
            let finished = children.filter { !$0.isDeleting && JobConditions.isTrue($0, type) }
            guard finished.count > Int(limit) else { continue }
            for job in Self.byStartTime(finished).prefix(finished.count - Int(limit)) {
                try await deleteJob(job.name, cronJob: cronJob)
                status.removeActive(uid: job.uid)
            }
        }
    }

    /// Oldest start first, Jobs without a start time last, names breaking ties (upstream's `byJobStartTime`).
    static func byStartTime(_ jobs: [JSONValue]) -> [JSONValue] {
        jobs.sorted { left, right in
            let a = left.time("status", "startTime")
            let b = right.time("status", "startTime")
            switch (a, b) {
            case (nil, nil): return left.name < right.name
            case (_, nil): return true
            case (nil, _): return false
            case (let a?, let b?): return a == b ? left.name < right.name : a < b
            }
        }
    }

    /// `getJobName`: the CronJob's name and the due time in minutes since the epoch.
    static func jobName(_ cronJob: String, _ due: Date) -> String {
        "\(cronJob)-\(Int64(due.timeIntervalSince1970.rounded(.down)) / 60)"
    }

    private func record(_ cronJob: JSONValue, type: String = "Normal", reason: String, message: String) {
        var object = cronJob
        object["apiVersion"] = "batch/v1"
        object["kind"] = "CronJob"
        context.events.record(object, type: type, reason: reason, message: message, component: Self.component)
    }
}

/// A CronJob's status as the controller edits it, remembering whether anything changed.
struct CronJobStatus {
    private(set) var active: [JSONValue]
    private var fields: JSONObject
    private(set) var changed = false

    init(_ cronJob: JSONValue) {
        fields = cronJob["status"]?.objectValue ?? JSONObject()
        active = fields["active"]?.arrayValue ?? []
    }

    var lastScheduleTime: Date? {
        get { fields["lastScheduleTime"]?.stringValue.flatMap(APITime.parse) }
        set {
            guard let newValue else { return }
            fields["lastScheduleTime"] = .string(APITime.format(newValue))
            changed = true
        }
    }

    func isActive(uid: String) -> Bool { active.contains { $0["uid"]?.stringValue == uid } }
    func isActive(name: String) -> Bool { active.contains { $0["name"]?.stringValue == name } }

    mutating func removeActive(uid: String) {
        guard isActive(uid: uid) else { return }
        active.removeAll { $0["uid"]?.stringValue == uid }
        changed = true
    }

    /// An object reference to the Job, as `status.active` lists them.
    mutating func addActive(_ job: JSONValue) {
        guard !isActive(uid: job.uid) else { return }
        active.append([
            "apiVersion": "batch/v1", "kind": "Job", "name": .string(job.name), "namespace": .string(job.namespace),
            "resourceVersion": .string(String(job.resourceVersion)), "uid": .string(job.uid),
        ])
        changed = true
    }

    mutating func noteSuccess(at time: Date) {
        if let last = fields["lastSuccessfulTime"]?.stringValue.flatMap(APITime.parse), last >= time { return }
        fields["lastSuccessfulTime"] = .string(APITime.format(time))
        changed = true
    }

    var json: JSONValue {
        var result = fields
        result.removeValue(forKey: "active")
        if !active.isEmpty { result["active"] = .array(active) }
        return .object(result)
    }
}
