/// Strategic merge patch (`application/strategic-merge-patch+json`), applied the way kube-apiserver applies it.
///
/// The semantics are apimachinery's `strategicpatch.StrategicMergeMapPatch` with the server's options (parallel
/// lists merged, unmatched nulls ignored); this is our own code, written from reading that package:
/// - objects merge key by key, recursively; `null` deletes a key;
/// - a list whose field has patch strategy `merge` and a merge key merges element by element on that key (elements
///   patched recursively, new ones added); a `merge` list of primitives is a set union; every other list is replaced;
///   a field with strategy `replace` is replaced whole;
/// - directives: `$patch: replace | delete` in an object, `$patch: replace | delete` as a list element,
///   `$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`;
/// - without a schema (no node, an unknown field, a free-form value) lists are replaced and objects merge: JSON
///   merge patch, directives still honoured.
/// Order: an object keeps its keys' positions, new keys follow in the patch's order; merged lists are ordered as
/// apimachinery orders them (`$setElementOrder` first, then the patch's order, then the live list's).
///
/// The result is the map kube-apiserver holds before decoding it into the typed object: like upstream it can hold
/// nulls inside new values and leftover directives such as `$retainKeys` in a value the original did not have, which
/// the typed decode drops (see `UnknownFields.prune`) or strict field validation reports.
public enum StrategicMergePatch {
    static let directiveMarker = "$patch"
    static let retainKeysDirective = "$retainKeys"
    static let setElementOrderPrefix = "$setElementOrder"
    static let deleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList"

    /// Applies `patch` to `original`; `schema` is the node of the object's type (nil: no schema, all lists replace).
    public static func apply(
        _ patch: JSONValue, to original: JSONValue, schema: KubeSchemaNode?
    ) throws(StrategicMergePatchError) -> JSONValue {
        let patchObject: JSONObject
        switch patch {
        case .object(let object): patchObject = object
        case .null: patchObject = JSONObject()
        default: throw .patchNotAnObject(patch)
        }
        let originalObject: JSONObject
        switch original {
        case .object(let object): originalObject = object
        case .null: originalObject = JSONObject()
        default: throw .patchNotAnObject(original)
        }
        return .object(try mergeMap(originalObject, patchObject, schema: schema))
    }

    /// What a field's schema says about patching it: apimachinery's PatchMeta.
    struct PatchMeta {
        var strategies: [String] = []
        var mergeKey = ""
    }

    /// The schema of `key`'s value inside an object of `schema`, and the patch facts of that field.
    static func lookupStruct(_ schema: KubeSchemaNode?, _ key: String) -> (KubeSchemaNode?, PatchMeta) {
        guard let schema else { return (nil, PatchMeta()) }
        switch schema.kind {
        case .object:
            guard let field = schema.property(key) else { return (nil, PatchMeta()) }
            return (field, PatchMeta(strategies: field.patchStrategies, mergeKey: field.patchMergeKey ?? ""))
        case .map:
            // A map's values carry no patch facts of their own (Go's struct tags live on fields).
            return (schema.mapValues, PatchMeta())
        default:
            return (nil, PatchMeta())
        }
    }

    /// The element schema of the list `key` inside an object of `schema`, and the list field's patch facts.
    static func lookupSlice(_ schema: KubeSchemaNode?, _ key: String) -> (KubeSchemaNode?, PatchMeta) {
        let (field, meta) = lookupStruct(schema, key)
        guard let field, field.kind == .list else { return (nil, PatchMeta()) }
        return (field.items, meta)
    }

    /// The strategy besides `retainKeys` in a field's strategies, as `extractRetainKeysPatchStrategy` reads them.
    static func strategyOtherThanRetainKeys(_ strategies: [String]) throws(StrategicMergePatchError) -> String {
        switch strategies.count {
        case 0: return ""
        case 1: return strategies[0] == "retainKeys" ? "" : strategies[0]
        case 2:
            if strategies[0] == "retainKeys" { return strategies[1] }
            if strategies[1] == "retainKeys" { return strategies[0] }
            throw .unexpectedPatchStrategy(strategies)
        default: throw .unexpectedPatchStrategy(strategies)
        }
    }

