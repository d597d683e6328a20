import KubeAPI

/// Validation of a whole object before it is stored: its metadata (every kind) and the fields a kind cannot do
/// without, with kube-apiserver's field paths and wording. Kinds' full validation grows here kind by kind.
enum ObjectValidation {
    static func errors(in object: JSONValue, resource: ResourceType, old: JSONValue? = nil) -> [FieldError] {
        let metadata = ObjectMetaValidation(namespaced: resource.namespaced, nameRule: nameRule(resource))
        var errors =
            if let old { metadata.validateUpdate(object["metadata"], old: old["metadata"]) } else {
                metadata.validateCreate(object["metadata"])
            }
        errors += kindErrors(object, resource: resource)
        if resource.group == "apps", resource.kind == "StatefulSet" {
            errors += StatefulSetFields.errors(object, old: old)
        }
        if resource.definition != nil,
            let schema = CustomResourceSchemas.schema(for: resource, version: resource.version)
        {
            let schemaErrors = if let old { schema.validateUpdate(object, old: old) } else { schema.validate(object) }
            errors += schemaErrors
        }
        return errors
    }

    /// Upstream's per-kind choice of name rule.
    static func nameRule(_ resource: ResourceType) -> NameRule {
        switch (resource.group, resource.kind) {
        case ("", "Namespace"): .dnsLabel
        case ("", "Service"): .dns1035Label
        default: .dnsSubdomain
        }
    }

    private static func kindErrors(_ object: JSONValue, resource: ResourceType) -> [FieldError] {
        switch (resource.group, resource.kind) {
        case ("", "Pod"):
            return containers(object["spec"], path: FieldPath("spec"))
        case ("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("apps", "DaemonSet"):
            var errors: [FieldError] = []
            if object[path: "spec", "selector"] == nil {
                errors.append(.required(FieldPath("spec", "selector")))
            } else if resource.kind == "Deployment",
                object[path: "spec", "selector"]?.objectValue?.allSatisfy({
                    $0.value.objectValue?.isEmpty ?? $0.value.arrayValue?.isEmpty ?? true
                }) == true
            {
                errors.append(
                    .invalid(
                        FieldPath("spec", "selector"), json: object[path: "spec", "selector"] ?? .null,
                        "empty selector is invalid for deployment"))
            } else {
                errors += BatchValidation.templateLabelErrors(object)
            }
            if let replicas = object[path: "spec", "replicas"]?.intValue, replicas < 0 {
                errors.append(
                    .invalid(FieldPath("spec", "replicas"), json: .int(replicas), "must be greater than or equal to 0"))
            }
            errors += containers(object[path: "spec", "template", "spec"], path: FieldPath("spec", "template", "spec"))
            return errors
        case ("batch", "Job"):
            return containers(object[path: "spec", "template", "spec"], path: FieldPath("spec", "template", "spec"))
                + BatchValidation.job(object)
        case ("batch", "CronJob"):
            return containers(
                object[path: "spec", "jobTemplate", "spec", "template", "spec"],
                path: FieldPath("spec", "jobTemplate", "spec", "template", "spec")) + BatchValidation.cronJob(object)
        case ("apiextensions.k8s.io", "CustomResourceDefinition"):
            return CustomResourceTypes.errors(in: object)
        default:
            return []
        }
    }

    /// A pod spec needs containers, each with a name and an image.
    static func containers(_ spec: JSONValue?, path: FieldPath) -> [FieldError] {
        guard let containers = spec?["containers"]?.arrayValue, !containers.isEmpty else {
            return [.required(path.child("containers"))]
        }
        var errors: [FieldError] = []
        var names = Set<String>()
        for (index, container) in containers.enumerated() {
            let name = container["name"]?.stringValue ?? ""
            let itemPath = path.child("containers").index(index)
            if name.isEmpty {
                errors.append(.required(itemPath.child("name")))
            } else if !names.insert(name).inserted {
                errors.append(.duplicate(itemPath.child("name"), .string(name)))
            } else {
                for message in NameValidation.isDNS1123Label(name) {
                    errors.append(.invalid(itemPath.child("name"), name, message))
                }
            }
            if (container["image"]?.stringValue ?? "").isEmpty {
                errors.append(.required(itemPath.child("image")))
            }
        }
        return errors
    }
}
