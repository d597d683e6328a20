// Whether a CRD schema is structural, with apiextensions' errors (pkg/apiserver/schema/validation.go
// ValidateStructural and complete.go), sorted by their text as upstream sorts them. The CRD validation reports them
// below `spec.versions[i].schema.openAPIV3Schema`, for example
// `...openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields`.
// Checked: every specified field has a type (unless x-kubernetes-int-or-string or preserve-unknown-fields), arrays
// have items, the root is an object without additionalProperties, metadata at the root restricts only name and
// generateName, embedded resources are objects, and what sits under allOf/anyOf/oneOf/not holds value validations
// only, for fields that are also specified outside them. Not checked here: that `pattern` compiles in Go.

extension CustomResourceSchema {
    /// The structural-schema errors of `openAPIV3Schema`, placed below `path`.
    public static func structuralErrors(_ openAPIV3Schema: JSONValue, path: FieldPath) -> [FieldError] {
        guard case .object(let root) = openAPIV3Schema else { return [] }
        var checker = StructuralChecker()
        checker.checkStructural(root, level: .root, path: path)
        checker.checkCompleteness(junctorsOf: root, structural: root, structuralPath: path, valuePath: path)
        return checker.errors.sorted { $0.description.utf8.lexicographicallyPrecedes($1.description.utf8) }
    }
}

private struct StructuralChecker {
    enum Level { case root, item, field }

    var errors: [FieldError] = []

    mutating func checkStructural(_ schema: JSONObject, level: Level, path: FieldPath) {
        let type = schema["type"]?.stringValue ?? ""
        let intOrString = schema["x-kubernetes-int-or-string"] == true
        let preserves = schema["x-kubernetes-preserve-unknown-fields"] == true
        let embedded = schema["x-kubernetes-embedded-resource"] == true
        if type == "array", schema["items"] == nil {
            errors.append(.required(path.child("items"), "must be specified"))
        }
        if let items = schema["items"]?.objectValue { checkStructural(items, level: .item, path: path.child("items")) }
        for (name, property) in schema["properties"]?.objectValue ?? JSONObject() {
            if let property = property.objectValue {
                checkStructural(property, level: .field, path: path.child("properties").key(name))
            }
        }
        if let additionalProperties = schema["additionalProperties"], additionalProperties != .null {
            if level == .root {
                errors.append(.forbidden(path.child("additionalProperties"), "must not be used at the root"))
            }
            if let nested = additionalProperties.objectValue {
                checkStructural(nested, level: .field, path: path.child("additionalProperties"))
            }
        }
        if intOrString, preserves {
            errors.append(
                .invalid(
                    path.child("x-kubernetes-preserve-unknown-fields"), json: true,
                    "must be false if x-kubernetes-int-or-string is true"))
        }
        if intOrString, embedded {
            errors.append(
                .invalid(
                    path.child("x-kubernetes-embedded-resource"), json: true,
                    "must be false if x-kubernetes-int-or-string is true"))
        }
        checkJunctors(
            schema, skipAnyOf: Self.isIntOrStringAnyOf(schema["anyOf"]),
            skipFirstAllOfAnyOf: Self.isIntOrStringAnyOf(schema["allOf"]?.arrayValue?.first?["anyOf"]), level: level,
            path: path)
        checkTypeAndMetadata(schema, type: type, level: level, path: path)
        if embedded, !preserves, (schema["properties"]?.objectValue ?? JSONObject()).isEmpty {
            errors.append(
                .required(
                    path.child("properties"),
                    "must not be empty if x-kubernetes-embedded-resource is true without "
                        + "x-kubernetes-preserve-unknown-fields"))
        }
    }

