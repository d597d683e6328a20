// What kube-apiserver (its apiextensions-apiserver part) does with a CRD version's `openAPIV3Schema` for the custom
// resources of that version. Sources: kubernetes/apiextensions-apiserver pkg/apiserver/customresource_handler.go
// (unstructuredSchemaCoercer, unstructuredDefaulter), pkg/registry/customresource/{strategy,validator,
// status_strategy}.go, pkg/apiserver/schema/{pruning,defaulting,objectmeta,listtype}, pkg/apiserver/validation;
// kubernetes/kube-openapi pkg/validation/{validate,errors,strfmt}.
//
// Decoding a custom resource (request body or storage) then defaulting it:
//   1. `decode`: the root metadata becomes ObjectMeta (unknown fields dropped), unknown fields are pruned,
//      non-nullable nulls without a default dropped, embedded resources' metadata coerced;
//   2. `applyDefaults`.
// Validating a create, in the strategy's order (the caller supplies the parts marked *):
//   *apiVersion/kind (`validateTypeMeta`, alone if it fails), *the resource's ObjectMeta, `validateValues`
//   (schema), *scale subresource replicas, `validateEmbeddedResources`, `validateListSetsAndMaps`,
//   (x-kubernetes-validations CEL rules: not implemented). `validate` runs the three schema parts in order.
// Updates use `validateUpdate` (ratcheting: unchanged values keep passing), status updates `validateStatusUpdate`.
// The 422 answer joins the errors as FieldError.invalidStatus does: `CronTab.stable.example.com "x" is invalid:
// [spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10, ...]`.
// Upstream walks Go maps, so where it has no order (properties, map keys) this follows the object's member order;
// kube-apiserver itself serves custom resources with every object's keys sorted.
// Not covered: CEL rules (x-kubernetes-validations), the text for a pattern Go cannot compile (the CRD would have
// been refused), Go's exact net/mail and net/url grammars (email and uri formats are close approximations).

/// A custom resource version's schema, read once and used for every object of that version.
public struct CustomResourceSchema: Sendable {
    let root: SchemaNode

    /// Reads `openAPIV3Schema`; `compatibilityMinorVersion` is the Kubernetes 1.x release whose format support
    /// applies (kube-apiserver uses its own minor version minus one: 32 for 1.33).
    public init(openAPIV3Schema: JSONValue, compatibilityMinorVersion: Int = 32) throws(CustomResourceSchemaError) {
        root = try SchemaNode.parse(
            openAPIV3Schema, path: FieldPath("openAPIV3Schema"), compatibilityMinorVersion: compatibilityMinorVersion)
    }

    // MARK: - Validation

    /// The schema's errors for a new object: values, embedded resources, then list-type sets and maps.
    public func validate(_ object: JSONValue) -> [FieldError] {
        validateValues(object) + validateEmbeddedResources(object) + validateListSetsAndMaps(object)
    }

    /// The schema's errors for an update: values with ratcheting against `old`, embedded resources, and list-type
    /// sets and maps only if the old object had no such error.
    public func validateUpdate(_ object: JSONValue, old: JSONValue) -> [FieldError] {
        var errors = validateValues(object, old: old)
        errors += validateEmbeddedResources(object)
        if validateListSetsAndMaps(old).isEmpty { errors += validateListSetsAndMaps(object) }
        return errors
    }

    /// The errors of an update through the status subresource: `status` against its schema (errors below
    /// `status`, with ratcheting), then list-type sets and maps of the whole object unless the old one had such
    /// errors already.
    public func validateStatusUpdate(_ object: JSONValue, old: JSONValue) -> [FieldError] {
        var errors: [FieldError] = []
        if let status = object["status"], let statusSchema = root.property("status") {
            let oldStatus = RatchetingEquality.correlatedMember("status", old: old, schema: root, path: "status")
            let result = OpenAPIValidator().validate(status, schema: statusSchema, path: "", old: oldStatus)
            errors += result.issues.map { $0.fieldError(under: FieldPath("status")) }
        }
        let listErrors = validateListSetsAndMaps(object)
        if !listErrors.isEmpty, validateListSetsAndMaps(old).isEmpty { errors += listErrors }
        return errors
    }

