import Foundation
import KubeAPI
import KubeServer

/// Runs a Job's pods to completion, as kube-controller-manager's job controller does: up to `parallelism` pods at
/// once until `completions` succeeded, a replacement for each failed pod (after a growing delay) until
/// `backoffLimit` failures, the `activeDeadlineSeconds` limit, `suspend`, the `Complete`/`Failed` conditions and
/// status counts; and, as the TTL-after-finished controller does, deletes a finished Job once
/// `ttlSecondsAfterFinished` has passed.
final class JobController: Controller {
    let name = "job"
    let queue = WorkQueue()
    let workers = 2
    let context: ControllerContext
    let jobs: Informer
    let pods: Informer
    let expectations = Expectations()
    static let component = "job-controller"

    init(context: ControllerContext) {
        self.context = context
        jobs = context.informer(.jobs)
        pods = context.informer(.pods)
        pods.indexByController()
        jobs.onChange { [queue] key in queue.add(key) }
        pods.onEvent { [queue] event in queue.addControllers(of: event, kind: "Job") }
    }

    func allKeys() -> [String] { jobs.objects.map(\.key) }

    func reconcile(_ key: String) async throws {
        guard let job = jobs.get(key) else {
            expectations.forget(key)
            return
        }
        if job.isDeleting { return }
        if JobConditions.isFinished(job) {
            try await expireIfDue(job)
            return
        }
        // A pod this controller created may not be in the cache yet: counting without it would create it twice.
        guard expectations.satisfied(key, cache: pods, present: { _ in false }) else {
            queue.add(key, after: .milliseconds(100))
            return
        }
        let owned = pods.controlled(by: job.uid)
        try await sync(JobState(job: job, pods: owned))
    }

    private func sync(_ state: JobState) async throws {
        let job = state.job
        let now = context.now()
        let nowText = APITime.format(now)
        var status = job["status"]?.objectValue ?? JSONObject()
        var conditions = job[path: "status", "conditions"]?.arrayValue ?? []
        var startTime = job.time("status", "startTime")
        if startTime == nil, !state.suspended { startTime = now }

        // Failure first: once decided (FailureTarget), it stands.
        var failure: (reason: String, message: String)?
        if let target = job.condition("FailureTarget"), target["status"]?.stringValue == "True" {
            failure = (target["reason"]?.stringValue ?? "", target["message"]?.stringValue ?? "")
        } else if state.failed > state.backoffLimit || state.pastBackoffLimitOnFailure {
            failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        } else if !state.suspended, let deadline = job[path: "spec", "activeDeadlineSeconds"]?.intValue,
            let startTime, now >= startTime.addingTimeInterval(Double(deadline))
        {
            failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
        }

        var active = state.active
        var terminating = state.terminating.count
        var completionTime: Date?
        if let failure {
            // Stop what runs, then mark the Job Failed once nothing is left stopping.
            terminating += try await deletePods(active, of: job)
            active = []
            JobConditions.set(
                &conditions, type: "FailureTarget", status: "True", reason: failure.reason, message: failure.message,
                now: nowText)
            if terminating == 0 {
                JobConditions.set(
                    &conditions, type: "Failed", status: "True", reason: failure.reason, message: failure.message,
                    now: nowText)
                context.events.record(
                    Self.reference(job), type: "Warning", reason: failure.reason, message: failure.message,
                    component: Self.component)
            } else {
                queue.add(job.key, after: .seconds(1))
            }
        } else if state.complete {
            let reason = "CompletionsReached"
            let message = "Reached expected number of succeeded pods"
            JobConditions.set(
                &conditions, type: "SuccessCriteriaMet", status: "True", reason: reason, message: message,
                now: nowText)
            JobConditions.set(
                &conditions, type: "Complete", status: "True", reason: reason, message: message, now: nowText)
            completionTime = now
            context.events.record(
                Self.reference(job), reason: "Completed", message: "Job completed", component: Self.component)
        } else if state.suspended {
            terminating += try await deletePods(active, of: job)
            active = []
            if !JobConditions.isTrue(job, "Suspended") {
                JobConditions.set(
                    &conditions, type: "Suspended", status: "True", reason: "JobSuspended", message: "Job suspended",
                    now: nowText)
                context.events.record(
                    Self.reference(job), reason: "Suspended", message: "Job suspended", component: Self.component)
            }
            // A suspended Job has no start time: `activeDeadlineSeconds` counts time active without a pause.
            if terminating == 0 { startTime = nil }
        } else {
            if JobConditions.isTrue(job, "Suspended") {
                JobConditions.set(
                    &conditions, type: "Suspended", status: "False", reason: "JobResumed", message: "Job resumed",
                    now: nowText)
                context.events.record(
                    Self.reference(job), reason: "Resumed", message: "Job resumed", component: Self.component)
                startTime = now
            }
            active = try await manage(state, active: active, now: now)
            if let deadline = job[path: "spec", "activeDeadlineSeconds"]?.intValue, let startTime {
                let remaining = startTime.addingTimeInterval(Double(deadline)).timeIntervalSince(now)
                queue.add(job.key, after: .milliseconds(Int64(max(remaining, 0) * 1000) + 100))
            }
        }

        let finished =
            completionTime != nil
            || conditions.contains {
                $0["type"]?.stringValue == "Failed" && $0["status"]?.stringValue == "True"
            }
        // Zero counts are left out, as upstream's `omitempty` integers are; `ready` and `terminating` stay.
        status.removeValue(forKey: "startTime")
        for key in ["conditions", "active", "succeeded", "failed"] { status.removeValue(forKey: key) }
        if !conditions.isEmpty { status["conditions"] = .array(conditions) }
        if let startTime { status["startTime"] = .string(APITime.format(startTime)) }
        if let completionTime { status["completionTime"] = .string(APITime.format(completionTime)) }
        if !active.isEmpty { status["active"] = .int(Int64(active.count)) }
        if state.succeeded > 0 { status["succeeded"] = .int(state.succeeded) }
        if state.failed > 0 { status["failed"] = .int(state.failed) }
        status["ready"] = .int(finished ? 0 : Int64(active.filter(PodState.isReady).count))
        status["terminating"] = .int(Int64(terminating))
        status["uncountedTerminatedPods"] = .object(JSONObject())
        let newStatus = JSONValue.object(status)
        guard newStatus != job["status"] else { return }
        var updated = job
        updated["status"] = newStatus
        _ = try await context.client.update(Collection.jobs.path(key: job.key, subresource: "status"), updated)
        if finished { queue.add(job.key) }
    }

