import Foundation
import KubeAPI
import KubeServer

/// Reading the parts of objects every controller needs.
extension JSONValue {
    var name: String { self[path: "metadata", "name"]?.stringValue ?? "" }
    var namespace: String { self[path: "metadata", "namespace"]?.stringValue ?? "" }
    var uid: String { self[path: "metadata", "uid"]?.stringValue ?? "" }
    var key: String { Informer.key(of: self) }
    var isDeleting: Bool { self[path: "metadata", "deletionTimestamp"] != nil }
    var generation: Int64 { self[path: "metadata", "generation"]?.intValue ?? 0 }
    var resourceVersion: Int64 { Int64(self[path: "metadata", "resourceVersion"]?.stringValue ?? "") ?? 0 }

    var labels: [String: String] {
        var labels: [String: String] = [:]
        for (key, value) in self[path: "metadata", "labels"]?.objectValue ?? [:] {
            labels[key] = value.stringValue ?? ""
        }
        return labels
    }

    /// Whether the labels match `selector`, reading only the labels it names (cheaper than `labels` when a
    /// controller checks many objects).
    func labelsMatch(_ selector: LabelSelector) -> Bool {
        if selector.matchesNothing { return false }
        let all = self[path: "metadata", "labels"]?.objectValue
        var named: [String: String] = [:]
        for requirement in selector.requirements {
            if let value = all?[requirement.key]?.stringValue { named[requirement.key] = value }
        }
        return selector.matches(named)
    }

    /// Whether every label in `wanted` is on the object with the same value.
    func hasLabels(_ wanted: JSONObject) -> Bool {
        let all = self[path: "metadata", "labels"]?.objectValue
        return wanted.allSatisfy { all?[$0.key] == $0.value }
    }

    func annotation(_ name: String) -> String? { self[path: "metadata", "annotations", name]?.stringValue }

    var finalizers: [String] { (self[path: "metadata", "finalizers"]?.arrayValue ?? []).compactMap(\.stringValue) }

    var ownerReferences: [JSONValue] { self[path: "metadata", "ownerReferences"]?.arrayValue ?? [] }

    /// The owner reference with `controller: true`, if any.
    var controllerReference: JSONValue? { ownerReferences.first { $0["controller"]?.boolValue == true } }

    /// `spec.selector` as a selector (absent or invalid: nothing).
    var specSelector: LabelSelector {
        (try? LabelSelector(structured: self[path: "spec", "selector"])) ?? .nothing
    }

    /// An owner reference to this object, as controllers set them on what they create.
    func ownerReference(controller: Bool = true) -> JSONValue {
        [
            "apiVersion": self["apiVersion"] ?? "", "kind": self["kind"] ?? "", "name": .string(name),
            "uid": .string(uid), "controller": .bool(controller), "blockOwnerDeletion": true,
        ]
    }

    func time(_ path: String...) -> Date? {
        guard let text = value(at: path[...])?.stringValue else { return nil }
        return APITime.parse(text)
    }

    /// The status condition of `type`, if present.
    func condition(_ type: String, at path: [String] = ["status", "conditions"]) -> JSONValue? {
        value(at: path[...])?.arrayValue?.first { $0["type"]?.stringValue == type }
    }
}

/// Pods as controllers count them.
enum PodState {
    static func isActive(_ pod: JSONValue) -> Bool {
        let phase = pod[path: "status", "phase"]?.stringValue
        return phase != "Succeeded" && phase != "Failed" && !pod.isDeleting
    }

    static func isReady(_ pod: JSONValue) -> Bool {
        pod.condition("Ready")?["status"]?.stringValue == "True"
    }

    /// Ready for at least `minReadySeconds` (the Ready condition's transition time tells since when).
    static func isAvailable(_ pod: JSONValue, minReadySeconds: Int64, now: Date) -> Bool {
        guard isReady(pod), !pod.isDeleting else { return false }
        if minReadySeconds == 0 { return true }
        guard let since = pod.condition("Ready")?["lastTransitionTime"]?.stringValue.flatMap(APITime.parse) else {
            return false
        }
        return since.addingTimeInterval(Double(minReadySeconds)) <= now
    }

    /// When a pod that is ready but not yet available will be (for a later look).
    static func availableAt(_ pod: JSONValue, minReadySeconds: Int64) -> Date? {
        guard isReady(pod), minReadySeconds > 0,
            let since = pod.condition("Ready")?["lastTransitionTime"]?.stringValue.flatMap(APITime.parse)
        else { return nil }
        return since.addingTimeInterval(Double(minReadySeconds))
    }
}

/// A status condition as controllers write them: `lastTransitionTime` moves only when `status` does.
enum Conditions {
    static func set(
        _ conditions: inout [JSONValue], type: String, status: String, reason: String, message: String, now: String,
        updateTime: Bool = false
    ) {
        var condition: JSONObject = [
            "type": .string(type), "status": .string(status), "reason": .string(reason), "message": .string(message),
        ]
        if let index = conditions.firstIndex(where: { $0["type"]?.stringValue == type }) {
            let old = conditions[index]
            let transitioned = old["status"]?.stringValue != status
            condition["lastTransitionTime"] = transitioned ? .string(now) : (old["lastTransitionTime"] ?? .string(now))
            if updateTime || old["lastUpdateTime"] != nil {
                let same =
                    !transitioned && old["reason"]?.stringValue == reason && old["message"]?.stringValue == message
                condition["lastUpdateTime"] = same ? (old["lastUpdateTime"] ?? .string(now)) : .string(now)
            }
            conditions[index] = .object(condition)
        } else {
            if updateTime { condition["lastUpdateTime"] = .string(now) }
            condition["lastTransitionTime"] = .string(now)
            conditions.append(.object(condition))
        }
    }
}

/// The index every workload controller reads its dependents through: objects by the uid of their controller, and
/// objects without one under `orphan/<namespace>` (candidates for adoption), so a reconcile looks at its own pods
/// instead of its whole namespace.
extension Informer {
    static let controllerIndex = "controller"

    func indexByController() {
        addIndex(Self.controllerIndex) { object in
            guard let uid = object.controllerReference?["uid"]?.stringValue else {
                return ["orphan/" + object.namespace]
            }
            return [uid]
        }
    }

    /// The cached objects whose controller has `uid` (needs `indexByController()` first).
    func controlled(by uid: String) -> [JSONValue] { objects(in: Self.controllerIndex, value: uid) }

    /// The cached objects of `namespace` without a controller (needs `indexByController()` first).
    func orphans(inNamespace namespace: String) -> [JSONValue] {
        objects(in: Self.controllerIndex, value: "orphan/" + namespace)
    }
}