    private mutating func checkTypeAndMetadata(_ schema: JSONObject, type: String, level: Level, path: FieldPath) {
        let embedded = schema["x-kubernetes-embedded-resource"] == true
        if embedded, type != "object" {
            let detail = "must be object if x-kubernetes-embedded-resource is true"
            errors.append(
                type.isEmpty ? .required(path.child("type"), detail) : .invalid(path.child("type"), type, detail))
        } else if type.isEmpty, schema["x-kubernetes-int-or-string"] != true,
            schema["x-kubernetes-preserve-unknown-fields"] != true
        {
            let detail =
                switch level {
                case .root: "must not be empty at the root"
                case .item: "must not be empty for specified array items"
                case .field: "must not be empty for specified object fields"
                }
            errors.append(.required(path.child("type"), detail))
        }
        if embedded, let additionalProperties = schema["additionalProperties"], additionalProperties != .null {
            errors.append(
                .forbidden(
                    path.child("additionalProperties"), "must not be used if x-kubernetes-embedded-resource is set"))
        }
        if level == .root, !type.isEmpty, type != "object" {
            errors.append(.invalid(path.child("type"), type, "must be object at the root"))
        }
        let properties = schema["properties"]?.objectValue ?? JSONObject()
        let checksMetadata = level == .root || embedded
        for name in ["kind", "apiVersion"] where checksMetadata {
            guard let property = properties[name] else { continue }
            let propertyType = property["type"]?.stringValue ?? ""
            if propertyType != "string" {
                errors.append(
                    .invalid(path.child("properties").key(name).child("type"), propertyType, "must be string"))
            }
        }
        guard let metadata = properties["metadata"]?.objectValue else { return }
        let metadataPath = path.child("properties").key("metadata")
        let metadataType = metadata["type"]?.stringValue ?? ""
        if checksMetadata, metadataType != "object" {
            errors.append(.invalid(metadataPath.child("type"), metadataType, "must be object"))
        }
        if level == .root {
            var rest = metadata
            let names = Set(rest["properties"]?.objectValue?.keys ?? [])
            if !names.isEmpty, names.isSubset(of: ["name", "generateName"]) { rest["properties"] = nil }
            for key in ["type", "default"] { rest[key] = nil }
            if rest.entries.contains(where: { !Self.isEmptySchemaMember($0.key, $0.value) }) {
                errors.append(
                    .forbidden(
                        metadataPath,
                        "must not specify anything other than name and generateName, but metadata is implicitly "
                            + "specified"))
            }
        }
    }

    /// allOf, anyOf, oneOf and not hold value validations only.
    private mutating func checkJunctors(
        _ schema: JSONObject, skipAnyOf: Bool, skipFirstAllOfAnyOf: Bool, level: Level, path: FieldPath
    ) {
        if !skipAnyOf {
            for (offset, nested) in (schema["anyOf"]?.arrayValue ?? []).enumerated() {
                checkNested(nested, skipAnyOf: false, level: level, path: path.child("anyOf").index(offset))
            }
        }
        for (offset, nested) in (schema["allOf"]?.arrayValue ?? []).enumerated() {
            checkNested(
                nested, skipAnyOf: skipFirstAllOfAnyOf && offset == 0, level: level,
                path: path.child("allOf").index(offset))
        }
        for (offset, nested) in (schema["oneOf"]?.arrayValue ?? []).enumerated() {
            checkNested(nested, skipAnyOf: false, level: level, path: path.child("oneOf").index(offset))
        }
        if let not = schema["not"], not != .null {
            checkNested(not, skipAnyOf: false, level: level, path: path.child("not"))
        }
    }

