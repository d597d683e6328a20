// Uniqueness of `x-kubernetes-list-type: set` and `map` lists, as apiextensions-apiserver checks it after schema
// validation (pkg/apiserver/schema/listtype/validation.go ValidateListSetsAndMaps):
// - a set may not hold the same element twice: `spec.tags[2]: Duplicate value: "a"`, reported once, at the second
//   appearance of each repeated value;
// - a map list's elements must be objects (or null): `spec.ports[1]: Invalid value: "x": must be an object for an
//   array of list-type map`, and no two may share their key fields: `spec.ports[1]: Duplicate value:
//   {"name":"http"}` (the key fields as an object; a missing key counts as a value of its own).
// Paths use `.field`, `[key]` for map values and `[i]` for list items.

enum ListTypeValidation {
    static func validate(_ object: JSONValue, schema: SchemaNode?) -> [FieldError] {
        guard let schema, case .object = object else { return [] }
        return validateObject(object, schema: schema, path: .none)
    }

    private static func validateObject(_ value: JSONValue, schema: SchemaNode, path: FieldPath) -> [FieldError] {
        guard case .object(let object) = value else { return [] }
        var errors: [FieldError] = []
        if case .schema(let valueSchema)? = schema.additionalProperties {
            for (key, member) in object {
                errors += validateValue(member, schema: valueSchema, path: path.key(key))
            }
        }
        if !schema.properties.isEmpty {
            for (key, member) in object {
                if let property = schema.property(key) {
                    errors += validateValue(member, schema: property, path: path.child(key))
                }
            }
        }
        return errors
    }

    private static func validateValue(_ value: JSONValue, schema: SchemaNode, path: FieldPath) -> [FieldError] {
        switch value {
        case .array(let elements): return validateArray(elements, schema: schema, path: path)
        case .object: return validateObject(value, schema: schema, path: path)
        default: return []
        }
    }

    private static func validateArray(_ elements: [JSONValue], schema: SchemaNode, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        switch schema.listType {
        case "set"?:
            for index in secondAppearances(elements) {
                errors.append(.duplicate(path.index(index), .decoded(elements[index])))
            }
        case "map"?:
            errors += validateMapList(elements, keys: schema.listMapKeys, path: path)
        default:
            break
        }
        if let items = schema.items {
            for (offset, element) in elements.enumerated() {
                errors += validateValue(element, schema: items, path: path.index(offset))
            }
        }
        return errors
    }

    private static func validateMapList(_ elements: [JSONValue], keys: [String], path: FieldPath) -> [FieldError] {
        for (offset, element) in elements.enumerated() where element != .null && element.objectValue == nil {
            let detail = "must be an object for an array of list-type map"
            return [FieldError(type: .invalid, field: path.index(offset), badValue: .decoded(element), detail: detail)]
        }
        guard elements.count > 1 else { return [] }
        // The key of each element: its key fields as an object (absent fields left out), compared by value.
        let elementKeys: [JSONValue] = elements.map { element in
            var key = JSONObject()
            for field in keys { if let member = element[field] { key[field] = member } }
            return .object(key)
        }
        return secondAppearances(elementKeys).map { index in
            FieldError.duplicate(path.index(index), .json(elementKeys[index]))
        }
    }

    /// The indexes where a value shows up for the second time (a third is not reported again).
    private static func secondAppearances(_ values: [JSONValue]) -> [Int] {
        guard values.count > 1 else { return [] }
        var seen: [JSONValue: Int] = [:]
        var indexes: [Int] = []
        for (offset, value) in values.enumerated() {
            let count = seen[value, default: 0]
            if count == 1 { indexes.append(offset) }
            seen[value] = count + 1
        }
        return indexes
    }
}
