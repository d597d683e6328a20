import Foundation
import KubeAPI
import KubeServer

/// A DaemonSet's ControllerRevisions, as upstream's daemon controller keeps them (`constructHistory`, `snapshot`,
/// `cleanupHistory`): one per template, named `<ds>-<hash>`, holding the patch that puts the template back
/// (`{"spec":{"template":{…,"$patch":"replace"}}}`, what `kubectl rollout undo` applies), with a `revision` number
/// that grows each time a template becomes current again. Its `controller-revision-hash` label is what daemon
/// pods carry.
struct DaemonSetHistory {
    let client: KubeClient
    let revisions: Informer

    /// The patch a revision of `set`'s current template stores (`getPatch`).
    static func patch(of set: JSONValue) -> JSONValue {
        var template = set[path: "spec", "template"]?.objectValue ?? JSONObject()
        template["$patch"] = "replace"
        return ["spec": ["template": .object(template)]]
    }

    static func revisionNumber(_ revision: JSONValue) -> Int64 { revision["revision"]?.intValue ?? 0 }

    /// The current revision (made or renumbered as needed) and the others, oldest first.
    func construct(_ set: JSONValue) async throws -> (current: JSONValue, old: [JSONValue]) {
        let owned = try await OwnedObjects(client: client, collection: .controllerRevisions).claim(
            revisions.objects(inNamespace: set.namespace), owner: set, selector: set.specSelector)
        let patch = Self.patch(of: set)
        var matching: [JSONValue] = []
        var old: [JSONValue] = []
        for revision in owned where !revision.isDeleting {
            if revision["data"] == patch { matching.append(revision) } else { old.append(revision) }
        }
        old.sort { Self.revisionNumber($0) < Self.revisionNumber($1) }
        let next = (old.map(Self.revisionNumber).max() ?? 0) + 1
        guard !matching.isEmpty else { return (try await snapshot(set, revision: next), old) }
        // Duplicates of the current template (a lost race): keep the newest, drop the rest.
        matching.sort { Self.revisionNumber($0) > Self.revisionNumber($1) }
        var current = matching[0]
        for duplicate in matching.dropFirst() {
            do {
                _ = try await client.delete(Collection.controllerRevisions.path(key: duplicate.key))
            } catch {
                guard error.code == 404 else { throw error }
            }
        }
        if Self.revisionNumber(current) < next {
            current["revision"] = .int(next)
            current = try await client.update(Collection.controllerRevisions.path(key: current.key), current)
        }
        return (current, old)
    }

    /// Stores the revision of the current template. A revision of that name with other data is a hash collision:
    /// `status.collisionCount` goes up so the next try hashes differently.
    private func snapshot(_ set: JSONValue, revision: Int64) async throws -> JSONValue {
        let collisionCount = set[path: "status", "collisionCount"]?.intValue
        let hash = DeploymentRevisions.templateHash(
            set[path: "spec", "template"] ?? [:], collisionCount: collisionCount)
        var labels = set[path: "spec", "template", "metadata", "labels"]?.objectValue ?? JSONObject()
        labels[DaemonPlacement.hashLabel] = .string(hash)
        var metadata: JSONObject = [
            "name": .string(Self.name(set.name, hash)), "namespace": .string(set.namespace),
            "labels": .object(labels), "ownerReferences": [set.ownerReference()],
        ]
        if let annotations = set[path: "metadata", "annotations"] { metadata["annotations"] = annotations }
        let object: JSONValue = [
            "apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": .object(metadata),
            "data": Self.patch(of: set), "revision": .int(revision),
        ]
        do {
            return try await client.create(Collection.controllerRevisions.path(namespace: set.namespace), object)
        } catch {
            guard error.code == 409 else { throw error }
        }
        let existing = try await client.get(
            Collection.controllerRevisions.path(key: "\(set.namespace)/\(Self.name(set.name, hash))"))
        if existing["data"] == Self.patch(of: set), existing.controllerReference?["uid"]?.stringValue == set.uid {
            return existing
        }
        let fresh = try await client.get(Collection.daemonSets.path(key: set.key))
        if fresh[path: "status", "collisionCount"]?.intValue == collisionCount {
            var bumped = fresh
            bumped[path: "status", "collisionCount"] = .int((collisionCount ?? 0) + 1)
            _ = try await client.update(Collection.daemonSets.path(key: set.key, subresource: "status"), bumped)
        }
        throw ReconcileError(message: "hash collision on ControllerRevision \(Self.name(set.name, hash))")
    }

    /// `<ds>-<hash>`, the prefix cut so the name stays a valid object name (`ControllerRevisionName`).
    static func name(_ prefix: String, _ hash: String) -> String {
        String(prefix.prefix(223)) + "-" + hash
    }

    /// Deletes the oldest revisions past `revisionHistoryLimit`, but never one a live pod still carries.
    func cleanUp(_ set: JSONValue, old: [JSONValue], pods: [JSONValue]) async throws {
        let limit = Int(set[path: "spec", "revisionHistoryLimit"]?.intValue ?? 10)
        var surplus = old.count - limit
        guard surplus > 0 else { return }
        let live = Set(pods.compactMap { $0.labels[DaemonPlacement.hashLabel] })
        for revision in old where surplus > 0 {
            if let hash = revision.labels[DaemonPlacement.hashLabel], live.contains(hash) { continue }
            do {
                _ = try await client.delete(Collection.controllerRevisions.path(key: revision.key))
            } catch {
                guard error.code == 404 else { throw error }
            }
            surplus -= 1
        }
    }
}
