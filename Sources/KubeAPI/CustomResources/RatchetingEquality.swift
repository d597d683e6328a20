// How CRD validation ratcheting decides that a value did not change (k8s.io/apiserver pkg/cel/common/equality.go
// CorrelatedObject and maplist.go). An object member correlates with the old object's member of the same name when
// the schema knows the member (a property, or additionalProperties with a schema); an element of an
// `x-kubernetes-list-type: map` list correlates with the first old element with the same key values (all keys
// present and scalar); elements of other lists never correlate. Two values are "equal" when every member and
// element correlates and is equal; a list that is not a map list is compared as a whole.

enum RatchetingEquality {
    /// The old value of member `key`, if it correlates (never the root's apiVersion and kind).
    static func correlatedMember(_ key: String, old: JSONValue?, schema: SchemaNode, path: String) -> JSONValue? {
        guard let old, case .object(let oldObject) = old, let oldMember = oldObject[key] else { return nil }
        if path.isEmpty, key == "apiVersion" || key == "kind" { return nil }
        guard schema.property(key) != nil || schema.additionalProperties?.schema != nil else { return nil }
        return oldMember
    }

    /// The old element `elements[offset]` correlates with, for a map list.
    static func correlatedElement(at offset: Int, of elements: [JSONValue], old: JSONValue?, listSchema: SchemaNode)
        -> JSONValue?
    {
        guard listSchema.listType == "map", case .array(let oldElements)? = old,
            let key = compositeKey(elements[offset], keys: listSchema.listMapKeys)
        else { return nil }
        return oldElements.first { compositeKey($0, keys: listSchema.listMapKeys) == key }
    }

    /// CachedDeepEqual: whether `value` equals the correlated `old` value under `schema`.
    static func equal(_ value: JSONValue, _ old: JSONValue, schema: SchemaNode?) -> Bool {
        switch (value, old) {
        case (.null, .null): return true
        case (.object(let object), .object(let oldObject)):
            guard let schema, object.count == oldObject.count else { return false }
            for (key, member) in object {
                guard let oldMember = oldObject[key] else { return false }
                guard let memberSchema = schema.property(key) ?? schema.additionalProperties?.schema else {
                    return false
                }
                if !equal(member, oldMember, schema: memberSchema) { return false }
            }
            return true
        case (.array(let elements), .array(let oldElements)):
            guard let schema, elements.count == oldElements.count else { return false }
            guard schema.listType == "map" else { return elements == oldElements }
            for offset in elements.indices {
                guard let items = schema.items,
                    let oldElement = correlatedElement(at: offset, of: elements, old: old, listSchema: schema),
                    equal(elements[offset], oldElement, schema: items)
                else { return false }
            }
            return true
        case (.object, _), (.array, _), (_, .object), (_, .array), (.null, _), (_, .null):
            return false
        default:
            return value == old
        }
    }

    /// The key values of a map-list element, or nil when one is missing or not a scalar.
    private static func compositeKey(_ element: JSONValue, keys: [String]) -> [JSONValue]? {
        guard case .object(let object) = element else { return nil }
        var values: [JSONValue] = []
        for key in keys {
            switch object[key] {
            case let value? where value.isScalar: values.append(value)
            default: return nil
            }
        }
        return values
    }
}

extension JSONValue {
    /// A boolean, number or string (what a map-list key may be).
    fileprivate var isScalar: Bool {
        switch self {
        case .bool, .int, .double, .string: true
        default: false
        }
    }
}
