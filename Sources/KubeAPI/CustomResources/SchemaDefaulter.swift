// Defaulting of custom resources, as apiextensions-apiserver applies it after decoding, on writes and on reads from
// storage alike (pkg/apiserver/schema/defaulting/algorithm.go, called by the codec's unstructuredDefaulter):
// - every declared property with a `default` that is missing, or `null` while not nullable, gets the default;
// - then every member is defaulted below, the ones just added included (a default `{}` for `spec` picks up the
//   defaults of spec's own properties);
// - a `null` map value or list item whose schema is not nullable becomes that schema's default.
// Defaults were pruned when the schema was read (PruneDefaults). Added members go after the existing ones, in the
// schema's property order (upstream's Go maps have no order; kube-apiserver writes object keys sorted anyway).

enum SchemaDefaulter {
    static func applyDefaults(_ value: JSONValue, schema: SchemaNode?) -> JSONValue {
        guard let schema else { return value }
        switch value {
        case .object(var object):
            for (name, property) in schema.properties {
                guard let defaultValue = property.defaultValue else { continue }
                let current = object[name]
                if current == nil || isNonNullableNull(current, schema: property) { object[name] = defaultValue }
            }
            var entries = object.entries
            for index in entries.indices {
                let key = entries[index].key
                if let property = schema.property(key) {
                    entries[index].value = applyDefaults(entries[index].value, schema: property)
                } else if let additionalProperties = schema.additionalProperties {
                    let valueSchema = additionalProperties.schema
                    if isNonNullableNull(entries[index].value, schema: valueSchema) {
                        entries[index].value = valueSchema?.defaultValue ?? .null
                    }
                    entries[index].value = applyDefaults(entries[index].value, schema: valueSchema)
                }
            }
            return .object(JSONObject(uniqueEntries: entries))
        case .array(var elements):
            for index in elements.indices {
                if isNonNullableNull(elements[index], schema: schema.items) {
                    elements[index] = schema.items?.defaultValue ?? .null
                }
                elements[index] = applyDefaults(elements[index], schema: schema.items)
            }
            return .array(elements)
        default:
            return value
        }
    }

    private static func isNonNullableNull(_ value: JSONValue?, schema: SchemaNode?) -> Bool {
        value == .null && schema != nil && schema?.nullable == false
    }
}