    static func mergeMap(
        _ original: JSONObject, _ patch: JSONObject, schema: KubeSchemaNode?
    ) throws(StrategicMergePatchError) -> JSONObject {
        var patch = patch
        if let directive = patch[directiveMarker] {
            switch directive {
            case .string("replace"):
                // The object is replaced by the patch as it stands (directives further down are not removed).
                patch[directiveMarker] = nil
                return patch
            case .string("delete"): return JSONObject()
            default: throw .unknownPatchType(directive, in: patch)
            }
        }
        var original = original
        try applyRetainKeys(&original, &patch)
        try mergeOrderedLists(&original, &patch, schema: schema)

        for (patchKey, patchValue) in patch {
            var key = patchKey
            var isDeleteList = false
            if patchKey.hasPrefix(deleteFromPrimitiveListPrefix) {
                key = try listName(in: patchKey, prefix: deleteFromPrimitiveListPrefix)
                isDeleteList = true
            }
            if patchValue == .null {
                original[key] = nil
                continue
            }
            guard let originalValue = original[key], sameGoType(originalValue, patchValue) else {
                // New, or of another type: take the patch's value (a list to delete from is simply dropped).
                if !isDeleteList { original[key] = removingDirectives(discardingNulls(patchValue)) }
                continue
            }
            switch (originalValue, patchValue) {
            case (.object(let originalMap), .object(let patchMap)):
                let (fieldSchema, meta) = lookupStruct(schema, key)
                let strategy = try strategyOtherThanRetainKeys(meta.strategies)
                original[key] = .object(
                    strategy == "replace" ? patchMap : try mergeMap(originalMap, patchMap, schema: fieldSchema))
            case (.array(let originalList), .array(let patchList)):
                let (itemSchema, meta) = lookupSlice(schema, key)
                let strategy = try strategyOtherThanRetainKeys(meta.strategies)
                original[key] = .array(
                    try mergeListField(
                        originalList, patchList, itemSchema: itemSchema, strategy: strategy, mergeKey: meta.mergeKey,
                        isDeleteList: isDeleteList))
            default:
                original[key] = removingDirectives(patchValue)
            }
        }
        return original
    }

    /// `$retainKeys: [names]`: the original keeps only the named keys, and the patch may set no others.
    static func applyRetainKeys(
        _ original: inout JSONObject, _ patch: inout JSONObject
    ) throws(StrategicMergePatchError) {
        guard let retained = patch.removeValue(forKey: retainKeysDirective) else { return }
        guard case .array(let names) = retained else { throw .badRetainKeysFormat }
        let kept = Set(names)
        for (key, value) in patch where value != .null {
            if key.hasPrefix(deleteFromPrimitiveListPrefix) || key.hasPrefix(setElementOrderPrefix) { continue }
            if !kept.contains(.string(key)) { throw .badRetainKeysFormat }
        }
        for key in original.keys where !kept.contains(.string(key)) { original[key] = nil }
    }

    /// `list` out of `$setElementOrder/list` or `$deleteFromPrimitiveList/list`.
    static func listName(in key: String, prefix: String) throws(StrategicMergePatchError) -> String {
        let parts = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == prefix else {
            throw prefix == setElementOrderPrefix ? .badSetElementOrderFormat : .badPrimitiveListFormat
        }
        return String(parts[1])
    }

    /// Whether Go would see the two decoded values as the same type (int64 and float64 differ, like maps and lists).
    static func sameGoType(_ left: JSONValue, _ right: JSONValue) -> Bool {
        switch (left, right) {
        case (.object, .object), (.array, .array), (.string, .string), (.int, .int), (.double, .double),
            (.bool, .bool), (.null, .null):
            true
        default: false
        }
    }

    /// The value without any object holding `$patch` (such objects vanish, from objects and lists alike); nil when
    /// the value itself holds one.
    static func removingDirectives(_ value: JSONValue) -> JSONValue? {
        switch value {
        case .object(let object):
            if object[directiveMarker] != nil { return nil }
            var result = JSONObject()
            for (key, child) in object {
                if let kept = removingDirectives(child) { result[key] = kept }
            }
            return .object(result)
        case .array(let array):
            return .array(array.compactMap(removingDirectives))
        default:
            return value
        }
    }

    /// The value without null members in any object inside it (null list elements stay).
    static func discardingNulls(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            var result = JSONObject()
            for (key, child) in object where child != .null { result[key] = discardingNulls(child) }
            return .object(result)
        case .array(let array):
            return .array(array.map(discardingNulls))
        default:
            return value
        }
    }
}
