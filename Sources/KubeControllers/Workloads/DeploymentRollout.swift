import Foundation
import KubeAPI
import KubeServer

/// One pass of a Deployment's rollout over its ReplicaSets (upstream's sync.go, rolling.go, recreate.go).
struct Rollout {
    let controller: DeploymentController
    let deployment: JSONValue
    var sets: [JSONValue]
    var newSet: JSONValue?
    var createdNewSet = false

    init(controller: DeploymentController, deployment: JSONValue, sets: [JSONValue]) {
        self.controller = controller
        self.deployment = deployment
        self.sets = sets
        let template = deployment[path: "spec", "template"]
        let hash = DeploymentRevisions.templateHash(
            template ?? [:], collisionCount: deployment[path: "status", "collisionCount"]?.intValue)
        newSet =
            sets.first { $0.labels[DeploymentRevisions.hashLabel] == hash }
            ?? sets.first { DeploymentRevisions.sameTemplate($0[path: "spec", "template"], template) }
    }

    var oldSets: [JSONValue] { sets.filter { $0.uid != newSet?.uid } }
    var replicas: Int64 { deployment.specReplicas }

    mutating func run() async throws {
        if deployment[path: "spec", "paused"]?.boolValue == true {
            // Paused: only scaling, no rollout.
            if let newSet, oldSets.allSatisfy({ $0.specReplicas == 0 }) {
                replace(try await controller.scale(newSet, to: replicas, deployment: deployment))
            }
            return
        }
        if deployment[path: "spec", "strategy", "type"]?.stringValue == "Recreate" {
            try await recreate()
        } else {
            try await rollingUpdate()
        }
    }

    // MARK: RollingUpdate

    private mutating func rollingUpdate() async throws {
        try await ensureNewSet(initialReplicas: newSetReplicas(current: 0))
        guard let current = newSet else { return }
        // Scale the new ReplicaSet up (or down to the wanted count).
        if current.specReplicas != replicas {
            let target = current.specReplicas > replicas ? replicas : newSetReplicas(current: current.specReplicas)
            if target != current.specReplicas {
                replace(try await controller.scale(current, to: target, deployment: deployment))
                return
            }
        }
        try await scaleDownOld()
        try await syncRevision()
        if isComplete { try await cleanUp() }
    }

    /// Upstream's NewRSNewReplicas for RollingUpdate: as many as maxSurge allows, up to `replicas`.
    private func newSetReplicas(current: Int64) -> Int64 {
        let (surge, _) = DeploymentRevisions.surgeAndUnavailable(deployment)
        let podCount = sets.reduce(0) { $0 + $1.specReplicas }
        let maxTotal = replicas + surge
        if podCount >= maxTotal { return current }
        return current + min(maxTotal - podCount, max(replicas - current, 0))
    }

    /// Old ReplicaSets go down as far as maxUnavailable allows: unhealthy replicas first, then available ones.
    private mutating func scaleDownOld() async throws {
        let olds = oldSets.filter { $0.specReplicas > 0 }.sorted(by: Self.olderFirst)
        guard !olds.isEmpty, let current = newSet else { return }
        let (_, maxUnavailable) = DeploymentRevisions.surgeAndUnavailable(deployment)
        let minAvailable = replicas - maxUnavailable
        let allPods = sets.reduce(0) { $0 + $1.specReplicas }
        let newUnavailable = current.specReplicas - current.statusCount("availableReplicas")
        var budget = allPods - minAvailable - newUnavailable
        guard budget > 0 else { return }
        // Replicas that are not available anyway go first (they cost no availability).
        for set in olds where budget > 0 {
            let unhealthy = set.specReplicas - set.statusCount("availableReplicas")
            guard unhealthy > 0 else { continue }
            let down = min(unhealthy, budget)
            replace(try await controller.scale(set, to: set.specReplicas - down, deployment: deployment))
            budget -= down
        }
        let available = sets.reduce(0) { $0 + $1.statusCount("availableReplicas") }
        var surplus = min(available - minAvailable, budget)
        for set in oldSets.filter({ $0.specReplicas > 0 }).sorted(by: Self.olderFirst) where surplus > 0 {
            let down = min(set.specReplicas, surplus)
            replace(try await controller.scale(set, to: set.specReplicas - down, deployment: deployment))
            surplus -= down
        }
    }

    // MARK: Recreate

    private mutating func recreate() async throws {
        for set in oldSets where set.specReplicas > 0 {
            replace(try await controller.scale(set, to: 0, deployment: deployment))
        }
        // The new pods start only once every old pod is gone.
        if oldSets.contains(where: { $0.statusCount("replicas") > 0 || !controller.activePods(of: $0).isEmpty }) {
            return
        }
        try await ensureNewSet(initialReplicas: replicas)
        if let current = newSet, current.specReplicas != replicas {
            replace(try await controller.scale(current, to: replicas, deployment: deployment))
        }
        try await syncRevision()
        if isComplete { try await cleanUp() }
    }

    // MARK: The new ReplicaSet and revisions

    private var nextRevision: Int64 { (oldSets.map(DeploymentRevisions.revision).max() ?? 0) + 1 }

