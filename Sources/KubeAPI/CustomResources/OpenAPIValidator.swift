// Schema validation of custom resources: a port of kube-openapi's pkg/validation/validate SchemaValidator as
// apiextensions-apiserver uses it (NewSchemaValidator with strfmt.Default, wrapped by the ratcheting validator).
// For each value the validators run in kube-openapi's order, and failures of one do not stop the next:
//   type, then allOf/anyOf/oneOf/not, then string (maxLength, minLength, pattern: first failure only), format,
//   number (range of the format, multipleOf, minimum, maximum), array (items, minItems, maxItems, uniqueItems),
//   enum, object (min/maxProperties, additionalProperties, properties, required).
// A `null` is only type-checked (nullable or not) and enum-checked; an enum never matches `null`.
// Properties are visited in the object's member order (upstream walks a Go map, in no fixed order).
//
// Ratcheting (CRDValidationRatcheting, GA in 1.33): on update, the failures of a value that equals its correlated
// old value are dropped. Values correlate through object members that have a schema and through the elements of
// `x-kubernetes-list-type: map` lists matched by their keys; the root's apiVersion and kind never ratchet.

struct OpenAPIValidator {
    /// Patterns compiled during this run (compiled regular expressions cannot be shared between threads).
    let patterns = PatternMatcher()

    /// Validates `value` against `schema`; `old` is the correlated old value on update (nil: none).
    func validate(_ value: JSONValue, schema: SchemaNode, path: String, old: JSONValue?) -> OpenAPIResult {
        let result = validateNode(value, schema: schema, path: path, old: old)
        guard let old, !result.isValid, RatchetingEquality.equal(value, old, schema: schema) else { return result }
        return result.droppingIssues()
    }

    /// kube-openapi's SchemaValidator.Validate for one schema, without ratcheting at this level.
    func validateNode(_ value: JSONValue, schema: SchemaNode, path: String, old: JSONValue?) -> OpenAPIResult {
        var result = OpenAPIResult()
        if value == .null {
            result.merge(validateType(value, schema: schema, path: path))
            result.merge(validateEnum(value, schema: schema, path: path))
            return result
        }
        if !schema.types.isEmpty || !schema.format.isEmpty {
            result.merge(validateType(value, schema: schema, path: path))
            result.increment()
        }
        result.merge(validateJunctors(value, schema: schema, path: path, old: old))
        result.increment()
        if case .string(let text) = value {
            result.merge(validateString(text, schema: schema, path: path))
            result.increment()
            if StringFormats.isRegistered(schema.format) {
                result.merge(validateFormat(text, schema: schema, path: path))
                result.increment()
            }
        }
        switch value {
        case .int, .double:
            result.merge(NumberValidation.validate(value, schema: schema, path: path))
            result.increment()
        case .array(let elements):
            result.merge(validateArray(elements, schema: schema, path: path, old: old))
            result.increment()
        default:
            break
        }
        result.merge(validateEnum(value, schema: schema, path: path))
        result.increment()
        if case .object(let object) = value {
            result.merge(validateObject(object, schema: schema, path: path, old: old))
            result.increment()
        }
        result.increment()
        return result
    }

    private func validateString(_ text: String, schema: SchemaNode, path: String) -> OpenAPIResult? {
        let length = Int64(text.unicodeScalars.count)
        if let maximum = schema.maxLength, length > maximum {
            return .failure(
                OpenAPIIssue(
                    code: .tooLong, name: path, message: "\(path) in body should be at most \(maximum) chars long",
                    value: .string(text), limit: maximum))
        }
        if let minimum = schema.minLength, length < minimum {
            return .failure(
                OpenAPIIssue(
                    code: .tooShort, name: path, message: "\(path) in body should be at least \(minimum) chars long",
                    value: .string(text), limit: minimum))
        }
        if !schema.pattern.isEmpty, !patterns.matches(text, pattern: schema.pattern) {
            return .failure(
                OpenAPIIssue(
                    code: .pattern, name: path, message: "\(path) in body should match '\(schema.pattern)'",
                    value: .string(text)))
        }
        return nil
    }

