import Foundation
import KubeAPI

/// What differs between kinds when objects are created, updated and selected: kube-apiserver's per-kind
/// `RESTCreateStrategy`/`RESTUpdateStrategy` and field-selector functions, for the kinds Kelson serves.
enum Strategy {
    /// On create: what the server owns in a new object (status reset, phase, finalizers) and its defaults.
    static func prepareForCreate(_ object: inout JSONValue, resource: ResourceType, now: String) {
        if resource.hasStatus { object["status"] = nil }
        switch (resource.group, resource.kind) {
        case ("apiextensions.k8s.io", "CustomResourceDefinition"):
            CustomResourceTypes.prepareStatus(&object, now: now)
        case ("", "Namespace"):
            object[path: "status", "phase"] = "Active"
            if object[path: "spec", "finalizers"] == nil { object[path: "spec", "finalizers"] = ["kubernetes"] }
        case ("", "Pod"):
            object[path: "status", "phase"] = "Pending"
            object[path: "status", "qosClass"] = .string(qosClass(of: object["spec"]))
            Defaults.podSpec(&object, at: ["spec"])
            DefaultTolerationSeconds.admit(&object)
            ServiceAccountAdmission.admit(&object)
        case ("apps", "Deployment"):
            Defaults.deployment(&object)
        case ("apps", "StatefulSet"):
            StatefulSetFields.applyDefaults(&object)
        case ("apps", "ReplicaSet"):
            if object[path: "spec", "replicas"] == nil { object[path: "spec", "replicas"] = 1 }
            Defaults.podSpec(&object, at: ["spec", "template", "spec"])
        case ("apps", "DaemonSet"):
            Defaults.daemonSet(&object)
            Defaults.daemonSetTemplateGeneration(&object, old: nil)
        case ("batch", "Job"):
            // The uid is assigned before this runs (ObjectRegistry.create), so the selector can be generated.
            Defaults.job(&object)
        case ("batch", "CronJob"):
            Defaults.cronJob(&object)
        case ("", "Service"):
            Defaults.service(&object)
        case ("", "Secret"):
            if object["type"] == nil { object["type"] = "Opaque" }
            foldStringData(&object)
        default:
            break
        }
        if resource.tracksGeneration { object[path: "metadata", "generation"] = 1 }
    }

    /// On update of the main resource: what a client may not change through it. With a status subresource the
    /// status stays as stored (it changes only through `/status`).
    static func prepareForUpdate(_ object: inout JSONValue, old: JSONValue, resource: ResourceType, now: String) {
        if resource.hasStatus { object["status"] = old["status"] }
        switch (resource.group, resource.kind) {
        case ("apiextensions.k8s.io", "CustomResourceDefinition"):
            CustomResourceTypes.prepareStatus(&object, now: now)
        case ("", "Pod"):
            Defaults.podSpec(&object, at: ["spec"])
        case ("apps", "Deployment"):
            Defaults.deployment(&object)
        case ("apps", "DaemonSet"):
            Defaults.daemonSet(&object)
            Defaults.daemonSetTemplateGeneration(&object, old: old)
        case ("apps", "StatefulSet"):
            StatefulSetFields.applyDefaults(&object)
        case ("batch", "CronJob"):
            Defaults.cronJob(&object)
        case ("", "Service"):
            Defaults.service(&object)
        case ("", "Namespace"):
            object["spec"] = old["spec"]
        case ("", "Secret"):
            foldStringData(&object)
        default:
            break
        }
    }

    /// A Secret's `stringData` is write-only: each entry is base64-encoded into `data` (winning over an entry of
    /// the same key there) and `stringData` itself is never stored, as kube-apiserver's conversion does.
    static func foldStringData(_ object: inout JSONValue) {
        guard let strings = object["stringData"]?.objectValue else { return }
        var data = object["data"]?.objectValue ?? JSONObject()
        for (key, value) in strings {
            data[key] = .string(Data((value.stringValue ?? "").utf8).base64EncodedString())
        }
        object["data"] = .object(data)
        object["stringData"] = nil
    }

    /// On update through `/status`: only the status (and metadata's labels and annotations) may change.
    static func prepareForStatusUpdate(_ object: inout JSONValue, old: JSONValue) {
        var result = old
        result["status"] = object["status"]
        result[path: "metadata", "labels"] = object[path: "metadata", "labels"]
        result[path: "metadata", "annotations"] = object[path: "metadata", "annotations"]
        result[path: "metadata", "resourceVersion"] = object[path: "metadata", "resourceVersion"]
        object = result
    }

