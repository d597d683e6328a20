import Foundation
import KubeAPI

/// `pods/{name}/binding` (how a scheduler places a pod) and `pods/{name}/eviction` (how `kubectl drain` removes
/// one), with kube-apiserver's rules and answers: a binding sets `spec.nodeName` once, with the `PodScheduled`
/// condition; an eviction deletes the pod with the eviction's delete options (there are no disruption budgets to
/// check). Both answer `201` with a Success status.
struct PodSubresources: Sendable {
    let registry: ObjectRegistry
    let now: @Sendable () -> Date

    static func created() -> JSONValue {
        ["kind": "Status", "apiVersion": "v1", "metadata": .object(JSONObject()), "status": "Success", "code": 201]
    }

    func bind(_ binding: JSONValue, target: RequestTarget, name: String) async throws(KubeError) -> JSONValue {
        guard let node = binding[path: "target", "name"]?.stringValue, !node.isEmpty else {
            throw .invalid(
                kind: "Binding", group: "", name: name,
                causes: [("target.name", "FieldValueRequired", "Required value")],
                summary: "target.name: Required value")
        }
        if let kind = binding[path: "target", "kind"]?.stringValue, !kind.isEmpty, kind != "Node" {
            throw .badRequest("target.kind: Unsupported value: \"\(kind)\": supported values: \"Node\"")
        }
        let time = APITime.format(now())
        let annotations = binding[path: "metadata", "annotations"]?.objectValue ?? JSONObject()
        _ = try await registry.update(
            target, name: name, subresource: "binding", options: ObjectRegistry.WriteOptions()
        ) { current throws(KubeError) in
            guard var pod = current else { throw .notFound("pods", group: "", name: name) }
            if pod[path: "metadata", "deletionTimestamp"] != nil {
                throw .conflict(
                    "pods", group: "", name: name,
                    detail: "pod \(name) is being deleted, cannot be assigned to a host")
            }
            if let assigned = pod[path: "spec", "nodeName"]?.stringValue, !assigned.isEmpty {
                throw .conflict(
                    "pods", group: "", name: name, detail: "pod \(name) is already assigned to node \"\(assigned)\"")
            }
            pod[path: "spec", "nodeName"] = .string(node)
            for (key, value) in annotations { pod[path: "metadata", "annotations", key] = value }
            // The status changes through the binding, not the status endpoint: set it in place.
            var conditions = pod[path: "status", "conditions"]?.arrayValue ?? []
            conditions.removeAll { $0["type"]?.stringValue == "PodScheduled" }
            conditions.append([
                "type": "PodScheduled", "status": "True", "lastProbeTime": nil, "lastTransitionTime": .string(time),
            ])
            pod[path: "status", "conditions"] = .array(conditions)
            return pod
        }
        return Self.created()
    }

    func evict(_ eviction: JSONValue, target: RequestTarget, name: String) async throws(KubeError) -> JSONValue {
        var options = ObjectRegistry.DeleteOptions()
        let deleteOptions = eviction["deleteOptions"]
        options.gracePeriodSeconds = deleteOptions?["gracePeriodSeconds"]?.intValue
        options.preconditionUID = deleteOptions?[path: "preconditions", "uid"]?.stringValue
        options.preconditionResourceVersion = deleteOptions?[path: "preconditions", "resourceVersion"]?.stringValue
        options.propagationPolicy = deleteOptions?["propagationPolicy"]?.stringValue
        _ = try await registry.delete(target, name: name, options: options)
        return Self.created()
    }
}
