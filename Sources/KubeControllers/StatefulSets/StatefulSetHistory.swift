import Foundation
import KubeAPI
import KubeServer

/// A StatefulSet's ControllerRevisions (upstream's controller history): one per distinct pod template, named
/// `<set>-<hash>`, whose `data` is the patch that gives a set that template back, and whose `revision` orders them.
/// Pods carry the name of the revision they were made from in their `controller-revision-hash` label.
enum StatefulSetHistory {
    /// `{"spec": {"template": {…, "$patch": "replace"}}}`, as upstream's `getPatch` stores it.
    static func data(of set: JSONValue) -> JSONValue {
        var template = set[path: "spec", "template"]?.objectValue ?? JSONObject()
        template["$patch"] = "replace"
        return ["spec": ["template": .object(template)]]
    }

    /// The pod template a revision holds (upstream's `ApplyRevision`, for the only field it replaces).
    static func template(of revision: JSONValue) -> JSONValue {
        var template = revision[path: "data", "spec", "template"]?.objectValue ?? JSONObject()
        template.removeValue(forKey: "$patch")
        return .object(template)
    }

    /// The revision's hash: of its data and the set's collision count (upstream's `HashControllerRevision`).
    static func hash(_ data: JSONValue, collisionCount: Int64) -> String {
        DeploymentRevisions.templateHash(data, collisionCount: collisionCount)
    }

    /// `<set>-<hash>`, the set's name cut to 223 characters so the whole stays a valid name.
    static func name(of set: JSONValue, hash: String) -> String { String(set.name.prefix(223)) + "-" + hash }

    /// A new revision object for `set` at `number`, named by `collisionCount`.
    static func revision(for set: JSONValue, number: Int64, collisionCount: Int64) -> JSONValue {
        let data = data(of: set)
        let hash = hash(data, collisionCount: collisionCount)
        var labels = set[path: "spec", "template", "metadata", "labels"]?.objectValue ?? JSONObject()
        labels[StatefulSetPods.revisionLabel] = .string(hash)
        var metadata: JSONObject = [
            "name": .string(name(of: set, hash: hash)), "namespace": .string(set.namespace),
            "labels": .object(labels), "ownerReferences": [set.ownerReference()],
        ]
        if let annotations = set[path: "metadata", "annotations"] { metadata["annotations"] = annotations }
        return [
            "apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": .object(metadata), "data": data,
            "revision": .int(number),
        ]
    }

    static func number(_ revision: JSONValue) -> Int64 { revision["revision"]?.intValue ?? 0 }

    /// Oldest first: by revision number, then creation time, then name (upstream's `SortControllerRevisions`).
    static func sorted(_ revisions: [JSONValue]) -> [JSONValue] {
        revisions.sorted { a, b in
            if number(a) != number(b) { return number(a) < number(b) }
            let createdA = a[path: "metadata", "creationTimestamp"]?.stringValue ?? ""
            let createdB = b[path: "metadata", "creationTimestamp"]?.stringValue ?? ""
            if createdA != createdB { return createdA < createdB }
            return a.name < b.name
        }
    }

    static func next(_ revisions: [JSONValue]) -> Int64 { (revisions.map(number).max() ?? 0) + 1 }

    /// The revisions that may go (oldest first): those neither current, updating, nor worn by a pod, beyond `limit`.
    static func surplus(_ revisions: [JSONValue], live: Set<String>, limit: Int64) -> [JSONValue] {
        let history = sorted(revisions).filter { !live.contains($0.name) }
        guard limit >= 0, history.count > limit else { return [] }
        return Array(history.prefix(history.count - Int(limit)))
    }
}