    /// Creates or deletes pods so `wantActive` run; answers the pods that run afterwards.
    private func manage(_ state: JobState, active: [JSONValue], now: Date) async throws -> [JSONValue] {
        let job = state.job
        let want = state.wantActive
        var active = active
        if Int64(active.count) > want {
            // Too many (parallelism lowered): stop the youngest first, as they did the least work.
            let sorted = active.sorted {
                ($0.time("metadata", "creationTimestamp") ?? .distantPast)
                    > ($1.time("metadata", "creationTimestamp") ?? .distantPast)
            }
            let excess = Array(sorted.prefix(active.count - Int(want)))
            _ = try await deletePods(excess, of: job)
            let gone = Set(excess.map(\.name))
            active.removeAll { gone.contains($0.name) }
            return active
        }
        guard Int64(active.count) < want else { return active }
        if let allowed = state.nextCreateAllowed, allowed > now {
            // Back off after failures before starting replacements.
            let wait = allowed.timeIntervalSince(now)
            queue.add(job.key, after: .milliseconds(Int64(wait * 1000) + 100))
            return active
        }
        for _ in 0..<(Int(want) - active.count) {
            let pod = try await createPod(for: job)
            active.append(pod)
        }
        return active
    }

    private func createPod(for job: JSONValue) async throws -> JSONValue {
        let template = job[path: "spec", "template"] ?? [:]
        var metadata: JSONObject = [
            "generateName": .string("\(job.name)-"),
            "ownerReferences": [Self.ownerReference(job)],
        ]
        if let labels = template[path: "metadata", "labels"] { metadata["labels"] = labels }
        if let annotations = template[path: "metadata", "annotations"] { metadata["annotations"] = annotations }
        if let finalizers = template[path: "metadata", "finalizers"] { metadata["finalizers"] = finalizers }
        let pod: JSONValue = [
            "apiVersion": "v1", "kind": "Pod", "metadata": .object(metadata), "spec": template["spec"] ?? [:],
        ]
        let created: JSONValue
        do {
            created = try await context.client.create(Collection.pods.path(namespace: job.namespace), pod)
        } catch {
            context.events.record(
                Self.reference(job), type: "Warning", reason: "FailedCreate",
                message: "Error creating: \(error.message)", component: Self.component)
            throw error
        }
        expectations.expectCreated(job.key, revision: created.resourceVersion)
        context.events.record(
            Self.reference(job), reason: "SuccessfulCreate", message: "Created pod: \(created.name)",
            component: Self.component)
        return created
    }

    /// Deletes `victims`; answers how many linger (a graceful stop on their node).
    private func deletePods(_ victims: [JSONValue], of job: JSONValue) async throws -> Int {
        var lingering = 0
        for pod in victims {
            do {
                let answer = try await context.client.delete(Collection.pods.path(key: pod.key))
                if answer["kind"]?.stringValue == "Pod" {
                    lingering += 1
                    expectations.expectCreated(job.key, revision: answer.resourceVersion)
                }
            } catch {
                guard error.code == 404 else {
                    context.events.record(
                        Self.reference(job), type: "Warning", reason: "FailedDelete",
                        message: "Error deleting: \(error.message)", component: Self.component)
                    throw error
                }
                continue
            }
            context.events.record(
                Self.reference(job), reason: "SuccessfulDelete", message: "Deleted pod: \(pod.name)",
                component: Self.component)
        }
        return lingering
    }

    /// `ttlSecondsAfterFinished`: deletes the finished Job once its time is up (its pods go with it through the
    /// garbage collector), or looks again then.
    private func expireIfDue(_ job: JSONValue) async throws {
        guard let ttl = job[path: "spec", "ttlSecondsAfterFinished"]?.intValue,
            let finished = JobConditions.finishTime(job)
        else { return }
        let expiry = finished.addingTimeInterval(Double(ttl))
        let now = context.now()
        guard now >= expiry else {
            queue.add(job.key, at: expiry, now: now, slack: .milliseconds(100))
            return
        }
        let options: JSONValue = [
            "apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background",
            "preconditions": ["uid": .string(job.uid)],
        ]
        do {
            _ = try await context.client.delete(Collection.jobs.path(key: job.key), options: options)
        } catch {
            guard error.code == 404 || error.code == 409 else { throw error }
        }
    }

    static func ownerReference(_ job: JSONValue) -> JSONValue {
        [
            "apiVersion": "batch/v1", "kind": "Job", "name": .string(job.name), "uid": .string(job.uid),
            "controller": true, "blockOwnerDeletion": true,
        ]
    }

    /// The Job with its kind, as events name what they are about.
    static func reference(_ job: JSONValue) -> JSONValue {
        var object = job
        object["apiVersion"] = "batch/v1"
        object["kind"] = "Job"
        return object
    }
}
