/// The Kubernetes API's type schemas: what each field of each built-in kind is, and how strategic merge patch,
/// field validation and pruning treat it.
///
/// The built-in catalogue (`shared`) is generated once from upstream's published OpenAPI v3 documents by
/// scripts/generate-kube-schemas and compiled in as a string (KubeSchemaCatalogueData.swift): no resource bundle
/// to find at run time. It holds facts only, in our own compact JSON:
///
///     {"format":"kelson-kube-schemas/1",
///      "source":{"revision":…,"path":"api/openapi-spec/v3","files":[…]},
///      "definitions":{"io.k8s.api.core.v1.Pod":{"type":"object","gvk":[["","v1","Pod"]],"properties":{…}},…}}
///
/// A schema has OpenAPI's keywords `type`, `format`, `$ref` (the bare definition name), `properties`, `required`,
/// `items`, `additionalProperties`, `oneOf`, `enum`, `default`, the `x-kubernetes-*` extensions that matter to an
/// API server, and `gvk` for `x-kubernetes-group-version-kind`. `shared` parses the text once, on first use, into a
/// flat table of records with every `$ref` resolved to a table index.
public final class KubeSchemaCatalogue: Sendable {
    /// The catalogue compiled into Kelson.
    public static let shared: KubeSchemaCatalogue = {
        do {
            return try KubeSchemaCatalogue(text: builtInText)
        } catch {
            fatalError("the built-in Kubernetes schema catalogue does not load: \(error)")
        }
    }()

    static let formatName = "kelson-kube-schemas/1"

    /// Where the definitions came from: `{"revision":…,"path":…,"files":[…]}`.
    public let source: JSONValue
    /// The names of all definitions, in the catalogue's order.
    public let definitionNames: [String]

    let table: KubeSchemaTable
    private let definitionIndexes: [String: Int32]
    private let kindIndexes: [KubeGroupVersionKind: Int32]

    /// The upstream revision the catalogue was generated from.
    public var upstreamRevision: String { source["revision"]?.stringValue ?? "" }

    /// Loads a catalogue from its compact JSON text.
    public convenience init(text: String) throws {
        let document: JSONValue
        do {
            document = try SchemaJSONReader.read(text)
        } catch {
            throw KubeSchemaCatalogueError("\(error)")
        }
        try self.init(document: document)
    }

    /// Loads a catalogue from its compact JSON form, already parsed (tests build small ones this way).
    public init(document: JSONValue) throws {
        guard let root = document.objectValue, root["format"]?.stringValue == Self.formatName else {
            throw KubeSchemaCatalogueError("not a \(Self.formatName) document")
        }
        guard let definitions = root["definitions"]?.objectValue else {
            throw KubeSchemaCatalogueError("no definitions")
        }
        var builder = KubeSchemaTableBuilder()
        var indexes: [String: Int32] = [:]
        for (name, _) in definitions {
            indexes[name] = builder.appendRecord(KubeSchemaRecord(definitionName: name))
        }
        for (offset, (name, schema)) in definitions.enumerated() {
            try builder.fill(Int32(offset), from: schema, path: name)
        }
        try builder.resolveReferences(indexes)
        table = KubeSchemaTable(records: builder.records)

        var kinds: [KubeGroupVersionKind: Int32] = [:]
        for index in 0..<Int32(definitions.count) {
            for groupVersionKind in table.records[Int(index)].groupVersionKinds where kinds[groupVersionKind] == nil {
                kinds[groupVersionKind] = index
            }
        }
        source = root["source"] ?? .null
        definitionNames = definitions.keys
        definitionIndexes = indexes
        kindIndexes = kinds
    }

    /// The definition `name` (`io.k8s.api.apps.v1.Deployment`).
    public func definition(named name: String) -> KubeSchemaNode? {
        definitionIndexes[name].map { KubeSchemaNode(table: table, index: $0) }
    }

    /// The definition served as `group`/`version`, `kind` (group `""` for the core group).
    public func definition(forGroup group: String, version: String, kind: String) -> KubeSchemaNode? {
        definition(for: KubeGroupVersionKind(group: group, version: version, kind: kind))
    }