    /// kube-openapi's checks of the whole object (apiVersion, kind and metadata included) against the schema, as
    /// field errors; with `old`, failures of values equal to their old values are dropped (ratcheting).
    public func validateValues(_ object: JSONValue, old: JSONValue? = nil) -> [FieldError] {
        let result = OpenAPIValidator().validate(object, schema: root, path: "", old: old)
        return result.issues.map { $0.fieldError(under: .none) }
    }

    /// The apiVersion, kind and metadata of x-kubernetes-embedded-resource objects below the root.
    public func validateEmbeddedResources(_ object: JSONValue) -> [FieldError] {
        EmbeddedResourceValidation.validate(object, schema: root, path: .none)
    }

    /// Duplicates in x-kubernetes-list-type set and map lists.
    public func validateListSetsAndMaps(_ object: JSONValue) -> [FieldError] {
        ListTypeValidation.validate(object, schema: root)
    }

    /// The check that precedes all others (validator.go ValidateTypeMeta): kind and apiVersion must be the CRD's.
    public static func validateTypeMeta(_ object: JSONValue, group: String, version: String, kind: String)
        -> [FieldError]
    {
        var errors: [FieldError] = []
        let actualKind = object["kind"]?.stringValue ?? ""
        if actualKind != kind { errors.append(.invalid(FieldPath("kind"), actualKind, "must be \(kind)")) }
        let apiVersion = object["apiVersion"]?.stringValue ?? ""
        if apiVersion != group + "/" + version {
            errors.append(.invalid(FieldPath("apiVersion"), apiVersion, "must be \(group)/\(version)"))
        }
        return errors
    }

    // MARK: - Pruning and defaulting

    /// The object as decoding leaves it (see `decode`), best effort as a read from storage does: malformed
    /// metadata fields are dropped instead of failing.
    public func prune(_ object: JSONValue) -> JSONValue {
        (try? decode(object, dropMalformedMetadata: true).object) ?? object
    }

    /// The object as apiextensions decodes it: root ObjectMeta coerced, unknown fields pruned, non-nullable nulls
    /// without default dropped, embedded resources' apiVersion/kind checked and metadata coerced. Returns the
    /// paths of the unknown fields in the order kube-apiserver warns about them (`unknown field "spec.foo"`):
    /// metadata's, then pruned ones sorted, then embedded metadata's sorted.
    public func decode(_ object: JSONValue, dropMalformedMetadata: Bool = false) throws(CustomResourceDecodeError)
        -> (object: JSONValue, unknownFieldPaths: [String])
    {
        guard case .object(var members) = object else { return (object, []) }
        for key in ["kind", "apiVersion"] {
            if let value = members[key], value.stringValue == nil {
                let type = value == .null ? "<nil>" : GoMessageText.typeName(value)
                throw CustomResourceDecodeError(
                    message:
                        ".\(key) accessor error: \(GoMessageText.value(value)) is of the type \(type), expected string")
            }
        }
        var unknownFieldPaths: [String] = []
        if let metadata = members["metadata"] {
            members["metadata"] = try ObjectMetaCoercion.coerce(
                metadata, prefix: "metadata", dropMalformed: dropMalformedMetadata,
                unknownFieldPaths: &unknownFieldPaths)
            if members["metadata"]?["creationTimestamp"] == .null { members["metadata"]?["creationTimestamp"] = nil }
        }
        var run = PruneRun(tracksPaths: true)
        let pruned = run.pruneResource(.object(members), schema: root)
        unknownFieldPaths += run.unknownFieldPaths
        var coercion = EmbeddedMetadataCoercion(dropMalformed: dropMalformedMetadata)
        let coerced = try coercion.coerce(pruned, schema: root, path: .none)
        return (
            coerced,
            unknownFieldPaths + coercion.unknownFieldPaths.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        )
    }

    /// The object with the schema's defaults filled in, at every depth (list items and map values included);
    /// values already there are kept, and a `null` is replaced only where the schema is not nullable.
    public func applyDefaults(_ object: JSONValue) -> JSONValue {
        SchemaDefaulter.applyDefaults(object, schema: root)
    }
}
