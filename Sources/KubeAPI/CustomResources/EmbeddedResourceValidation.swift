// Checks of `x-kubernetes-embedded-resource` objects inside a custom resource (pkg/apiserver/schema/objectmeta/
// validation.go Validate, called with isResourceRoot false, so the resource's own metadata is left to the
// ObjectMeta validation of the request):
// - apiVersion and kind are required: `spec.template.kind: Required value`;
// - apiVersion must be a non-empty string with at most one "/": `Invalid value: "a/b/c": unexpected GroupVersion
//   string: a/b/c`;
// - kind must be a non-empty string that, lowercased, is a DNS-1035 label: `Invalid value: "9x": may have mixed
//   case, but should otherwise match: a DNS-1035 label must consist of ...`;
// - metadata must decode as ObjectMeta and pass ObjectMeta validation on create with path-segment names (an empty
//   name is taken as "fakename", the namespace rule applies only when a namespace is set).

enum EmbeddedResourceValidation {
    static func validate(_ value: JSONValue, schema: SchemaNode?, path: FieldPath) -> [FieldError] {
        guard let schema else { return [] }
        var errors: [FieldError] = []
        switch value {
        case .object(let object):
            if schema.embeddedResource { errors += validateResource(object, path: path) }
            for (key, member) in object {
                if let property = schema.property(key) {
                    errors += validate(member, schema: property, path: path.child(key))
                } else if let additionalProperties = schema.additionalProperties {
                    errors += validate(member, schema: additionalProperties.schema, path: path.key(key))
                }
            }
        case .array(let elements):
            for (offset, element) in elements.enumerated() {
                errors += validate(element, schema: schema.items, path: path.index(offset))
            }
        default:
            break
        }
        return errors
    }

    private static func validateResource(_ object: JSONObject, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if object["apiVersion"] == nil { errors.append(.required(path.child("apiVersion"))) }
        if object["kind"] == nil { errors.append(.required(path.child("kind"))) }
        for (key, member) in object {
            switch key {
            case "apiVersion":
                let field = path.child(key)
                guard case .string(let apiVersion) = member else {
                    errors.append(
                        FieldError(type: .invalid, field: field, badValue: .decoded(member), detail: "must be a string")
                    )
                    continue
                }
                if apiVersion.isEmpty {
                    errors.append(.invalid(field, apiVersion, "must not be empty"))
                } else if apiVersion != "/", apiVersion.count(where: { $0 == "/" }) > 1 {
                    errors.append(.invalid(field, apiVersion, "unexpected GroupVersion string: \(apiVersion)"))
                }
            case "kind":
                let field = path.child(key)
                guard case .string(let kind) = member else {
                    errors.append(
                        FieldError(type: .invalid, field: field, badValue: .decoded(member), detail: "must be a string")
                    )
                    continue
                }
                if kind.isEmpty {
                    errors.append(.invalid(field, kind, "must not be empty"))
                } else {
                    let problems = NameValidation.isDNS1035Label(kind.lowercased())
                    if !problems.isEmpty {
                        let detail =
                            "may have mixed case, but should otherwise match: " + problems.joined(separator: ",")
                        errors.append(.invalid(field, kind, detail))
                    }
                }
            case "metadata":
                errors += validateMetadata(member, path: path.child("metadata"))
            default:
                break
            }
        }
        return errors
    }

    private static func validateMetadata(_ metadata: JSONValue, path: FieldPath) -> [FieldError] {
        var ignored: [String] = []
        let decoded: JSONValue
        do {
            decoded = try ObjectMetaCoercion.coerce(
                metadata, prefix: path.description, dropMalformed: false, unknownFieldPaths: &ignored)
        } catch {
            return [FieldError(type: .invalid, field: path, badValue: .decoded(metadata), detail: error.message)]
        }
        var meta = decoded
        if (meta["name"]?.stringValue ?? "").isEmpty { meta["name"] = "fakename" }
        let namespaced = !(meta["namespace"]?.stringValue ?? "").isEmpty
        let rules = ObjectMetaValidation(
            namespaced: namespaced, nameRule: .pathSegment, requiresQualifiedFinalizers: false, path: path)
        return rules.validateCreate(meta)
    }
}
