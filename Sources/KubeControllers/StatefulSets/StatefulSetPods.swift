import Foundation
import KubeAPI
import KubeServer

/// A StatefulSet's pods' identity (upstream's stateful_set_utils.go): each has a fixed name `<set>-<ordinal>`, the
/// labels naming it and its index, `hostname` = its name and `subdomain` = the governing Service, so that it keeps
/// its DNS name when it is replaced.
enum StatefulSetPods {
    static let revisionLabel = "controller-revision-hash"
    static let podNameLabel = "statefulset.kubernetes.io/pod-name"
    static let podIndexLabel = "apps.kubernetes.io/pod-index"

    /// `web-3` → ("web", 3), as upstream's `(.*)-([0-9]+)$`; other names have no ordinal.
    static func parentAndOrdinal(_ name: String) -> (parent: String, ordinal: Int)? {
        guard let dash = name.lastIndex(of: "-") else { return nil }
        let digits = name[name.index(after: dash)...]
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }), let ordinal = Int32(digits) else {
            return nil
        }
        return (String(name[..<dash]), Int(ordinal))
    }

    static func ordinal(_ pod: JSONValue) -> Int? { parentAndOrdinal(pod.name)?.ordinal }

    /// Whether `pod` is named as one of `set`'s (upstream's `isMemberOf`).
    static func isMember(_ pod: JSONValue, of set: JSONValue) -> Bool {
        parentAndOrdinal(pod.name)?.parent == set.name
    }

    /// `spec.ordinals.start` (0 unless set).
    static func startOrdinal(_ set: JSONValue) -> Int { Int(set[path: "spec", "ordinals", "start"]?.intValue ?? 0) }

    static func name(_ set: JSONValue, ordinal: Int) -> String { "\(set.name)-\(ordinal)" }

    static func revision(_ pod: JSONValue) -> String { pod.labels[revisionLabel] ?? "" }

    /// The pod of `ordinal` made from `template` (the template of the revision named `revision`).
    static func pod(for set: JSONValue, template: JSONValue, revision: String, ordinal: Int) -> JSONValue {
        let name = name(set, ordinal: ordinal)
        var pod = PodTemplates.pod(
            from: template, owner: set, generateName: "",
            extraLabels: [podNameLabel: name, podIndexLabel: String(ordinal), revisionLabel: revision])
        pod[path: "metadata", "generateName"] = nil
        pod[path: "metadata", "name"] = .string(name)
        pod[path: "spec", "hostname"] = .string(name)
        if let service = set[path: "spec", "serviceName"]?.stringValue, !service.isEmpty {
            pod[path: "spec", "subdomain"] = .string(service)
        }
        return pod
    }

    /// The identity labels `pod` lacks (nil when it has them all), for upstream's `updateIdentity`.
    static func missingIdentity(_ pod: JSONValue) -> JSONValue? {
        guard let ordinal = ordinal(pod) else { return nil }
        let labels = pod.labels
        var missing = JSONObject()
        if labels[podNameLabel] != pod.name { missing[podNameLabel] = .string(pod.name) }
        if labels[podIndexLabel] != String(ordinal) { missing[podIndexLabel] = .string(String(ordinal)) }
        guard !missing.isEmpty else { return nil }
        return .object(missing)
    }

    // The states the controller tells apart (upstream's isCreated, isRunningAndReady, …).

    static func phase(_ pod: JSONValue) -> String { pod[path: "status", "phase"]?.stringValue ?? "" }

    static func hasFinished(_ pod: JSONValue) -> Bool { phase(pod) == "Failed" || phase(pod) == "Succeeded" }

    static func isRunningAndReady(_ pod: JSONValue) -> Bool { phase(pod) == "Running" && PodState.isReady(pod) }

    static func isRunningAndAvailable(_ pod: JSONValue, minReadySeconds: Int64, now: Date) -> Bool {
        isRunningAndReady(pod) && PodState.isAvailable(pod, minReadySeconds: minReadySeconds, now: now)
    }

    static func isUnavailable(_ pod: JSONValue?, minReadySeconds: Int64, now: Date) -> Bool {
        guard let pod else { return true }
        return pod.isDeleting || !isRunningAndAvailable(pod, minReadySeconds: minReadySeconds, now: now)
    }
}
