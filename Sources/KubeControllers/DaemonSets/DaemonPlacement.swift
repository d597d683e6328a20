import Foundation
import KubeAPI
import KubeServer

/// Which nodes a DaemonSet's pods belong on, and how its pods are pinned there (upstream's daemon `util` and
/// `NodeShouldRunDaemonPod`): a node is eligible when the template's `nodeName` (if any), nodeSelector and required
/// node affinity match it and the pod, with the tolerations every daemon pod gets, tolerates its NoSchedule and
/// NoExecute taints. Pods go through the scheduler, pinned by a `matchFields metadata.name In [node]` term.
enum DaemonPlacement {
    static let hashLabel = "controller-revision-hash"
    static let generationLabel = "pod-template-generation"
    static let generationAnnotation = "deprecated.daemonset.template.generation"

    /// The tolerations the controller adds to every daemon pod, so node problems neither keep it off a node nor
    /// evict it (`AddOrUpdateDaemonPodTolerations`); the network one only for host-network pods.
    static func daemonTolerations(hostNetwork: Bool) -> [JSONValue] {
        var tolerations: [JSONValue] = [
            toleration(Taint.notReady, "NoExecute"), toleration(Taint.unreachable, "NoExecute"),
            toleration("node.kubernetes.io/disk-pressure", "NoSchedule"),
            toleration("node.kubernetes.io/memory-pressure", "NoSchedule"),
            toleration("node.kubernetes.io/pid-pressure", "NoSchedule"),
            toleration(Taint.unschedulable, "NoSchedule"),
        ]
        if hostNetwork { tolerations.append(toleration("node.kubernetes.io/network-unavailable", "NoSchedule")) }
        return tolerations
    }

    private static func toleration(_ key: String, _ effect: String) -> JSONValue {
        ["key": .string(key), "operator": "Exists", "effect": .string(effect)]
    }

    /// The template's pod spec with the daemon tolerations added where the template lacks the same one.
    static func withDaemonTolerations(_ spec: JSONValue) -> JSONValue {
        var spec = spec
        var tolerations = spec["tolerations"]?.arrayValue ?? []
        for toleration in daemonTolerations(hostNetwork: spec["hostNetwork"]?.boolValue == true) {
            let same: (JSONValue) -> Bool = { existing in
                existing["key"] == toleration["key"] && existing["effect"] == toleration["effect"]
                    && (existing["operator"]?.stringValue ?? "Equal") == "Exists"
                    && (existing["value"]?.stringValue ?? "").isEmpty
            }
            if let index = tolerations.firstIndex(where: same) {
                tolerations[index] = toleration
            } else {
                tolerations.append(toleration)
            }
        }
        spec["tolerations"] = .array(tolerations)
        return spec
    }

    /// Whether the DaemonSet should have a pod on `node` (`shouldRun`), and whether a pod already there may stay
    /// (`shouldContinue`: an untolerated NoSchedule taint keeps new pods off but does not evict).
    static func shouldRun(_ set: JSONValue, on node: JSONValue) -> (shouldRun: Bool, shouldContinue: Bool) {
        let spec = withDaemonTolerations(set[path: "spec", "template", "spec"] ?? [:])
        if let pinned = spec["nodeName"]?.stringValue, !pinned.isEmpty, pinned != node.name { return (false, false) }
        let affinity = NodeAffinity(pod: ["spec": spec])
        if !affinity.matches(name: node.name, labels: node.labels) { return (false, false) }
        let tolerations = (spec["tolerations"]?.arrayValue ?? []).map(Toleration.init)
        let untolerated = Taint.of(node: node).filter {
            ($0.effect == "NoSchedule" || $0.effect == "NoExecute") && !tolerations.tolerate($0)
        }
        if untolerated.isEmpty { return (true, true) }
        return (false, !untolerated.contains { $0.effect == "NoExecute" })
    }

    /// The node a daemon pod is on, or is pinned to before it is bound (`GetTargetNodeName`).
    static func targetNode(of pod: JSONValue) -> String? {
        if let name = pod[path: "spec", "nodeName"]?.stringValue, !name.isEmpty { return name }
        let terms =
            pod[
                path: "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                "nodeSelectorTerms"]?.arrayValue ?? []
        for term in terms {
            for field in term["matchFields"]?.arrayValue ?? []
            where field["key"]?.stringValue == "metadata.name" && field["operator"]?.stringValue == "In" {
                let values = field["values"]?.arrayValue ?? []
                return values.count == 1 ? values[0].stringValue : nil
            }
        }
        return nil
    }

    /// The pod spec pinned to `node`: its required node affinity becomes the single term naming the node
    /// (`ReplaceDaemonSetPodNodeNameNodeAffinity`; the node already passed the template's own terms).
    static func pinned(_ spec: JSONValue, to node: String) -> JSONValue {
        var spec = spec
        let terms: JSONValue = [
            ["matchFields": [["key": "metadata.name", "operator": "In", "values": [.string(node)]]]]
        ]
        spec[path: "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"] =
            terms
        return spec
    }

    /// The DaemonSet's template generation (the annotation the API server keeps), if it has one.
    static func templateGeneration(of set: JSONValue) -> Int64? {
        set.annotation(generationAnnotation).flatMap { Int64($0) }
    }

    /// Whether a pod was made from the current template: its revision hash, or (older pods) its template
    /// generation, matches (`IsPodUpdated`).
    static func isUpdated(_ pod: JSONValue, hash: String, generation: Int64?) -> Bool {
        let labels = pod.labels
        if !hash.isEmpty, labels[hashLabel] == hash { return true }
        if let generation, labels[generationLabel] == String(generation) { return true }
        return false
    }

    /// Bound pods first, then oldest first (`podByCreationTimestampAndPhase`): the one a node keeps.
    static func oldestFirst(_ a: JSONValue, _ b: JSONValue) -> Bool {
        let boundA = !(a[path: "spec", "nodeName"]?.stringValue ?? "").isEmpty
        let boundB = !(b[path: "spec", "nodeName"]?.stringValue ?? "").isEmpty
        if boundA != boundB { return boundA }
        let createdA = a.time("metadata", "creationTimestamp") ?? .distantPast
        let createdB = b.time("metadata", "creationTimestamp") ?? .distantPast
        if createdA != createdB { return createdA < createdB }
        return a.name < b.name
    }
}
