// The `metadata` of a custom resource (and of every x-kubernetes-embedded-resource inside it) as apiextensions-
// apiserver leaves it: decoded into metav1.ObjectMeta and encoded back (pkg/apiserver/schema/objectmeta/coerce.go
// GetObjectMetaWithOptions and SetObjectMeta, algorithm.go Coerce). The round trip
// - drops fields ObjectMeta does not have (reported as unknown: `metadata.foo`, `metadata.ownerReferences[0].x`),
// - drops empty values of omitempty fields (`name: ""`, `labels: {}`, `generation: 0`, `null`s),
// - fills an owner reference's apiVersion, kind, name and uid with "" when missing (they are not omitempty),
// - fails on a wrong JSON type (`labels: 5`) with encoding/json's message; a storage read instead drops the
//   malformed field (DropMalformedFields).
// A zero creationTimestamp (`null`) is removed, as Coerce does for embedded resources; at the root the server sets
// one on create anyway.

/// A custom resource the server refuses to decode: the text is what kube-apiserver answers with (400 Bad Request).
public struct CustomResourceDecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

enum ObjectMetaCoercion {
    private enum Kind {
        case string, integer, time, stringMap, stringList, ownerReferences, managedFields
    }

    private static let fields: [String: Kind] = [
        "name": .string, "generateName": .string, "namespace": .string, "selfLink": .string, "uid": .string,
        "resourceVersion": .string, "generation": .integer, "creationTimestamp": .time, "deletionTimestamp": .time,
        "deletionGracePeriodSeconds": .integer, "labels": .stringMap, "annotations": .stringMap,
        "ownerReferences": .ownerReferences, "finalizers": .stringList, "managedFields": .managedFields,
    ]

    private static let goTypes: [String: String] = [
        "generation": "int64", "deletionGracePeriodSeconds": "int64", "labels": "map[string]string",
        "annotations": "map[string]string", "ownerReferences": "[]v1.OwnerReference", "finalizers": "[]string",
        "managedFields": "[]v1.ManagedFieldsEntry", "creationTimestamp": "string", "deletionTimestamp": "string",
    ]

    /// `metadata` as ObjectMeta would have it; `prefix` is the path of the metadata (`metadata`,
    /// `spec.template.metadata`) for unknown-field paths.
    static func coerce(
        _ metadata: JSONValue, prefix: String, dropMalformed: Bool, unknownFieldPaths: inout [String]
    ) throws(CustomResourceDecodeError) -> JSONValue {
        guard case .object(let object) = metadata else {
            if metadata == .null { return .object(JSONObject()) }
            if dropMalformed {
                throw CustomResourceDecodeError(
                    message: "invalid metadata: expected object, got \(GoMessageText.typeName(metadata))")
            }
            throw CustomResourceDecodeError(
                message: "json: cannot unmarshal \(jsonKind(metadata)) into Go value of type v1.ObjectMeta")
        }
        var result: [(key: String, value: JSONValue)] = []
        var unknown: [String] = []
        for (key, value) in object {
            guard let kind = fields[key] else {
                unknown.append(prefix + "." + key)
                continue
            }
            do {
                if let kept = try coerceField(key, kind: kind, value: value, prefix: prefix, unknown: &unknown) {
                    result.append((key, kept))
                }
            } catch {
                if !dropMalformed { throw error }
            }
        }
        unknownFieldPaths += unknown
        return .object(JSONObject(uniqueEntries: result))
    }

    /// The field after the round trip; nil when it is left out.
    private static func coerceField(
        _ key: String, kind: Kind, value: JSONValue, prefix: String, unknown: inout [String]
    ) throws(CustomResourceDecodeError) -> JSONValue? {
        if value == .null { return nil }
        let mismatch = typeError(value, field: key, goType: goTypes[key] ?? "string")
        switch kind {
        case .string, .time:
            guard case .string(let text) = value else { throw mismatch }
            return text.isEmpty ? nil : value
        case .integer:
            if case .double = value {
                let literal = String(decoding: value.serialized(), as: UTF8.self)
                throw CustomResourceDecodeError(
                    message:
                        "json: cannot unmarshal number \(literal) into Go struct field ObjectMeta.\(key) of type int64")
            }
            guard case .int(let number) = value else { throw mismatch }
            return number == 0 && key == "generation" ? nil : value
        case .stringMap:
            guard case .object(let map) = value else { throw mismatch }
            for (_, member) in map where member != .null && member.stringValue == nil {
                throw typeError(member, field: key, goType: "string")
            }
            let entries = map.entries.map { (key: $0.key, value: $0.value == .null ? JSONValue.string("") : $0.value) }
            return entries.isEmpty ? nil : .object(JSONObject(uniqueEntries: entries))
        case .stringList:
            guard case .array(let list) = value else { throw mismatch }
            for member in list where member != .null && member.stringValue == nil {
                throw typeError(member, field: key, goType: "string")
            }
            return list.isEmpty ? nil : .array(list.map { $0 == .null ? "" : $0 })
        case .ownerReferences, .managedFields:
            guard case .array(let list) = value else { throw mismatch }
            var entries: [JSONValue] = []
            for (offset, element) in list.enumerated() {
                let path = "\(prefix).\(key)[\(offset)]"
                entries.append(
                    kind == .ownerReferences
                        ? try ownerReference(element, path: path, unknown: &unknown, mismatch: mismatch)
                        : try managedFieldsEntry(element, path: path, unknown: &unknown, mismatch: mismatch))
            }
            return entries.isEmpty ? nil : .array(entries)
        }
    }