    /// Everything but metadata and status: what moves `metadata.generation` when it changes.
    static func specChanged(_ new: JSONValue, _ old: JSONValue) -> Bool {
        guard case .object(let newFields) = new, case .object(let oldFields) = old else { return new != old }
        let ignored: Set<String> = ["metadata", "status", "apiVersion", "kind"]
        let newSpec = newFields.entries.filter { !ignored.contains($0.key) }
        let oldSpec = oldFields.entries.filter { !ignored.contains($0.key) }
        return JSONObject(newSpec) != JSONObject(oldSpec)
    }

    /// The pod's QoS class from its containers' requests and limits (kubelet's `GetPodQOS`, simplified: equal
    /// requests and limits for cpu and memory everywhere is Guaranteed, none is BestEffort).
    static func qosClass(of spec: JSONValue?) -> String {
        let containers = (spec?["containers"]?.arrayValue ?? []) + (spec?["initContainers"]?.arrayValue ?? [])
        var any = false
        var guaranteed = !containers.isEmpty
        for container in containers {
            let requests = container[path: "resources", "requests"]?.objectValue ?? JSONObject()
            let limits = container[path: "resources", "limits"]?.objectValue ?? JSONObject()
            if !requests.isEmpty || !limits.isEmpty { any = true }
            for resourceName in ["cpu", "memory"] {
                guard let limit = limits[resourceName] else {
                    guaranteed = false
                    continue
                }
                if let request = requests[resourceName], request != limit { guaranteed = false }
            }
        }
        if !any { return "BestEffort" }
        return guaranteed ? "Guaranteed" : "Burstable"
    }

    /// The field values a field selector may test, per kind (kube-apiserver's `GetAttrs`/field label conversion);
    /// `metadata.name` and `metadata.namespace` for every kind.
    static func selectableFields(of object: JSONValue, resource: ResourceType) -> [String: String] {
        var fields: [String: String] = [
            "metadata.name": object[path: "metadata", "name"]?.stringValue ?? "",
            "metadata.namespace": object[path: "metadata", "namespace"]?.stringValue ?? "",
        ]
        func add(_ name: String, _ path: String...) {
            switch object.value(at: path[...]) {
            case .string(let value)?: fields[name] = value
            case .bool(let value)?: fields[name] = value ? "true" : "false"
            case .int(let value)?: fields[name] = String(value)
            default: fields[name] = ""
            }
        }
        switch (resource.group, resource.kind) {
        case ("", "Pod"):
            add("spec.nodeName", "spec", "nodeName")
            add("spec.restartPolicy", "spec", "restartPolicy")
            add("spec.schedulerName", "spec", "schedulerName")
            add("spec.serviceAccountName", "spec", "serviceAccountName")
            add("spec.hostNetwork", "spec", "hostNetwork")
            if fields["spec.hostNetwork"] == "" { fields["spec.hostNetwork"] = "false" }
            add("status.phase", "status", "phase")
            add("status.podIP", "status", "podIP")
            add("status.nominatedNodeName", "status", "nominatedNodeName")
        case ("", "Event"), ("events.k8s.io", "Event"):
            for field in ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"] {
                add("involvedObject.\(field)", "involvedObject", field)
                if resource.group == "events.k8s.io" { add("regarding.\(field)", "regarding", field) }
            }
            add("reason", "reason")
            add("reportingComponent", "reportingComponent")
            add("source", "source", "component")
            add("type", "type")
        case ("", "Secret"):
            add("type", "type")
        case ("", "Node"):
            add("spec.unschedulable", "spec", "unschedulable")
            if fields["spec.unschedulable"] == "" { fields["spec.unschedulable"] = "false" }
        case ("", "Namespace"):
            add("status.phase", "status", "phase")
        case ("apps", "ReplicaSet"):
            add("status.replicas", "status", "replicas")
        case ("batch", "Job"):
            add("status.successful", "status", "succeeded")
        case ("", "Service"):
            add("spec.clusterIP", "spec", "clusterIP")
            add("spec.type", "spec", "type")
        default:
            break
        }
        return fields
    }
}
