// One node of a CRD version's `openAPIV3Schema`, read once from its JSON. It carries both views apiextensions-
// apiserver takes of the same schema: the kube-openapi `spec.Schema` the validator walks (every keyword, junctors
// included, formats stripped to the supported ones by StripUnsupportedFormatsPostProcessorForVersion) and the
// structural schema pruning, defaulting and list-type checks walk (`properties`, `items`, `additionalProperties`,
// `default`, `nullable` and the x-kubernetes extensions, never what sits under allOf/anyOf/oneOf/not).
// Reference: kubernetes/apiextensions-apiserver pkg/apiserver/validation/validation.go (ConvertJSONSchemaProps),
// formats.go, and pkg/apiserver/schema/convert.go (NewStructural).

/// What `additionalProperties` says: a boolean, or a schema for every value.
enum AdditionalProperties: Sendable {
    case allows(Bool)
    case schema(SchemaNode)

    /// The structural schema of the values (`true` has none: pruning then drops everything below).
    var schema: SchemaNode? { if case .schema(let node) = self { node } else { nil } }
}

/// What pruning needs to know of a schema node.
protocol StructuralSchema {
    func property(_ name: String) -> SchemaNode?
    var additionalProperties: AdditionalProperties? { get }
    var items: SchemaNode? { get }
    var preservesUnknownFields: Bool { get }
    var embeddedResource: Bool { get }
}

extension StructuralSchema {
    /// The structural schema of the value under key `name`: the property's, else additionalProperties'.
    /// `known` is false when neither applies (the key is unknown).
    func schema(forKey name: String) -> (schema: SchemaNode?, known: Bool) {
        if let node = property(name) { return (node, true) }
        if let additionalProperties { return (additionalProperties.schema, true) }
        return (nil, false)
    }
}

/// A node's structure before the node exists (its default is pruned while it is being built).
private struct StructuralShape: StructuralSchema {
    let propertyIndex: [String: Int]
    let properties: [(name: String, schema: SchemaNode)]
    let additionalProperties: AdditionalProperties?
    let items: SchemaNode?
    let preservesUnknownFields: Bool
    let embeddedResource: Bool

    func property(_ name: String) -> SchemaNode? { propertyIndex[name].map { properties[$0].schema } }
}

/// A parsed schema node; immutable, shared between concurrent validations.
final class SchemaNode: Sendable, StructuralSchema {
    /// The `type` keyword as written (`""` when absent).
    let type: String
    /// The types kube-openapi checks: `[type]`, `["integer", "string"]` for x-kubernetes-int-or-string, or none.
    let types: [String]
    /// The format left after unsupported ones are stripped (`""` for none).
    let format: String
    let nullable: Bool
    /// The default value, after pruning to the schema (nil when absent or `null`).
    let defaultValue: JSONValue?
    let properties: [(name: String, schema: SchemaNode)]
    private let propertyIndex: [String: Int]
    let additionalProperties: AdditionalProperties?
    let items: SchemaNode?
    let required: [String]
    let maximum: Double?
    let exclusiveMaximum: Bool
    let minimum: Double?
    let exclusiveMinimum: Bool
    let multipleOf: Double?
    let maxLength: Int64?
    let minLength: Int64?
    let pattern: String
    let maxItems: Int64?
    let minItems: Int64?
    let uniqueItems: Bool
    let maxProperties: Int64?
    let minProperties: Int64?
    /// nil when absent; `null` entries are kept (they never match, as in kube-openapi).
    let enumValues: [JSONValue]?
    let allOf: [SchemaNode]
    let anyOf: [SchemaNode]
    let oneOf: [SchemaNode]
    let not: SchemaNode?
    let preservesUnknownFields: Bool
    let embeddedResource: Bool
    let intOrString: Bool
    let listType: String?
    let listMapKeys: [String]