    private static func ownerReference(
        _ value: JSONValue, path: String, unknown: inout [String], mismatch: CustomResourceDecodeError
    ) throws(CustomResourceDecodeError) -> JSONValue {
        guard case .object(let object) = value else {
            if value == .null { return ["apiVersion": "", "kind": "", "name": "", "uid": ""] }
            throw mismatch
        }
        var result = JSONObject()
        for key in ["apiVersion", "kind", "name", "uid"] {
            let member = object[key] ?? .null
            guard member == .null || member.stringValue != nil else { throw mismatch }
            result[key] = member == .null ? "" : member
        }
        for key in ["controller", "blockOwnerDeletion"] {
            guard let member = object[key], member != .null else { continue }
            guard member.boolValue != nil else { throw mismatch }
            result[key] = member
        }
        let known: Set<String> = ["apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"]
        for key in object.keys where !known.contains(key) { unknown.append(path + "." + key) }
        return .object(result)
    }

    private static func managedFieldsEntry(
        _ value: JSONValue, path: String, unknown: inout [String], mismatch: CustomResourceDecodeError
    ) throws(CustomResourceDecodeError) -> JSONValue {
        guard case .object(let object) = value else {
            if value == .null { return .object(JSONObject()) }
            throw mismatch
        }
        var result: [(key: String, value: JSONValue)] = []
        for (key, member) in object {
            switch key {
            case "manager", "operation", "apiVersion", "time", "fieldsType", "subresource":
                guard member == .null || member.stringValue != nil else { throw mismatch }
                if let text = member.stringValue, !text.isEmpty { result.append((key, member)) }
            case "fieldsV1":
                if member != .null { result.append((key, member)) }
            default:
                unknown.append(path + "." + key)
            }
        }
        return .object(JSONObject(uniqueEntries: result))
    }

    /// encoding/json's UnmarshalTypeError for a field of ObjectMeta.
    private static func typeError(_ value: JSONValue, field: String, goType: String) -> CustomResourceDecodeError {
        CustomResourceDecodeError(
            message:
                "json: cannot unmarshal \(jsonKind(value)) into Go struct field ObjectMeta.\(field) of type \(goType)")
    }

    /// How encoding/json names a JSON value in a type error (`number`, `string`, `object`, ...).
    private static func jsonKind(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "bool"
        case .int, .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// objectmeta.Coerce below the root: in every x-kubernetes-embedded-resource object, apiVersion and kind must be
/// strings (`spec.template.kind: Invalid value: 1: must be a string` fails the decode) and metadata is coerced to
/// ObjectMeta; with `dropMalformed` (a storage read) offending fields are dropped instead.
struct EmbeddedMetadataCoercion {
    let dropMalformed: Bool
    private(set) var unknownFieldPaths: [String] = []

    init(dropMalformed: Bool) { self.dropMalformed = dropMalformed }

    mutating func coerce(_ value: JSONValue, schema: SchemaNode?, path: FieldPath) throws(CustomResourceDecodeError)
        -> JSONValue
    {
        guard let schema else { return value }
        switch value {
        case .object(var object):
            if schema.embeddedResource { try coerceResource(&object, path: path) }
            var entries = object.entries
            for index in entries.indices {
                let key = entries[index].key
                if let property = schema.property(key) {
                    entries[index].value = try coerce(entries[index].value, schema: property, path: path.child(key))
                } else if let additionalProperties = schema.additionalProperties {
                    entries[index].value = try coerce(
                        entries[index].value, schema: additionalProperties.schema, path: path.key(key))
                }
            }
            return .object(JSONObject(uniqueEntries: entries))
        case .array(var elements):
            for index in elements.indices {
                elements[index] = try coerce(elements[index], schema: schema.items, path: path.index(index))
            }
            return .array(elements)
        default:
            return value
        }
    }

    private mutating func coerceResource(_ object: inout JSONObject, path: FieldPath) throws(CustomResourceDecodeError)
    {
        for key in ["apiVersion", "kind"] {
            guard let member = object[key], member.stringValue == nil else { continue }
            if dropMalformed {
                object[key] = nil
            } else {
                let error = FieldError(
                    type: .invalid, field: path.child(key), badValue: .decoded(member), detail: "must be a string")
                throw CustomResourceDecodeError(message: error.description)
            }
        }
        guard let metadata = object["metadata"] else { return }
        let metadataPath = path.child("metadata")
        do {
            var coerced = try ObjectMetaCoercion.coerce(
                metadata, prefix: metadataPath.description, dropMalformed: dropMalformed,
                unknownFieldPaths: &unknownFieldPaths)
            if coerced["creationTimestamp"] == .null { coerced["creationTimestamp"] = nil }
            object["metadata"] = coerced
        } catch {
            if dropMalformed { return }
            let fieldError = FieldError(
                type: .invalid, field: metadataPath, badValue: .decoded(metadata), detail: error.message)
            throw CustomResourceDecodeError(message: fieldError.description)
        }
    }
}
