/// A Kubernetes API group, version and kind (`apps`, `v1`, `Deployment`; the core group is `""`).
public struct KubeGroupVersionKind: Hashable, Sendable, CustomStringConvertible {
    public var group: String
    public var version: String
    public var kind: String

    public init(group: String, version: String, kind: String) {
        self.group = group
        self.version = version
        self.kind = kind
    }

    /// `apps/v1, Kind=Deployment`, as apimachinery prints a GroupVersionKind.
    public var description: String {
        group.isEmpty ? "/\(version), Kind=\(kind)" : "\(group)/\(version), Kind=\(kind)"
    }
}

/// What a schema node accepts, after following `$ref`.
public enum KubeSchemaKind: Hashable, Sendable {
    /// A struct: named properties (`io.k8s.api.core.v1.PodSpec`).
    case object
    /// String keys of the caller's choosing, every value of one schema (`labels`, `resources.limits`).
    case map
    /// An array; the node's `items` describes the elements, its patch strategy and list type how they merge.
    case list
    case primitive(KubePrimitiveType)
    /// Anything at all, left as it is: `RawExtension`, `FieldsV1`, apiextensions' `JSON`, an empty schema,
    /// `type: object` with neither properties nor additionalProperties.
    case freeForm
}

/// The JSON value(s) a primitive accepts.
public enum KubePrimitiveType: String, Hashable, Sendable {
    case string, integer, number, boolean
    /// `IntOrString` (format `int-or-string`, or `x-kubernetes-int-or-string`): an integer or a string.
    case integerOrString
    /// `resource.Quantity`: a string or a number.
    case numberOrString
}

/// One schema in a `KubeSchemaCatalogue`: a type definition, or a property, list item or map value of one.
///
/// A node made for a property keeps the property's own facts (patch strategy, merge key, list type, default) and
/// reads its shape through the `$ref` it names, resolved once when the catalogue was loaded. Nodes are small values
/// (a table reference and two indexes); navigating never allocates beyond the result.
public struct KubeSchemaNode: Hashable, Sendable, CustomStringConvertible {
    let table: KubeSchemaTable
    /// The record for this node itself (a property, items or additionalProperties schema, or a definition).
    let index: Int32
    /// The record its shape comes from: `index` with every `$ref` followed.
    let target: Int32

    init(table: KubeSchemaTable, index: Int32) {
        self.table = table
        self.index = index
        self.target = table.resolve(index)
    }

    public static func == (lhs: KubeSchemaNode, rhs: KubeSchemaNode) -> Bool {
        lhs.table === rhs.table && lhs.index == rhs.index
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(table))
        hasher.combine(index)
    }

    private var own: KubeSchemaRecord { table.records[Int(index)] }
    private var shape: KubeSchemaRecord { table.records[Int(target)] }

    /// The definition this node is, or refers to (`io.k8s.api.core.v1.Container`); nil for an inline schema.
    public var definitionName: String? { shape.definitionName }

    /// The kinds a top-level definition is served as (`x-kubernetes-group-version-kind`).
    public var groupVersionKinds: [KubeGroupVersionKind] { shape.groupVersionKinds }

    public var kind: KubeSchemaKind { table.kinds[Int(target)] }

    /// `int32`, `int64`, `date-time`, `byte`, `int-or-string`, … (the property's own, else its type's).
    public var format: String? { own.format ?? shape.format }

    /// The property `name` of an object node.
    public func property(_ name: String) -> KubeSchemaNode? {
        guard let child = shape.properties[name] else { return nil }
        return KubeSchemaNode(table: table, index: child)
    }

    /// The property names of an object node, in the catalogue's (alphabetical) order.
    public var propertyNames: [String] { shape.propertyNames }

    public var required: [String] { shape.required }

    /// The element schema of a list node.
    public var items: KubeSchemaNode? {
        shape.items < 0 ? nil : KubeSchemaNode(table: table, index: shape.items)
    }

    /// The value schema of a map node (`additionalProperties`); nil for `additionalProperties: true`.
    public var mapValues: KubeSchemaNode? {
        shape.additionalProperties < 0 ? nil : KubeSchemaNode(table: table, index: shape.additionalProperties)
    }

    /// `x-kubernetes-patch-strategy` split at commas: `["merge"]`, `["retainKeys"]`, `["merge", "retainKeys"]`.
    public var patchStrategies: [String] {
        guard let strategy = own.patchStrategy ?? shape.patchStrategy, !strategy.isEmpty else { return [] }
        return strategy.split(separator: ",").map(String.init)
    }

    /// `x-kubernetes-patch-merge-key`: the field that identifies a list element when lists merge.
    public var patchMergeKey: String? { own.patchMergeKey ?? shape.patchMergeKey }

    /// `x-kubernetes-list-type`: `atomic`, `set` or `map`.
    public var listType: String? { own.listType ?? shape.listType }

    /// `x-kubernetes-list-map-keys` of a `map` list.
    public var listMapKeys: [String] { own.listMapKeys ?? shape.listMapKeys ?? [] }

    /// `x-kubernetes-map-type`: `atomic` or `granular`.
    public var mapType: String? { own.mapType ?? shape.mapType }

    public var enumValues: [JSONValue]? { own.enumValues ?? shape.enumValues }

    public var defaultValue: JSONValue? { own.defaultValue ?? shape.defaultValue }

    /// `x-kubernetes-preserve-unknown-fields`: fields the schema does not name are kept, not reported.
    public var preservesUnknownFields: Bool { own.preserveUnknownFields || shape.preserveUnknownFields }

    /// `x-kubernetes-embedded-resource`: the value is a whole object with apiVersion, kind and metadata.
    public var isEmbeddedResource: Bool { own.embeddedResource || shape.embeddedResource }

    public var description: String {
        let name = definitionName.map { " \($0)" } ?? ""
        return "KubeSchemaNode(\(kind)\(name))"
    }
}