    public func definition(for groupVersionKind: KubeGroupVersionKind) -> KubeSchemaNode? {
        kindIndexes[groupVersionKind].map { KubeSchemaNode(table: table, index: $0) }
    }

    /// Every kind some definition is served as, by group, version and kind.
    public var groupVersionKinds: [KubeGroupVersionKind] {
        kindIndexes.keys.sorted { ($0.group, $0.version, $0.kind) < ($1.group, $1.version, $1.kind) }
    }
}

/// A catalogue that does not load: what is wrong, and where.
public struct KubeSchemaCatalogueError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { "kube schema catalogue: \(message)" }
}

/// One schema object of the catalogue, as loaded. Indexes point into the table's records; -1 is none.
struct KubeSchemaRecord: Sendable {
    var definitionName: String?
    var type: String?
    var format: String?
    var reference: Int32 = -1
    var properties: [String: Int32] = [:]
    var propertyNames: [String] = []
    var required: [String] = []
    var items: Int32 = -1
    var additionalProperties: Int32 = -1
    var oneOf: [Int32] = []
    var enumValues: [JSONValue]?
    var defaultValue: JSONValue?
    var groupVersionKinds: [KubeGroupVersionKind] = []
    var patchStrategy: String?
    var patchMergeKey: String?
    var listType: String?
    var listMapKeys: [String]?
    var mapType: String?
    var intOrString = false
    var preserveUnknownFields = false
    var embeddedResource = false

    init(definitionName: String? = nil) { self.definitionName = definitionName }
}

/// The loaded records, immutable; `kinds[i]` is record i's shape, worked out once.
final class KubeSchemaTable: Sendable {
    /// `$ref` chains longer than this are treated as broken (the generator never writes chains; this bounds cycles).
    static let referenceHopsMaximum = 16

    let records: [KubeSchemaRecord]
    let kinds: [KubeSchemaKind]

    init(records: [KubeSchemaRecord]) {
        self.records = records
        var kinds: [KubeSchemaKind] = []
        kinds.reserveCapacity(records.count)
        for index in records.indices { kinds.append(Self.kind(of: records[index], in: records)) }
        self.kinds = kinds
    }

    /// `index` with its `$ref`s followed.
    func resolve(_ index: Int32) -> Int32 {
        var current = index
        for _ in 0..<Self.referenceHopsMaximum {
            let next = records[Int(current)].reference
            if next < 0 { return current }
            current = next
        }
        return current
    }

    private static func kind(of record: KubeSchemaRecord, in records: [KubeSchemaRecord]) -> KubeSchemaKind {
        if record.intOrString || record.format == "int-or-string" { return .primitive(.integerOrString) }
        switch record.type {
        case "array": return .list
        case "string": return .primitive(.string)
        case "integer": return .primitive(.integer)
        case "number": return .primitive(.number)
        case "boolean": return .primitive(.boolean)
        case "object", nil:
            if !record.properties.isEmpty { return .object }
            if record.additionalProperties >= 0 { return .map }
            if record.type == nil, !record.oneOf.isEmpty { return kind(ofAlternatives: record.oneOf, in: records) }
            return .freeForm
        default: return .freeForm
        }
    }

    private static func kind(ofAlternatives alternatives: [Int32], in records: [KubeSchemaRecord]) -> KubeSchemaKind {
        let types = Set(alternatives.map { records[Int($0)].type ?? "" })
        switch types {
        case ["integer", "string"]: return .primitive(.integerOrString)
        case ["number", "string"]: return .primitive(.numberOrString)
        default: return .freeForm
        }
    }
}

/// Builds the table from the compact JSON, leaving `$ref`s by name until every definition has an index.
struct KubeSchemaTableBuilder {
    private(set) var records: [KubeSchemaRecord] = []
    private var pendingReferences: [(record: Int32, name: String, path: String)] = []

    mutating func appendRecord(_ record: KubeSchemaRecord) -> Int32 {
        records.append(record)
        return Int32(records.count - 1)
    }