    fileprivate init(reading reader: SchemaNodeReader) throws(CustomResourceSchemaError) {
        type = try reader.string("type") ?? ""
        intOrString = try reader.bool("x-kubernetes-int-or-string") ?? false
        types = intOrString ? ["integer", "string"] : (type.isEmpty ? [] : [type])
        format = Self.supportedFormat(
            try reader.string("format") ?? "", types: types, compatibilityMinorVersion: reader.compatibilityMinorVersion
        )
        nullable = try reader.bool("nullable") ?? false
        var parsedProperties: [(name: String, schema: SchemaNode)] = []
        var index: [String: Int] = [:]
        for (name, value) in try reader.object("properties") ?? JSONObject() {
            index[name] = parsedProperties.count
            parsedProperties.append((name, try reader.child(value, path: reader.path.child("properties").key(name))))
        }
        properties = parsedProperties
        propertyIndex = index
        switch reader.member("additionalProperties") {
        case nil, .null?: additionalProperties = nil
        case .bool(let allows)?: additionalProperties = .allows(allows)
        case let value?:
            additionalProperties = .schema(try reader.child(value, path: reader.path.child("additionalProperties")))
        }
        items = try reader.member("items").map { value throws(CustomResourceSchemaError) in
            if case .array = value { throw reader.error("items", "must be a schema, not an array of schemas") }
            return try reader.child(value, path: reader.path.child("items"))
        }
        required = try reader.strings("required")
        maximum = try reader.number("maximum")
        exclusiveMaximum = try reader.bool("exclusiveMaximum") ?? false
        minimum = try reader.number("minimum")
        exclusiveMinimum = try reader.bool("exclusiveMinimum") ?? false
        multipleOf = try reader.number("multipleOf")
        maxLength = try reader.integer("maxLength")
        minLength = try reader.integer("minLength")
        pattern = try reader.string("pattern") ?? ""
        maxItems = try reader.integer("maxItems")
        minItems = try reader.integer("minItems")
        uniqueItems = try reader.bool("uniqueItems") ?? false
        maxProperties = try reader.integer("maxProperties")
        minProperties = try reader.integer("minProperties")
        enumValues = try reader.array("enum")
        allOf = try reader.schemas("allOf")
        anyOf = try reader.schemas("anyOf")
        oneOf = try reader.schemas("oneOf")
        not = try reader.member("not").map { value throws(CustomResourceSchemaError) in
            try reader.child(value, path: reader.path.child("not"))
        }
        preservesUnknownFields = try reader.bool("x-kubernetes-preserve-unknown-fields") ?? false
        embeddedResource = try reader.bool("x-kubernetes-embedded-resource") ?? false
        listType = try reader.string("x-kubernetes-list-type")
        listMapKeys = try reader.strings("x-kubernetes-list-map-keys")
        for keyword in ["$ref", "patternProperties", "dependencies", "additionalItems", "definitions"]
        where reader.member(keyword) != nil {
            throw reader.error(keyword, "is not supported in a CustomResourceDefinition schema")
        }
        // Defaults are pruned to the schema they sit in, as PruneDefaults does when the CRD is loaded.
        let shape = StructuralShape(
            propertyIndex: index, properties: parsedProperties, additionalProperties: additionalProperties,
            items: items, preservesUnknownFields: preservesUnknownFields, embeddedResource: embeddedResource)
        if let rawDefault = reader.member("default"), rawDefault != .null {
            defaultValue = SchemaPruner.prune(rawDefault, schema: shape)
        } else {
            defaultValue = nil
        }
    }

    /// The schema of property `name`, if declared.
    func property(_ name: String) -> SchemaNode? { propertyIndex[name].map { properties[$0].schema } }