    private mutating func checkNested(_ value: JSONValue, skipAnyOf: Bool, level: Level, path: FieldPath) {
        guard case .object(let nested) = value else { return }
        checkJunctors(nested, skipAnyOf: skipAnyOf, skipFirstAllOfAnyOf: false, level: level, path: path)
        if let items = nested["items"], items != .null {
            checkNested(items, skipAnyOf: false, level: level, path: path.child("items"))
        }
        for (name, property) in nested["properties"]?.objectValue ?? JSONObject() {
            checkNested(property, skipAnyOf: false, level: .field, path: path.child("properties").key(name))
        }
        let forbidden: [(key: String, present: Bool, detail: String)] = [
            ("type", !(nested["type"]?.stringValue ?? "").isEmpty, "must be empty to be structural"),
            (
                "additionalProperties", nested["additionalProperties"].map { $0 != .null } ?? false,
                "must be undefined to be structural"
            ),
            ("default", nested["default"].map { $0 != .null } ?? false, "must be undefined to be structural"),
            ("title", !(nested["title"]?.stringValue ?? "").isEmpty, "must be empty to be structural"),
            ("description", !(nested["description"]?.stringValue ?? "").isEmpty, "must be empty to be structural"),
            ("nullable", nested["nullable"] == true, "must be false to be structural"),
            (
                "x-kubernetes-preserve-unknown-fields", nested["x-kubernetes-preserve-unknown-fields"] == true,
                "must be false to be structural"
            ),
            (
                "x-kubernetes-embedded-resource", nested["x-kubernetes-embedded-resource"] == true,
                "must be false to be structural"
            ),
            (
                "x-kubernetes-int-or-string", nested["x-kubernetes-int-or-string"] == true,
                "must be false to be structural"
            ),
            (
                "x-kubernetes-list-map-keys", !(nested["x-kubernetes-list-map-keys"]?.arrayValue ?? []).isEmpty,
                "must be empty to be structural"
            ),
            (
                "x-kubernetes-list-type", nested["x-kubernetes-list-type"].map { $0 != .null } ?? false,
                "must be undefined to be structural"
            ),
            (
                "x-kubernetes-map-type", nested["x-kubernetes-map-type"].map { $0 != .null } ?? false,
                "must be undefined to be structural"
            ),
            (
                "x-kubernetes-validations", !(nested["x-kubernetes-validations"]?.arrayValue ?? []).isEmpty,
                "must be empty to be structural"
            ),
        ]
        for entry in forbidden where entry.present { errors.append(.forbidden(path.child(entry.key), entry.detail)) }
        if nested["properties"]?["metadata"] != nil {
            errors.append(
                .forbidden(path.child("properties").key("metadata"), "must not be specified in a nested context"))
        }
    }

    /// complete.go: every property, items or value validated under a junctor must exist outside it.
    mutating func checkCompleteness(
        junctorsOf valueSchema: JSONObject, structural: JSONObject?, structuralPath: FieldPath, valuePath: FieldPath
    ) {
        var nested: [(JSONValue, FieldPath)] = []
        if let not = valueSchema["not"], not != .null { nested.append((not, valuePath.child("not"))) }
        for keyword in ["allOf", "anyOf", "oneOf"] {
            for (offset, member) in (valueSchema[keyword]?.arrayValue ?? []).enumerated() {
                nested.append((member, valuePath.child(keyword).index(offset)))
            }
        }
        for (value, path) in nested {
            checkNestedCompleteness(value, structural: structural, structuralPath: structuralPath, valuePath: path)
        }
    }

    private mutating func checkNestedCompleteness(
        _ value: JSONValue, structural: JSONObject?, structuralPath: FieldPath, valuePath: FieldPath
    ) {
        guard case .object(let nested) = value else { return }
        guard let structural else {
            errors.append(.required(structuralPath, "because it is defined in \(valuePath)"))
            return
        }
        checkCompleteness(
            junctorsOf: nested, structural: structural, structuralPath: structuralPath, valuePath: valuePath)
        if let items = nested["items"], items != .null {
            checkNestedCompleteness(
                items, structural: structural["items"]?.objectValue, structuralPath: structuralPath.child("items"),
                valuePath: valuePath.child("items"))
        }
        let structuralProperties = structural["properties"]?.objectValue ?? JSONObject()
        for (name, property) in nested["properties"]?.objectValue ?? JSONObject() {
            let propertyValuePath = valuePath.child("properties").key(name)
            guard let structuralProperty = structuralProperties[name]?.objectValue else {
                errors.append(
                    .required(
                        structuralPath.child("properties").key(name), "because it is defined in \(propertyValuePath)"))
                continue
            }
            checkNestedCompleteness(
                property, structural: structuralProperty, structuralPath: structuralPath.child("properties").key(name),
                valuePath: propertyValuePath)
        }
    }

    /// `anyOf: [{type: integer}, {type: string}]` exactly, the int-or-string pattern.
    private static func isIntOrStringAnyOf(_ value: JSONValue?) -> Bool {
        value == [["type": "integer"], ["type": "string"]]
    }

    /// A member that leaves a schema as good as empty (false flags, empty strings and lists).
    private static func isEmptySchemaMember(_ key: String, _ value: JSONValue) -> Bool {
        if key == "additionalProperties" || key == "example" { return value == .null }
        switch value {
        case .null, .bool(false): return true
        case .string(let text): return text.isEmpty
        case .array(let elements): return elements.isEmpty
        case .object(let members): return members.isEmpty
        default: return false
        }
    }
}
