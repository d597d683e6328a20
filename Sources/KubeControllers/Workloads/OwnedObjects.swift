import Foundation
import KubeAPI
import KubeServer

/// Adopting and releasing dependents, as client-go's ControllerRefManager does: an owner claims the objects its
/// selector matches that have no controller yet, and lets go of those it controls that no longer match.
struct OwnedObjects {
    let client: KubeClient
    let collection: Collection

    /// The objects of `candidates` that `owner` controls after adopting orphans and releasing non-matches.
    func claim(_ candidates: [JSONValue], owner: JSONValue, selector: LabelSelector) async throws -> [JSONValue] {
        var claimed: [JSONValue] = []
        // Objects made from the owner's template carry exactly its labels, which the API server checked against the
        // selector: comparing the labels is enough for them (and cheaper than the selector, on every reconcile).
        let templateLabels = owner[path: "spec", "template", "metadata", "labels"]
        for object in candidates {
            let controller = object.controllerReference
            let labels = object[path: "metadata", "labels"]
            let matches = (templateLabels != nil && labels == templateLabels) || object.labelsMatch(selector)
            if let controller {
                guard controller["uid"]?.stringValue == owner.uid else { continue }
                if matches || owner.isDeleting {
                    claimed.append(object)
                } else if !object.isDeleting {
                    try await setOwners(object, object.ownerReferences.filter { $0["uid"]?.stringValue != owner.uid })
                }
            } else if matches, !owner.isDeleting, !object.isDeleting {
                // An orphan that matches: adopt it (the write fails if it changed since the cache saw it).
                if let adopted = try await setOwners(object, object.ownerReferences + [owner.ownerReference()]) {
                    claimed.append(adopted)
                }
            }
        }
        return claimed
    }

    /// Replaces the owner references, guarded by the object's uid and resourceVersion.
    @discardableResult
    private func setOwners(_ object: JSONValue, _ owners: [JSONValue]) async throws -> JSONValue? {
        let patch: JSONValue = [
            "metadata": [
                "ownerReferences": owners.isEmpty ? .null : .array(owners),
                "uid": .string(object.uid),
                "resourceVersion": object[path: "metadata", "resourceVersion"] ?? .null,
            ]
        ]
        do {
            return try await client.patch(collection.path(key: object.key), .merge, patch)
        } catch {
            // Gone meanwhile: nothing to claim.
            guard error.code == 404 else { throw error }
            return nil
        }
    }
}

/// Pods made from a template, as controllers create them.
enum PodTemplates {
    /// A pod for `owner` from `template` (`{metadata, spec}`), named `<prefix>` + a random suffix.
    static func pod(
        from template: JSONValue, owner: JSONValue, generateName: String, extraLabels: [String: String] = [:]
    )
        -> JSONValue
    {
        var metadata: JSONObject = ["generateName": .string(generateName)]
        var labels = template[path: "metadata", "labels"]?.objectValue ?? JSONObject()
        for (key, value) in extraLabels { labels[key] = .string(value) }
        if !labels.isEmpty { metadata["labels"] = .object(labels) }
        if let annotations = template[path: "metadata", "annotations"] { metadata["annotations"] = annotations }
        if let finalizers = template[path: "metadata", "finalizers"] { metadata["finalizers"] = finalizers }
        metadata["ownerReferences"] = [owner.ownerReference()]
        return [
            "apiVersion": "v1", "kind": "Pod", "metadata": .object(metadata),
            "spec": template["spec"] ?? [:],
        ]
    }

    /// The order in which surplus pods go (upstream's ActivePodsWithRanks, the parts that matter here): unassigned
    /// before assigned, pending before running, not ready before ready, more restarts first, newest first.
    static func deletionOrder(_ a: JSONValue, _ b: JSONValue) -> Bool {
        let assignedA = !(a[path: "spec", "nodeName"]?.stringValue ?? "").isEmpty
        let assignedB = !(b[path: "spec", "nodeName"]?.stringValue ?? "").isEmpty
        if assignedA != assignedB { return !assignedA }
        let phaseRank: (JSONValue) -> Int = { pod in
            switch pod[path: "status", "phase"]?.stringValue {
            case "Pending": 0
            case "Running": 2
            default: 1
            }
        }
        if phaseRank(a) != phaseRank(b) { return phaseRank(a) < phaseRank(b) }
        let readyA = PodState.isReady(a)
        let readyB = PodState.isReady(b)
        if readyA != readyB { return !readyA }
        let restarts: (JSONValue) -> Int64 = { pod in
            (pod[path: "status", "containerStatuses"]?.arrayValue ?? []).map { $0["restartCount"]?.intValue ?? 0 }
                .max() ?? 0
        }
        if restarts(a) != restarts(b) { return restarts(a) > restarts(b) }
        let createdA = a[path: "metadata", "creationTimestamp"]?.stringValue ?? ""
        let createdB = b[path: "metadata", "creationTimestamp"]?.stringValue ?? ""
        if createdA != createdB { return createdA > createdB }
        return a.name > b.name
    }
}