    private func validateFormat(_ text: String, schema: SchemaNode, path: String) -> OpenAPIResult? {
        guard !StringFormats.validates(text, format: schema.format, patterns: patterns) else { return nil }
        return .failure(.typeMismatch(path: path, expected: schema.format, actual: text))
    }

    private func validateArray(_ elements: [JSONValue], schema: SchemaNode, path: String, old: JSONValue?)
        -> OpenAPIResult
    {
        var result = OpenAPIResult()
        if let items = schema.items {
            for (offset, element) in elements.enumerated() {
                let oldElement = RatchetingEquality.correlatedElement(
                    at: offset, of: elements, old: old, listSchema: schema)
                result.merge(validate(element, schema: items, path: "\(path)[\(offset)]", old: oldElement))
            }
        }
        let size = Int64(elements.count)
        if let minimum = schema.minItems, size < minimum {
            result.add(
                OpenAPIIssue(
                    code: .minItems, name: path, message: "\(path) in body should have at least \(minimum) items",
                    value: .int(size), limit: minimum))
        }
        if let maximum = schema.maxItems, size > maximum {
            result.add(
                OpenAPIIssue(
                    code: .maxItems, name: path, message: "\(path) in body should have at most \(maximum) items",
                    value: .int(size), limit: maximum))
        }
        if schema.uniqueItems, Set(elements).count != elements.count {
            result.add(
                OpenAPIIssue(code: .uniqueItems, name: path, message: "\(path) in body shouldn't contain duplicates"))
        }
        result.increment()
        return result
    }

    private func validateObject(_ object: JSONObject, schema: SchemaNode, path: String, old: JSONValue?)
        -> OpenAPIResult
    {
        var result = OpenAPIResult()
        let count = Int64(object.count)
        if let minimum = schema.minProperties, count < minimum {
            result.add(
                OpenAPIIssue(
                    code: .tooFewProperties, name: path,
                    message: "\(path) in body should have at least \(minimum) properties", value: .int(count),
                    limit: minimum))
        }
        if let maximum = schema.maxProperties, count > maximum {
            result.add(
                OpenAPIIssue(
                    code: .tooManyProperties, name: path,
                    message: "\(path) in body should have at most \(maximum) properties", value: .int(count),
                    limit: maximum))
        }
        switch schema.additionalProperties {
        case .allows(false)?:
            for key in object.keys where schema.property(key) == nil {
                result.add(
                    OpenAPIIssue(
                        code: .forbiddenProperty, name: path, message: "\(path).\(key) in body is a forbidden property",
                        value: .string(key)))
            }
        case .schema(let valueSchema)?:
            for (key, member) in object where schema.property(key) == nil {
                let oldMember = RatchetingEquality.correlatedMember(key, old: old, schema: schema, path: path)
                result.merge(validate(member, schema: valueSchema, path: path + "." + key, old: oldMember))
            }
        default:
            break
        }
        for (key, member) in object {
            guard let property = schema.property(key) else { continue }
            let oldMember = RatchetingEquality.correlatedMember(key, old: old, schema: schema, path: path)
            result.merge(
                validate(member, schema: property, path: path.isEmpty ? key : path + "." + key, old: oldMember))
        }
        for key in schema.required where object[key] == nil {
            result.add(
                OpenAPIIssue(code: .required, name: path + "." + key, message: "\(path).\(key) in body is required"))
        }
        return result
    }
}

extension OpenAPIIssue {
    /// kube-openapi's `errors.InvalidType` with a string value: `x in body must be of type integer: "string"`.
    static func typeMismatch(path: String, expected: String, actual: String) -> OpenAPIIssue {
        OpenAPIIssue(
            code: .invalidType, name: path,
            message: "\(path) in body must be of type \(expected): \(GoFormat.quoted(actual))", value: .string(actual))
    }
}