    /// The format kube-openapi sees: formats a Kubernetes release does not validate are dropped
    /// (formats.go `StripUnsupportedFormatsPostProcessorForVersion`).
    static func supportedFormat(_ format: String, types: [String], compatibilityMinorVersion: Int) -> String {
        guard !format.isEmpty else { return "" }
        switch types.count == 1 ? types[0] : "" {
        case "", "string":
            let normalized = format.replacing("-", with: "")
            if StringFormats.validatedFormats.contains(normalized) { return format }
            if compatibilityMinorVersion >= 34, StringFormats.kubernetesNameFormats.contains(normalized) {
                return format
            }
            return ""
        case "integer": return format == "int32" || format == "int64" ? format : ""
        case "number": return format == "float" || format == "double" ? format : ""
        default: return ""
        }
    }
}

/// A schema the server cannot use: not an object where a schema belongs, a keyword of the wrong JSON type, or a
/// keyword apiextensions refuses (`$ref`, `patternProperties`, ...).
public struct CustomResourceSchemaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where in the schema (`openAPIV3Schema.properties[spec].type`).
    public var field: String
    public var message: String
    public var description: String { "\(field): \(message)" }
}

/// Reads one schema object's keywords, reporting wrong JSON types with the keyword's path.
private struct SchemaNodeReader {
    let object: JSONObject
    let path: FieldPath
    let compatibilityMinorVersion: Int

    func member(_ key: String) -> JSONValue? { object[key] }

    func error(_ key: String, _ message: String) -> CustomResourceSchemaError {
        CustomResourceSchemaError(field: path.child(key).description, message: message)
    }

    func child(_ value: JSONValue, path: FieldPath) throws(CustomResourceSchemaError) -> SchemaNode {
        try SchemaNode.parse(value, path: path, compatibilityMinorVersion: compatibilityMinorVersion)
    }

    func string(_ key: String) throws(CustomResourceSchemaError) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw error(key, "must be a string")
        }
    }

    func bool(_ key: String) throws(CustomResourceSchemaError) -> Bool? {
        switch object[key] {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        default: throw error(key, "must be a boolean")
        }
    }

    func number(_ key: String) throws(CustomResourceSchemaError) -> Double? {
        switch object[key] {
        case nil, .null?: return nil
        case .int(let integer)?: return Double(integer)
        case .double(let double)?: return double
        default: throw error(key, "must be a number")
        }
    }

    func integer(_ key: String) throws(CustomResourceSchemaError) -> Int64? {
        switch object[key] {
        case nil, .null?: return nil
        case let value?:
            guard let integer = value.intValue else { throw error(key, "must be an integer") }
            return integer
        }
    }

    func object(_ key: String) throws(CustomResourceSchemaError) -> JSONObject? {
        switch object[key] {
        case nil, .null?: return nil
        case .object(let members)?: return members
        default: throw error(key, "must be an object")
        }
    }

    func array(_ key: String) throws(CustomResourceSchemaError) -> [JSONValue]? {
        switch object[key] {
        case nil, .null?: return nil
        case .array(let elements)?: return elements
        default: throw error(key, "must be an array")
        }
    }

    func strings(_ key: String) throws(CustomResourceSchemaError) -> [String] {
        var result: [String] = []
        for element in try array(key) ?? [] {
            guard case .string(let text) = element else { throw error(key, "must be an array of strings") }
            result.append(text)
        }
        return result
    }

    func schemas(_ key: String) throws(CustomResourceSchemaError) -> [SchemaNode] {
        var result: [SchemaNode] = []
        for (offset, element) in (try array(key) ?? []).enumerated() {
            result.append(try child(element, path: path.child(key).index(offset)))
        }
        return result
    }
}

extension SchemaNode {
    /// Reads a schema node and everything below it.
    static func parse(_ value: JSONValue, path: FieldPath, compatibilityMinorVersion: Int)
        throws(CustomResourceSchemaError) -> SchemaNode
    {
        guard case .object(let object) = value else {
            throw CustomResourceSchemaError(field: path.description, message: "must be an object")
        }
        return try SchemaNode(
            reading: SchemaNodeReader(object: object, path: path, compatibilityMinorVersion: compatibilityMinorVersion))
    }
}
