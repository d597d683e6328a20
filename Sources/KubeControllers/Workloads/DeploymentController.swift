import Foundation
import KubeAPI
import KubeServer

/// Rolls Deployments out through ReplicaSets, as kube-controller-manager's deployment controller does: the
/// ReplicaSet of the current template (named `<deployment>-<pod-template-hash>`) is scaled up and the others
/// down, within maxSurge/maxUnavailable (RollingUpdate) or all old first (Recreate); revisions live in
/// `deployment.kubernetes.io/revision` (so `kubectl rollout history|undo` work), old ReplicaSets past
/// `revisionHistoryLimit` go, and status carries the counts and the Available and Progressing conditions
/// (`ProgressDeadlineExceeded` after `progressDeadlineSeconds` without progress). Every write to a ReplicaSet is
/// guarded by its resourceVersion, so a stale cache fails the write instead of acting twice.
final class DeploymentController: Controller {
    let name = "deployment"
    let queue = WorkQueue()
    let workers = 4
    let context: ControllerContext
    let deployments: Informer
    let replicaSets: Informer
    let pods: Informer

    init(context: ControllerContext) {
        self.context = context
        deployments = context.informer(.deployments)
        replicaSets = context.informer(.replicaSets)
        pods = context.informer(.pods)
        replicaSets.indexByController()
        pods.indexByController()
        deployments.onChange { [queue] key in queue.add(key) }
        replicaSets.onEvent { [queue, deployments] event in
            queue.addControllers(of: event, kind: "Deployment", owners: deployments)
        }
        pods.onEvent { [queue, deployments, replicaSets] event in
            // Recreate waits for the old pods to be gone.
            guard event.new == nil, let old = event.old, let owner = old.controllerReference,
                let set = replicaSets.get("\(old.namespace)/\(owner["name"]?.stringValue ?? "")")
            else { return }
            queue.addController(of: set, kind: "Deployment", owners: deployments)
        }
    }

    func allKeys() -> [String] { deployments.objects.map(\.key) }

    func reconcile(_ key: String) async throws {
        guard let deployment = deployments.get(key) else { return }
        var sets = try await OwnedObjects(client: context.client, collection: .replicaSets).claim(
            replicaSets.controlled(by: deployment.uid) + replicaSets.orphans(inNamespace: deployment.namespace),
            owner: deployment, selector: deployment.specSelector)
        if deployment.isDeleting {
            return try await writeStatus(deployment, sets: sets, newSet: nil)
        }
        var rollout = Rollout(controller: self, deployment: deployment, sets: sets)
        try await rollout.run()
        sets = rollout.sets
        try await writeStatus(deployment, sets: sets, newSet: rollout.newSet, created: rollout.createdNewSet)
    }

    // MARK: Status