    /// Creates the ReplicaSet of the current template if there is none. Its name is deterministic, so a second
    /// controller (or a restart) that tries again meets AlreadyExists instead of making another.
    private mutating func ensureNewSet(initialReplicas: Int64) async throws {
        guard newSet == nil else { return }
        let collisions = deployment[path: "status", "collisionCount"]?.intValue
        var template = deployment[path: "spec", "template"] ?? [:]
        let hash = DeploymentRevisions.templateHash(template, collisionCount: collisions)
        template[path: "metadata", "labels", DeploymentRevisions.hashLabel] = .string(hash)
        var selector = deployment[path: "spec", "selector"] ?? [:]
        selector[path: "matchLabels", DeploymentRevisions.hashLabel] = .string(hash)
        let (surge, _) = DeploymentRevisions.surgeAndUnavailable(deployment)
        var annotations: JSONObject = [
            DeploymentRevisions.revisionAnnotation: .string(String(nextRevision)),
            DeploymentRevisions.desiredAnnotation: .string(String(replicas)),
            DeploymentRevisions.maxAnnotation: .string(String(replicas + surge)),
        ]
        if let cause = deployment.annotation(DeploymentRevisions.changeCauseAnnotation) {
            annotations[DeploymentRevisions.changeCauseAnnotation] = .string(cause)
        }
        let name = "\(deployment.name)-\(hash)"
        let body: JSONValue = [
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": [
                "name": .string(name), "labels": template[path: "metadata", "labels"] ?? [:],
                "annotations": .object(annotations), "ownerReferences": [deployment.ownerReference()],
            ],
            "spec": [
                "replicas": .int(initialReplicas), "minReadySeconds": deployment[path: "spec", "minReadySeconds"] ?? 0,
                "selector": selector, "template": template,
            ],
        ]
        let client = controller.context.client
        do {
            let created = try await client.create(Collection.replicaSets.path(namespace: deployment.namespace), body)
            sets.append(created)
            newSet = created
            createdNewSet = true
            if initialReplicas > 0 {
                controller.context.events.record(
                    deployment, reason: "ScalingReplicaSet",
                    message: "Scaled up replica set \(name) from 0 to \(initialReplicas)",
                    component: "deployment-controller")
            }
        } catch {
            guard error.code == 409 else { throw error }
            // Already there: ours (the cache is behind), or a hash collision with someone else's.
            let existing = try await client.get(Collection.replicaSets.path(key: "\(deployment.namespace)/\(name)"))
            if existing.controllerReference?["uid"]?.stringValue == deployment.uid,
                DeploymentRevisions.sameTemplate(existing[path: "spec", "template"], template)
            {
                throw ReconcileError(message: "replica set \(name) is not in the cache yet")
            }
            var bumped = deployment
            bumped[path: "status", "collisionCount"] = .int((collisions ?? 0) + 1)
            _ = try await client.update(
                Collection.deployments.path(key: deployment.key, subresource: "status"), bumped)
            throw ReconcileError(message: "hash collision for replica set \(name)")
        }
    }

    /// The new ReplicaSet carries the highest revision (a rollback makes an old one new again), and the
    /// Deployment's own annotation follows it, as `kubectl rollout history` reads them.
    private mutating func syncRevision() async throws {
        guard let current = newSet else { return }
        let client = controller.context.client
        let highest = oldSets.map(DeploymentRevisions.revision).max() ?? 0
        var revision = DeploymentRevisions.revision(of: current)
        if revision <= highest {
            revision = highest + 1
            var annotations: JSONObject = [DeploymentRevisions.revisionAnnotation: .string(String(revision))]
            if let cause = deployment.annotation(DeploymentRevisions.changeCauseAnnotation) {
                annotations[DeploymentRevisions.changeCauseAnnotation] = .string(cause)
            }
            let patch: JSONValue = [
                "metadata": [
                    "annotations": .object(annotations),
                    "resourceVersion": current[path: "metadata", "resourceVersion"] ?? .null,
                ]
            ]
            replace(try await client.patch(Collection.replicaSets.path(key: current.key), .merge, patch))
        }
        if deployment.annotation(DeploymentRevisions.revisionAnnotation) != String(revision) {
            let patch: JSONValue = [
                "metadata": [
                    "annotations": [DeploymentRevisions.revisionAnnotation: .string(String(revision))],
                    "resourceVersion": deployment[path: "metadata", "resourceVersion"] ?? .null,
                ]
            ]
            _ = try await client.patch(Collection.deployments.path(key: deployment.key), .merge, patch)
        }
    }

    private var isComplete: Bool {
        guard let current = newSet else { return false }
        return current.specReplicas == replicas && current.statusCount("availableReplicas") == replicas
            && oldSets.allSatisfy { $0.specReplicas == 0 && $0.statusCount("replicas") == 0 }
    }

    /// Old, empty ReplicaSets beyond `revisionHistoryLimit` go, oldest revision first.
    private mutating func cleanUp() async throws {
        let limit = deployment[path: "spec", "revisionHistoryLimit"]?.intValue ?? 10
        let empty = oldSets.filter { $0.specReplicas == 0 && $0.statusCount("replicas") == 0 && !$0.isDeleting }
            .sorted { DeploymentRevisions.revision(of: $0) < DeploymentRevisions.revision(of: $1) }
        guard empty.count > Int(limit) else { return }
        for set in empty.prefix(empty.count - Int(limit)) {
            do {
                _ = try await controller.context.client.delete(
                    Collection.replicaSets.path(key: set.key), options: ["preconditions": ["uid": .string(set.uid)]])
            } catch {
                guard error.code == 404 || error.code == 409 else { throw error }
            }
        }
    }

    private mutating func replace(_ set: JSONValue) {
        if let index = sets.firstIndex(where: { $0.uid == set.uid }) { sets[index] = set } else { sets.append(set) }
        if newSet?.uid == set.uid { newSet = set }
    }

    static func olderFirst(_ a: JSONValue, _ b: JSONValue) -> Bool {
        let createdA = a[path: "metadata", "creationTimestamp"]?.stringValue ?? ""
        let createdB = b[path: "metadata", "creationTimestamp"]?.stringValue ?? ""
        return createdA != createdB ? createdA < createdB : a.name < b.name
    }
}
