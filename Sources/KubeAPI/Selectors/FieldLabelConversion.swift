// Which field selector labels a kind accepts, and the words it refuses others with. kube-apiserver runs every
// term of `?fieldSelector=` through the kind's conversion function (runtime.Scheme.ConvertFieldLabel) and answers
// 400 BadRequest with the function's error text. Kinds without one get DefaultMetaV1FieldSelectorConversion
// (k8s.io/apimachinery pkg/runtime/conversion.go); the core/v1 kinds' lists are from kubernetes
// pkg/apis/core/v1/conversion.go. Other groups word their refusals differently (batch/v1 Job, for one), so a
// kind outside this file passes its own message to `supporting(_:renaming:message:)`.

/// A kind's field label conversion: accepts (and may rename) a label, or refuses it.
public struct FieldLabelConversion: Sendable {
    /// Returns the (possibly renamed) label and value, or throws the refusal kube-apiserver answers 400 with.
    public let convert: @Sendable (_ label: String, _ value: String) throws(FieldSelectorError) -> (String, String)

    /// A conversion from a closure.
    public init(
        _ convert: @escaping @Sendable (_ label: String, _ value: String) throws(FieldSelectorError) -> (String, String)
    ) {
        self.convert = convert
    }

    /// Kinds with no conversion of their own: only `metadata.name` and `metadata.namespace`.
    public static let metadataOnly = FieldLabelConversion { label, value throws(FieldSelectorError) in
        guard label == "metadata.name" || label == "metadata.namespace" else {
            throw FieldSelectorError(
                "\(GoFormat.quoted(label)) is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
            )
        }
        return (label, value)
    }

    /// These labels (and the old names in `renaming`, which become their new ones); others refused with
    /// `message(label)`, by default core/v1's `field label not supported: <label>`.
    public static func supporting(
        _ labels: Set<String>, renaming: [String: String] = [:],
        message: @escaping @Sendable (String) -> String = { "field label not supported: \($0)" }
    ) -> FieldLabelConversion {
        FieldLabelConversion { label, value throws(FieldSelectorError) in
            if labels.contains(label) { return (label, value) }
            if let renamed = renaming[label] { return (renamed, value) }
            throw FieldSelectorError(message(label))
        }
    }

    /// core/v1 Pod; `spec.host` is an old client's name for `spec.nodeName`.
    public static let pod = supporting(
        [
            "metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
            "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs",
            "status.nominatedNodeName",
        ], renaming: ["spec.host": "spec.nodeName"])
    /// core/v1 Node, and the other core/v1 kinds below.
    public static let node = supporting(["metadata.name", "spec.unschedulable"])
    public static let replicationController = supporting(["metadata.name", "metadata.namespace", "status.replicas"])
    public static let event = supporting([
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
        "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
        "reportingComponent", "source", "type", "metadata.namespace", "metadata.name",
    ])
    public static let namespace = supporting(["status.phase", "metadata.name"])
    public static let secret = supporting(["type", "metadata.namespace", "metadata.name"])
    public static let service = supporting(["metadata.namespace", "metadata.name", "spec.clusterIP", "spec.type"])

    /// The conversion of a core/v1 kind by name, nil for kinds without one of their own.
    public static func core(kind: String) -> FieldLabelConversion? {
        switch kind {
        case "Pod": pod
        case "Node": node
        case "ReplicationController": replicationController
        case "Event": event
        case "Namespace": namespace
        case "Secret": secret
        case "Service": service
        default: nil
        }
    }
}
