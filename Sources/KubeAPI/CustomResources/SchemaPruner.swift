// Pruning of unknown fields, as apiextensions-apiserver does when it decodes a custom resource (from a request body
// and from storage alike): pkg/apiserver/schema/pruning/algorithm.go, then PruneNonNullableNullsWithoutDefaults
// (pkg/apiserver/schema/defaulting/prunenulls.go).
//
// - A field is kept when the schema declares it under `properties`, or the object has `additionalProperties`
//   (`additionalProperties: true` has no schema, so everything below such a value is pruned, as upstream).
// - Under `x-kubernetes-preserve-unknown-fields: true` unknown fields stay, but declared properties below are
//   pruned again by their own schemas.
// - `apiVersion`, `kind` and `metadata` are left alone at the root and in `x-kubernetes-embedded-resource`
//   objects; their metadata is cut down to ObjectMeta's fields separately (ObjectMetaCoercion).
// - A `null` whose schema is neither nullable nor defaulted is removed; one with a default is left for defaulting.
// Unknown field paths are recorded as upstream's UnknownFieldPathOptions writes them (`spec.foo`, `spec.list[0].x`)
// and sorted by bytes; they become the `unknown field "spec.foo"` warnings and strict-decoding errors.

enum SchemaPruner {
    static let metaFields: Set<String> = ["apiVersion", "kind", "metadata"]

    /// `value` pruned by `schema` (not as a resource root), without recording anything: PruneDefaults' use.
    static func prune(_ value: JSONValue, schema: some StructuralSchema) -> JSONValue {
        var run = PruneRun(tracksPaths: false)
        return run.prune(value, schema: schema, path: "")
    }
}

/// One pruning pass; collects the paths of what it drops when asked to.
struct PruneRun {
    let tracksPaths: Bool
    private(set) var unknownFieldPaths: [String] = []

    init(tracksPaths: Bool) { self.tracksPaths = tracksPaths }

    /// Prunes a whole custom resource: the root is treated as an embedded resource (its apiVersion, kind and
    /// metadata are not this pass's business), then non-nullable nulls without defaults are dropped.
    mutating func pruneResource(_ object: JSONValue, schema: SchemaNode?) -> JSONValue {
        let rootShape = RootShape(schema: schema)
        var result = prune(object, schema: rootShape, path: "")
        result = PruneRun.pruneNonNullableNulls(result, schema: schema)
        unknownFieldPaths.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return result
    }

    mutating func prune(_ value: JSONValue, schema: (some StructuralSchema)?, path: String) -> JSONValue {
        if let schema, schema.preservesUnknownFields { return skipPrune(value, schema: schema, path: path) }
        switch value {
        case .object(let object):
            var kept: [(key: String, value: JSONValue)] = []
            kept.reserveCapacity(object.count)
            for (key, member) in object {
                guard let schema else {
                    record(key, under: path)
                    continue
                }
                if schema.embeddedResource, SchemaPruner.metaFields.contains(key) {
                    kept.append((key, member))
                    continue
                }
                let (memberSchema, known) = schema.schema(forKey: key)
                if known {
                    kept.append((key, prune(member, schema: memberSchema, path: Self.join(path, key))))
                } else if !SchemaPruner.metaFields.contains(key) || !path.isEmpty {
                    // (A meta field at the root of a value that is not a resource is dropped without a word.)
                    record(key, under: path)
                }
            }
            return .object(JSONObject(uniqueEntries: kept))
        case .array(let elements):
            var result: [JSONValue] = []
            result.reserveCapacity(elements.count)
            for (offset, element) in elements.enumerated() {
                result.append(prune(element, schema: schema?.items, path: path + "[\(offset)]"))
            }
            return .array(result)
        default:
            return value
        }
    }

    /// Below `x-kubernetes-preserve-unknown-fields`: unknown fields stay, declared ones are pruned by their schema.
    private mutating func skipPrune(_ value: JSONValue, schema: some StructuralSchema, path: String) -> JSONValue {
        switch value {
        case .object(let object):
            var kept: [(key: String, value: JSONValue)] = []
            kept.reserveCapacity(object.count)
            for (key, member) in object {
                if schema.embeddedResource, SchemaPruner.metaFields.contains(key) {
                    kept.append((key, member))
                    continue
                }
                let (memberSchema, known) = schema.schema(forKey: key)
                kept.append((key, known ? prune(member, schema: memberSchema, path: Self.join(path, key)) : member))
            }
            return .object(JSONObject(uniqueEntries: kept))
        case .array(let elements):
            guard let items = schema.items else { return value }
            return .array(
                elements.enumerated().map { offset, element in
                    skipPrune(element, schema: items, path: path + "[\(offset)]")
                })
        default:
            return value
        }
    }

    private mutating func record(_ key: String, under path: String) {
        if tracksPaths { unknownFieldPaths.append(Self.join(path, key)) }
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// Drops `null` members whose schema is neither nullable nor has a default (prunenulls.go). Nothing changes
    /// below a value without a schema, so the walk stops there.
    static func pruneNonNullableNulls(_ value: JSONValue, schema: SchemaNode?) -> JSONValue {
        guard let schema else { return value }
        switch value {
        case .object(let object):
            var kept: [(key: String, value: JSONValue)] = []
            kept.reserveCapacity(object.count)
            for (key, member) in object {
                let memberSchema = schema.schema(forKey: key).schema
                if member == .null, let memberSchema, !memberSchema.nullable, memberSchema.defaultValue == nil {
                    continue
                }
                kept.append((key, pruneNonNullableNulls(member, schema: memberSchema)))
            }
            return .object(JSONObject(uniqueEntries: kept))
        case .array(let elements):
            return .array(elements.map { pruneNonNullableNulls($0, schema: schema.items) })
        default:
            return value
        }
    }
}

/// The root of a custom resource: its schema with x-kubernetes-embedded-resource forced on (upstream clones the
/// root schema with XEmbeddedResource set); no schema at all prunes every field but the meta ones.
private struct RootShape: StructuralSchema {
    let schema: SchemaNode?

    func property(_ name: String) -> SchemaNode? { schema?.property(name) }
    var additionalProperties: AdditionalProperties? { schema?.additionalProperties }
    var items: SchemaNode? { schema?.items }
    var preservesUnknownFields: Bool { schema?.preservesUnknownFields ?? false }
    var embeddedResource: Bool { true }
}
