import KubeAPI

/// StatefulSets' defaults (`SetDefaults_StatefulSet`) and validation (k8s.io/kubernetes/pkg/apis/apps/validation),
/// with kube-apiserver's field paths and wording.
enum StatefulSetFields {
    static func applyDefaults(_ object: inout JSONValue) {
        if object[path: "spec", "replicas"] == nil { object[path: "spec", "replicas"] = 1 }
        if object[path: "spec", "podManagementPolicy"] == nil {
            object[path: "spec", "podManagementPolicy"] = "OrderedReady"
        }
        if object[path: "spec", "updateStrategy", "type"] == nil {
            object[path: "spec", "updateStrategy", "type"] = "RollingUpdate"
            if object[path: "spec", "updateStrategy", "rollingUpdate"] == nil {
                object[path: "spec", "updateStrategy", "rollingUpdate"] = .object(JSONObject())
            }
        }
        if object[path: "spec", "updateStrategy", "type"] == "RollingUpdate",
            object[path: "spec", "updateStrategy", "rollingUpdate"] != nil,
            object[path: "spec", "updateStrategy", "rollingUpdate", "partition"] == nil
        {
            object[path: "spec", "updateStrategy", "rollingUpdate", "partition"] = 0
        }
        for field in ["whenDeleted", "whenScaled"]
        where object[path: "spec", "persistentVolumeClaimRetentionPolicy", field] == nil {
            object[path: "spec", "persistentVolumeClaimRetentionPolicy", field] = "Retain"
        }
        if object[path: "spec", "revisionHistoryLimit"] == nil { object[path: "spec", "revisionHistoryLimit"] = 10 }
        Defaults.podSpec(&object, at: ["spec", "template", "spec"])
    }

    /// What kelson server answers for `spec.volumeClaimTemplates`. There is no PersistentVolumeClaim kind served
    /// (and no volume provisioner), so a StatefulSet asking for claims could never start its pods: it is refused at
    /// create and update rather than accepted and left stuck.
    static let noVolumeClaims =
        "kelson server has no persistent volumes yet; use emptyDir or hostPath volumes in the pod template"

    /// The spec fields an update may change (the rest are fixed at create).
    static let mutableFields: Set<String> = [
        "replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
        "persistentVolumeClaimRetentionPolicy", "minReadySeconds",
    ]

    /// The StatefulSet-specific checks (selector, replicas and containers are checked with the other workloads).
    static func errors(_ object: JSONValue, old: JSONValue?) -> [FieldError] {
        let spec = FieldPath("spec")
        var errors: [FieldError] = []
        if let claims = object[path: "spec", "volumeClaimTemplates"]?.arrayValue, !claims.isEmpty {
            errors.append(.forbidden(spec.child("volumeClaimTemplates"), noVolumeClaims))
        }
        switch object[path: "spec", "podManagementPolicy"]?.stringValue ?? "" {
        case "OrderedReady", "Parallel": break
        case "": errors.append(.required(spec.child("podManagementPolicy")))
        case let other:
            errors.append(.invalid(spec.child("podManagementPolicy"), other, "must be 'OrderedReady' or 'Parallel'"))
        }
        let strategy = object[path: "spec", "updateStrategy"]
        switch strategy?["type"]?.stringValue ?? "" {
        case "RollingUpdate":
            if let partition = strategy?[path: "rollingUpdate", "partition"]?.intValue, partition < 0 {
                errors.append(
                    .invalid(
                        spec.child("updateStrategy", "rollingUpdate", "partition"), json: .int(partition),
                        "must be greater than or equal to 0"))
            }
        case "OnDelete":
            if let rolling = strategy?["rollingUpdate"], rolling != .null {
                errors.append(
                    .invalid(
                        spec.child("updateStrategy", "rollingUpdate"), json: rolling,
                        "only allowed for updateStrategy 'RollingUpdate'"))
            }
        case "": errors.append(.required(spec.child("updateStrategy")))
        default:
            errors.append(
                .invalid(
                    spec.child("updateStrategy"), json: strategy ?? .null, "must be 'RollingUpdate' or 'OnDelete'"))
        }
        for field in ["minReadySeconds", "revisionHistoryLimit"] {
            if let value = object[path: "spec", field]?.intValue, value < 0 {
                errors.append(.invalid(spec.child(field), json: .int(value), "must be greater than or equal to 0"))
            }
        }
        if let selector = object[path: "spec", "selector"] {
            let matchLabels = selector["matchLabels"]?.objectValue ?? JSONObject()
            let expressions = selector["matchExpressions"]?.arrayValue ?? []
            // (A selector that does not match the template is refused for every workload in ObjectValidation.)
            if matchLabels.isEmpty, expressions.isEmpty {
                errors.append(
                    .invalid(spec.child("selector"), json: selector, "empty selector is not valid for statefulset."))
            }
        }
        let restartPolicy = object[path: "spec", "template", "spec", "restartPolicy"]?.stringValue ?? ""
        if restartPolicy != "Always" {
            errors.append(
                .notSupported(
                    spec.child("template", "spec", "restartPolicy"), .string(restartPolicy), supported: ["Always"]))
        }
        if let deadline = object[path: "spec", "template", "spec", "activeDeadlineSeconds"], deadline != .null {
            errors.append(
                .invalid(
                    spec.child("template", "spec", "activeDeadlineSeconds"), json: deadline, "must not be specified"))
        }
        if let old, fixedFields(object) != fixedFields(old) {
            errors.append(
                .forbidden(
                    spec,
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                        + "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
                        + "'minReadySeconds' are forbidden"))
        }
        return errors
    }

    private static func stringMap(_ value: JSONValue?) -> [String: String] {
        var map: [String: String] = [:]
        for (key, item) in value?.objectValue ?? JSONObject() { map[key] = item.stringValue ?? "" }
        return map
    }

    /// The spec without what an update may change (nor `volumeClaimTemplates`, refused on its own above).
    /// (Defaulted first, as kube-apiserver reads stored objects with defaults: one stored before a default existed
    /// is not taken as changed.)
    private static func fixedFields(_ object: JSONValue) -> JSONObject {
        var object = object
        applyDefaults(&object)
        var spec = object["spec"]?.objectValue ?? JSONObject()
        for field in mutableFields.union(["volumeClaimTemplates"]) { spec.removeValue(forKey: field) }
        return spec
    }
}
