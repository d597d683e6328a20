/// How server-side apply sees a value's schema: structured-merge-diff's types as kube-openapi's `schemaconv`
/// derives them from the OpenAPI schema (`pkg/schemaconv/openapi.go`, `smd.go`):
/// - a struct (properties) or a map (additionalProperties) is granular: each field or key is owned on its own,
///   unless `x-kubernetes-map-type: atomic` makes it one leaf;
/// - a list is associative by `x-kubernetes-list-type` (`map` with `x-kubernetes-list-map-keys`, `set`), or, with
///   no list type, by `x-kubernetes-patch-strategy: merge` (keyed by `x-kubernetes-patch-merge-key`, a set without
///   one); every other list (`atomic`, `retainKeys`, none) is one leaf;
/// - a schema that says nothing (`type: object` alone, an empty schema, a field the schema does not name) is
///   "deduced": objects granular, lists atomic; `RawExtension` is atomic throughout, `Quantity` a scalar.
enum ApplyType: Sendable {
    case typed(KubeSchemaNode)
    /// SMD's `__untyped_deduced_`: objects are granular maps of deduced values, lists are leaves.
    case deduced
    /// SMD's `__untyped_atomic_`: every value is a leaf.
    case atomic

    static let rawExtensionDefinition = "io.k8s.apimachinery.pkg.runtime.RawExtension"

    init(_ schema: KubeSchemaNode?) {
        self = schema.map(ApplyType.typed) ?? .deduced
    }

    /// How a value of this type is walked: SMD's `deduceAtom` picks by the value (null takes the type's container
    /// form, which walks as empty).
    func atom(for value: JSONValue) -> ApplyAtom {
        switch self {
        case .atomic: return .leaf
        case .deduced:
            switch value {
            case .object, .null: return .map(.deduced)
            default: return .leaf
            }
        case .typed(let node):
            switch (node.kind, value) {
            case (.object, .object), (.object, .null), (.map, .object), (.map, .null):
                return node.mapType == "atomic" ? .leaf : .map(self)
            case (.freeForm, .object), (.freeForm, .null):
                if node.definitionName == Self.rawExtensionDefinition || node.mapType == "atomic" { return .leaf }
                return .map(.deduced)
            case (.list, .array), (.list, .null):
                return Self.listShape(node).map(ApplyAtom.list) ?? .leaf
            default:
                return .leaf
            }
        }
    }

    /// The type of field or map key `name` inside a map of this type, and whether the schema declares it as a
    /// struct field (SMD's `FindField`; map keys and unknown fields are not declared).
    func child(_ name: String) -> (type: ApplyType, declared: Bool) {
        guard case .typed(let node) = self else { return (self == .atomic ? .atomic : .deduced, false) }
        switch node.kind {
        case .object:
            if let field = node.property(name) { return (.typed(field), true) }
            return (node.mapValues.map(ApplyType.typed) ?? .deduced, false)
        case .map:
            return (node.mapValues.map(ApplyType.typed) ?? .deduced, false)
        default:
            return (.deduced, false)
        }
    }

    /// Whether `name` is a struct field of this type.
    func declaresField(_ name: String) -> Bool {
        guard case .typed(let node) = self, node.kind == .object else { return false }
        return node.property(name) != nil
    }

    /// The type below one element of a set, with no value at hand (for walking field sets along the schema).
    func child(of element: FieldPathElement) -> ApplyType? {
        switch element {
        case .field(let name):
            if case .typed(let node) = self, node.kind != .object, node.kind != .map, node.kind != .freeForm {
                return nil
            }
            return child(name).type
        case .key:
            guard case .typed(let node) = self, node.kind == .list else { return self == .deduced ? .atomic : nil }
            return node.items.map(ApplyType.typed) ?? .atomic
        case .value, .index:
            return nil
        }
    }

    /// The associative shape of a list node; nil for an atomic list. `getListElementRelationship`.
    static func listShape(_ node: KubeSchemaNode) -> ApplyListShape? {
        let element = node.items.map(ApplyType.typed) ?? .atomic
        switch node.listType {
        case "atomic": return nil
        case "set": return ApplyListShape(keys: [], element: element)
        case "map": return ApplyListShape(keys: node.listMapKeys, element: element)
        case nil:
            let strategies = node.patchStrategies
            guard strategies == ["merge"] || strategies == ["merge", "retainKeys"] else { return nil }
            return ApplyListShape(keys: node.patchMergeKey.map { [$0] } ?? [], element: element)
        default: return nil
        }
    }
}

extension ApplyType: Equatable {
    static func == (left: ApplyType, right: ApplyType) -> Bool {
        switch (left, right) {
        case (.typed(let a), .typed(let b)): a == b
        case (.deduced, .deduced), (.atomic, .atomic): true
        default: false
        }
    }
}

/// How one value is walked.
enum ApplyAtom {
    /// A scalar, or an atomic list or map: owned, merged and compared whole.
    case leaf
    /// A granular map or struct; the type answers for its fields.
    case map(ApplyType)
    /// An associative list: keyed (`keys` not empty) or a set.
    case list(ApplyListShape)
}

/// An associative list: the key fields of its elements (none for a set) and their type.
struct ApplyListShape {
    var keys: [String]
    var element: ApplyType

    /// The path element naming `item`: its key fields (with schema defaults for missing ones), or its value in a
    /// set. SMD's `listItemToPathElement`, with its error texts.
    func pathElement(for item: JSONValue) -> Result<FieldPathElement, ApplyValueError> {
        guard !keys.isEmpty else {
            switch item {
            case .object: return .failure("associative list without keys has an element that's a map type")
            case .array: return .failure("not supported: associative list with lists as elements")
            case .null: return .failure("associative list without keys has an element that's an explicit null")
            default: return .success(.value(item))
            }
        }
        guard case .object(let object) = item else {
            if item == .null { return .failure("associative list with keys may not have a null element") }
            return .failure("associative list with keys may not have non-map elements")
        }
        var fields: [FieldPathKeyField] = []
        for name in keys {
            if let value = object[name] {
                fields.append(FieldPathKeyField(name: name, value: value))
            } else if case .typed(let node) = element, let defaultValue = node.property(name)?.defaultValue {
                fields.append(FieldPathKeyField(name: name, value: defaultValue))
            }
        }
        if fields.isEmpty {
            let names = keys.map(FieldPathText.goQuoted).joined(separator: " ")
            return .failure(
                ApplyValueError(
                    path: "",
                    message: "associative list with keys has an element that omits all key fields [\(names)] "
                        + "(and doesn't have default values for any key fields)"))
        }
        return .success(.key(ManagedFields.sortedKeyFields(fields)))
    }
}

/// A value the schema cannot walk: SMD's `ValidationError` (a path and a message).
struct ApplyValueError: Error, ExpressibleByStringLiteral {
    var path = ""
    var message: String

    init(stringLiteral message: String) { self.message = message }
    init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    var text: String { path.isEmpty ? message : "\(path): \(message)" }
}