    private func writeStatus(_ deployment: JSONValue, sets: [JSONValue], newSet: JSONValue?, created: Bool = false)
        async throws
    {
        let now = context.now()
        let nowText = APITime.format(now)
        let wanted = deployment.specReplicas
        var status = deployment["status"]?.objectValue ?? JSONObject()
        let old = JSONValue.object(status)
        let total = sets.reduce(0) { $0 + $1.statusCount("replicas") }
        let available = sets.reduce(0) { $0 + $1.statusCount("availableReplicas") }
        let ready = sets.reduce(0) { $0 + $1.statusCount("readyReplicas") }
        let specTotal = sets.reduce(0) { $0 + $1.specReplicas }
        let updated = newSet?.statusCount("replicas") ?? 0
        status["observedGeneration"] = .int(deployment.generation)
        status["replicas"] = .int(total)
        status["updatedReplicas"] = .int(updated)
        status["readyReplicas"] = .int(ready)
        status["availableReplicas"] = .int(available)
        status["unavailableReplicas"] = .int(max(specTotal - available, 0))
        for field in ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"]
        where status[field] == .int(0) {
            status[field] = nil
        }
        var conditions = status["conditions"]?.arrayValue ?? []
        let (_, maxUnavailable) = DeploymentRevisions.surgeAndUnavailable(deployment)
        if available >= wanted - maxUnavailable {
            Conditions.set(
                &conditions, type: "Available", status: "True", reason: "MinimumReplicasAvailable",
                message: "Deployment has minimum availability.", now: nowText, updateTime: true)
        } else {
            Conditions.set(
                &conditions, type: "Available", status: "False", reason: "MinimumReplicasUnavailable",
                message: "Deployment does not have minimum availability.", now: nowText, updateTime: true)
        }
        let newName = newSet?.name ?? ""
        let progressing = deployment.condition("Progressing")
        let paused = deployment[path: "spec", "paused"]?.boolValue == true
        let complete = updated == wanted && total == wanted && available == wanted
        if paused {
            if progressing?["reason"]?.stringValue != "DeploymentPaused" {
                Conditions.set(
                    &conditions, type: "Progressing", status: "Unknown", reason: "DeploymentPaused",
                    message: "Deployment is paused", now: nowText, updateTime: true)
            }
        } else if progressing?["reason"]?.stringValue == "DeploymentPaused" {
            Conditions.set(
                &conditions, type: "Progressing", status: "Unknown", reason: "DeploymentResumed",
                message: "Deployment is resumed", now: nowText, updateTime: true)
        } else if newSet != nil, complete {
            Conditions.set(
                &conditions, type: "Progressing", status: "True", reason: "NewReplicaSetAvailable",
                message: "ReplicaSet \"\(newName)\" has successfully progressed.", now: nowText, updateTime: true)
        } else if created {
            Conditions.set(
                &conditions, type: "Progressing", status: "True", reason: "NewReplicaSetCreated",
                message: "Created new replica set \"\(newName)\"", now: nowText, updateTime: true)
        } else if newSet != nil, Self.madeProgress(old: old, new: .object(status)) || progressing == nil {
            Conditions.set(
                &conditions, type: "Progressing", status: "True", reason: "ReplicaSetUpdated",
                message: "ReplicaSet \"\(newName)\" is progressing.", now: nowText, updateTime: true)
        } else if newSet != nil, let deadline = deployment[path: "spec", "progressDeadlineSeconds"]?.intValue,
            let since = progressing?["lastUpdateTime"]?.stringValue.flatMap(APITime.parse),
            progressing?["reason"]?.stringValue != "ProgressDeadlineExceeded"
        {
            let due = since.addingTimeInterval(Double(deadline))
            if due <= now {
                Conditions.set(
                    &conditions, type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded",
                    message: "ReplicaSet \"\(newName)\" has timed out progressing.", now: nowText, updateTime: true)
                context.events.record(
                    deployment, type: "Warning", reason: "ProgressDeadlineExceeded",
                    message: "Deployment \"\(deployment.name)\" has timed out progressing.",
                    component: "deployment-controller")
            } else {
                queue.add(deployment.key, at: due, now: now)
            }
        }
        status["conditions"] = .array(conditions)
        guard JSONValue.object(status) != old else { return }
        var updatedDeployment = deployment
        updatedDeployment["status"] = .object(status)
        do {
            _ = try await context.client.update(
                Collection.deployments.path(key: deployment.key, subresource: "status"), updatedDeployment)
        } catch {
            guard error.code == 404 else { throw error }
        }
    }

    /// Upstream's DeploymentProgressing: more updated, ready or available replicas, or fewer old ones.
    static func madeProgress(old: JSONValue, new: JSONValue) -> Bool {
        func count(_ status: JSONValue, _ field: String) -> Int64 { status[field]?.intValue ?? 0 }
        let oldOld = count(old, "replicas") - count(old, "updatedReplicas")
        let newOld = count(new, "replicas") - count(new, "updatedReplicas")
        return count(new, "updatedReplicas") > count(old, "updatedReplicas") || newOld < oldOld
            || count(new, "readyReplicas") > count(old, "readyReplicas")
            || count(new, "availableReplicas") > count(old, "availableReplicas")
    }

    // MARK: Writes to ReplicaSets

    /// Sets a ReplicaSet's replicas (and the desired/max annotations), guarded by its resourceVersion.
    func scale(_ set: JSONValue, to replicas: Int64, deployment: JSONValue) async throws -> JSONValue {
        let (surge, _) = DeploymentRevisions.surgeAndUnavailable(deployment)
        let wanted = deployment.specReplicas
        let annotations: JSONValue = [
            DeploymentRevisions.desiredAnnotation: .string(String(wanted)),
            DeploymentRevisions.maxAnnotation: .string(String(wanted + surge)),
        ]
        let old = set.specReplicas
        if old == replicas, set.annotation(DeploymentRevisions.desiredAnnotation) == String(wanted) { return set }
        let patch: JSONValue = [
            "metadata": [
                "annotations": annotations, "resourceVersion": set[path: "metadata", "resourceVersion"] ?? .null,
            ],
            "spec": ["replicas": .int(replicas)],
        ]
        let scaled = try await context.client.patch(Collection.replicaSets.path(key: set.key), .merge, patch)
        if old != replicas {
            context.events.record(
                deployment, reason: "ScalingReplicaSet",
                message: "Scaled \(replicas > old ? "up" : "down") replica set \(set.name) from \(old) to \(replicas)",
                component: "deployment-controller")
        }
        return scaled
    }

    func activePods(of set: JSONValue) -> [JSONValue] {
        pods.controlled(by: set.uid).filter { pod in
            pod[path: "status", "phase"]?.stringValue != "Succeeded"
                && pod[path: "status", "phase"]?.stringValue != "Failed"
        }
    }
}
