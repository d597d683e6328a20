import Foundation
import KubeAPI
import KubeServer

/// The facts about a Job and its pods that the Job controller decides from.
struct JobState {
    let job: JSONValue
    let active: [JSONValue]
    /// Pods being deleted that have not finished (a graceful stop in progress).
    let terminating: [JSONValue]
    let succeededPods: [JSONValue]
    let failedPods: [JSONValue]

    init(job: JSONValue, pods: [JSONValue]) {
        self.job = job
        active = pods.filter(PodState.isActive)
        terminating = pods.filter { $0.isDeleting && !Self.finished($0) }
        succeededPods = pods.filter { $0[path: "status", "phase"]?.stringValue == "Succeeded" }
        failedPods = pods.filter { $0[path: "status", "phase"]?.stringValue == "Failed" }
    }

    static func finished(_ pod: JSONValue) -> Bool {
        let phase = pod[path: "status", "phase"]?.stringValue
        return phase == "Succeeded" || phase == "Failed"
    }

    var spec: JSONValue { job["spec"] ?? [:] }
    var completions: Int64? { spec["completions"]?.intValue }
    var parallelism: Int64 { max(0, spec["parallelism"]?.intValue ?? 1) }
    var backoffLimit: Int64 { spec["backoffLimit"]?.intValue ?? 6 }
    var suspended: Bool { spec["suspend"]?.boolValue == true }

    /// Counts never go down: pods that finished and were deleted since (by a person, the pod garbage collector)
    /// stay counted through the stored status. (Upstream keeps a finalizer on each pod to count exactly; Kelson
    /// counts what it sees, so a pod deleted before the controller saw it finish is not counted.)
    var succeeded: Int64 {
        max(job[path: "status", "succeeded"]?.intValue ?? 0, Int64(succeededPods.count))
    }
    var failed: Int64 { max(job[path: "status", "failed"]?.intValue ?? 0, Int64(failedPods.count)) }

    var ready: Int64 { Int64(active.filter(PodState.isReady).count) }

    /// `pastBackoffLimitOnFailure`: with `restartPolicy: OnFailure` a failing container restarts in place, so
    /// its restarts count against the backoff limit.
    var pastBackoffLimitOnFailure: Bool {
        guard spec[path: "template", "spec", "restartPolicy"]?.stringValue == "OnFailure" else { return false }
        var restarts: Int64 = 0
        for pod in active {
            let phase = pod[path: "status", "phase"]?.stringValue
            guard phase == "Running" || phase == "Pending" else { continue }
            for list in ["initContainerStatuses", "containerStatuses"] {
                for status in pod[path: "status", list]?.arrayValue ?? [] {
                    restarts += status["restartCount"]?.intValue ?? 0
                }
            }
        }
        return backoffLimit == 0 ? restarts > 0 : restarts >= backoffLimit
    }

    /// How many pods should run now (`manageJob`'s `wantActive`).
    var wantActive: Int64 {
        guard let completions else {
            // No fixed count: once one pod succeeded, leave what runs running and start no more.
            return succeeded > 0 ? Int64(active.count) : parallelism
        }
        return max(0, min(completions - succeeded, parallelism))
    }

    /// Done when enough pods succeeded (or, without `completions`, one did) and none still runs.
    var complete: Bool {
        guard active.isEmpty else { return false }
        if let completions { return succeeded >= completions }
        return succeeded > 0
    }

    /// When the replacement of a failed pod may start: 10 s after the last failure, doubling with each failure
    /// since the last success, up to 6 minutes (the Job controller's pod backoff).
    var nextCreateAllowed: Date? {
        let lastSuccess = succeededPods.map(Self.finishTime).max() ?? .distantPast
        let failures = failedPods.map(Self.finishTime).filter { $0 > lastSuccess }
        guard let last = failures.max() else { return nil }
        let delay = min(10 * pow(2, Double(failures.count - 1)), 360)
        return last.addingTimeInterval(delay)
    }

    /// When a pod finished: its containers' latest end, else when it stopped being ready, else when its
    /// deletion began, else its creation (upstream's `getFinishedTime`).
    static func finishTime(_ pod: JSONValue) -> Date {
        var latest: Date?
        for list in ["initContainerStatuses", "containerStatuses"] {
            for status in pod[path: "status", list]?.arrayValue ?? [] {
                if let text = status[path: "state", "terminated", "finishedAt"]?.stringValue,
                    let time = APITime.parse(text)
                {
                    latest = max(latest ?? time, time)
                }
            }
        }
        if let latest { return latest }
        if let ready = pod.condition("Ready"), ready["status"]?.stringValue == "False",
            let time = ready["lastTransitionTime"]?.stringValue.flatMap(APITime.parse)
        {
            return time
        }
        return pod.time("metadata", "deletionTimestamp") ?? pod.time("metadata", "creationTimestamp") ?? .distantPast
    }
}

/// Job conditions as the Job controller writes them.
enum JobConditions {
    static func isTrue(_ job: JSONValue, _ type: String) -> Bool {
        job.condition(type)?["status"]?.stringValue == "True"
    }

    /// Complete or Failed: the Job will run no more pods.
    static func isFinished(_ job: JSONValue) -> Bool { isTrue(job, "Complete") || isTrue(job, "Failed") }

    /// When the Job finished (its Complete or Failed condition's transition).
    static func finishTime(_ job: JSONValue) -> Date? {
        for type in ["Complete", "Failed"] where isTrue(job, type) {
            if let time = job.condition(type)?["lastTransitionTime"]?.stringValue.flatMap(APITime.parse) {
                return time
            }
        }
        return nil
    }

    /// Sets a condition with `lastProbeTime`, as Job conditions carry one.
    static func set(
        _ conditions: inout [JSONValue], type: String, status: String, reason: String, message: String, now: String
    ) {
        let before = conditions.first { $0["type"]?.stringValue == type }
        Conditions.set(&conditions, type: type, status: status, reason: reason, message: message, now: now)
        guard let index = conditions.firstIndex(where: { $0["type"]?.stringValue == type }) else { return }
        let changed =
            before?["status"]?.stringValue != status || before?["reason"]?.stringValue != reason
            || before?["message"]?.stringValue != message
        conditions[index]["lastProbeTime"] = changed ? .string(now) : (before?["lastProbeTime"] ?? .string(now))
    }
}