    mutating func fill(_ index: Int32, from schema: JSONValue, path: String) throws {
        guard let object = schema.objectValue else { throw KubeSchemaCatalogueError("\(path): not an object") }
        var record = records[Int(index)]
        for (key, value) in object {
            switch key {
            case "$ref": pendingReferences.append((index, try string(value, path, key), path))
            case "type": record.type = try string(value, path, key)
            case "format": record.format = try string(value, path, key)
            case "gvk": record.groupVersionKinds = try groupVersionKinds(value, path)
            case "properties":
                guard let properties = value.objectValue else { throw KubeSchemaCatalogueError("\(path): properties") }
                for (name, property) in properties {
                    let child = appendRecord(KubeSchemaRecord())
                    try fill(child, from: property, path: "\(path).\(name)")
                    record.properties[name] = child
                    record.propertyNames.append(name)
                }
            case "required": record.required = try strings(value, path, key)
            case "items": record.items = try child(from: value, path: "\(path)[]")
            case "additionalProperties":
                // `true` is the same as no additionalProperties for our purposes: any value, left as it is.
                if value.boolValue == nil { record.additionalProperties = try child(from: value, path: "\(path){}") }
            case "oneOf":
                guard let alternatives = value.arrayValue else { throw KubeSchemaCatalogueError("\(path): oneOf") }
                for alternative in alternatives { record.oneOf.append(try child(from: alternative, path: path)) }
            case "enum": record.enumValues = value.arrayValue
            case "default": record.defaultValue = value
            case "x-kubernetes-patch-strategy": record.patchStrategy = try string(value, path, key)
            case "x-kubernetes-patch-merge-key": record.patchMergeKey = try string(value, path, key)
            case "x-kubernetes-list-type": record.listType = try string(value, path, key)
            case "x-kubernetes-list-map-keys": record.listMapKeys = try strings(value, path, key)
            case "x-kubernetes-map-type": record.mapType = try string(value, path, key)
            case "x-kubernetes-int-or-string": record.intOrString = value.boolValue ?? false
            case "x-kubernetes-preserve-unknown-fields": record.preserveUnknownFields = value.boolValue ?? false
            case "x-kubernetes-embedded-resource": record.embeddedResource = value.boolValue ?? false
            default: throw KubeSchemaCatalogueError("\(path): unknown keyword \(key)")
            }
        }
        records[Int(index)] = record
    }

    mutating func resolveReferences(_ definitions: [String: Int32]) throws {
        for reference in pendingReferences {
            guard let target = definitions[reference.name] else {
                throw KubeSchemaCatalogueError("\(reference.path): $ref to a missing definition \(reference.name)")
            }
            records[Int(reference.record)].reference = target
        }
        pendingReferences = []
    }

    private mutating func child(from schema: JSONValue, path: String) throws -> Int32 {
        let index = appendRecord(KubeSchemaRecord())
        try fill(index, from: schema, path: path)
        return index
    }

    private func string(_ value: JSONValue, _ path: String, _ key: String) throws -> String {
        guard let string = value.stringValue else { throw KubeSchemaCatalogueError("\(path): \(key) is not a string") }
        return string
    }

    private func strings(_ value: JSONValue, _ path: String, _ key: String) throws -> [String] {
        guard let array = value.arrayValue else { throw KubeSchemaCatalogueError("\(path): \(key) is not a list") }
        return try array.map { try string($0, path, key) }
    }

    private func groupVersionKinds(_ value: JSONValue, _ path: String) throws -> [KubeGroupVersionKind] {
        guard let array = value.arrayValue else { throw KubeSchemaCatalogueError("\(path): gvk is not a list") }
        return try array.map { entry in
            let parts = try strings(entry, path, "gvk")
            guard parts.count == 3 else {
                throw KubeSchemaCatalogueError("\(path): gvk entries are [group, version, kind]")
            }
            return KubeGroupVersionKind(group: parts[0], version: parts[1], kind: parts[2])
        }
    }
}
