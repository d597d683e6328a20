// The type, enum and allOf/anyOf/oneOf/not checks of kube-openapi (pkg/validation/validate type.go, validator.go
// basicCommonValidator, schema_props.go).

extension OpenAPIValidator {
    /// typeValidator: the JSON type against `type` (and the format's type for non-strings).
    func validateType(_ value: JSONValue, schema: SchemaNode, path: String) -> OpenAPIResult {
        var passed = OpenAPIResult()
        passed.increment()
        let types = schema.types
        guard value != .null else {
            if !types.isEmpty, !types.contains("null"), !schema.nullable {
                return .failure(.typeMismatch(path: path, expected: types.joined(separator: ","), actual: "null"))
            }
            return passed
        }
        // The JSON type and the format Go's reflection gives the decoded value.
        let (jsonType, valueFormat): (String, String) =
            switch value {
            case .bool: ("boolean", "")
            case .string: ("string", "")
            case .int: ("integer", "int64")
            case .double: ("number", "float64")
            case .array: ("array", "")
            case .object, .null: ("object", "")
            }
        var isFloatInteger = false
        if case .double(let double) = value { isFloatInteger = types.contains("integer") && Self.isJSONInteger(double) }
        let isIntegerNumber = jsonType == "integer" && types.contains("number")
        let isStringOrArray = jsonType == "string" || jsonType == "array"
        if !isStringOrArray, !schema.format.isEmpty,
            !(types.contains(jsonType) || valueFormat == schema.format || isFloatInteger || isIntegerNumber)
        {
            return .failure(.typeMismatch(path: path, expected: schema.format, actual: valueFormat))
        }
        if !(types.contains("number") || types.contains("integer")), !schema.format.isEmpty, isStringOrArray {
            return passed
        }
        if !(types.contains(jsonType) || isFloatInteger || isIntegerNumber) {
            return .failure(.typeMismatch(path: path, expected: types.joined(separator: ","), actual: jsonType))
        }
        return passed
    }

    /// basicCommonValidator: the value must be one of `enum` (compared after Go's type conversion to each entry's
    /// type, so 1.5 matches an enum entry 1 and 97 matches "a"; `null` matches nothing).
    func validateEnum(_ value: JSONValue, schema: SchemaNode, path: String) -> OpenAPIResult? {
        guard let allowed = schema.enumValues, !allowed.isEmpty else { return nil }
        if value != .null {
            for entry in allowed where Self.enumEntry(entry, matches: value) { return nil }
        }
        let list = "[" + allowed.map(GoMessageText.value).joined(separator: " ") + "]"
        return .failure(
            OpenAPIIssue(
                code: .enumMismatch, name: path, message: "\(path) in body should be one of \(list)",
                value: value, allowed: allowed))
    }

    private static func enumEntry(_ entry: JSONValue, matches value: JSONValue) -> Bool {
        switch (value, entry) {
        case (.null, _), (_, .null): return false
        case (.double(let double), .int(let integer)):
            // Go's float64 → int64 conversion truncates.
            guard double.isFinite, double > -9.3e18, double < 9.3e18 else { return false }
            return Int64(double) == integer
        case (.int(let integer), .double(let double)): return Double(integer) == double
        case (.int(let integer), .string(let text)):
            // Go converts an integer to a string as the character with that code point.
            let scalar = Int64(exactly: integer).flatMap { UInt32(exactly: $0) }.flatMap(Unicode.Scalar.init)
            return String(scalar ?? "\u{FFFD}") == text
        default: return value == entry
        }
    }

    /// schemaPropsValidator: anyOf, oneOf, allOf and not, in that order.
    func validateJunctors(_ value: JSONValue, schema: SchemaNode, path: String, old: JSONValue?) -> OpenAPIResult {
        var main = OpenAPIResult()
        let quotedPath = GoFormat.quoted(path)
        if !schema.anyOf.isEmpty {
            var best: OpenAPIResult?
            var firstSuccess: OpenAPIResult?
            for alternative in schema.anyOf {
                let result = validateNode(value, schema: alternative, path: path, old: old)
                if result.isValid {
                    best = nil
                    firstSuccess = result
                    break
                }
                if best == nil || result.matchCount > best?.matchCount ?? 0 { best = result }
            }
            if firstSuccess == nil { main.add(.plain("\(quotedPath) must validate at least one schema (anyOf)")) }
            main.merge(best ?? firstSuccess)
        }
        if !schema.oneOf.isEmpty {
            var best: OpenAPIResult?
            var firstSuccess: OpenAPIResult?
            var validCount = 0
            for alternative in schema.oneOf {
                let result = validateNode(value, schema: alternative, path: path, old: old)
                if result.isValid {
                    validCount += 1
                    best = nil
                    if firstSuccess == nil { firstSuccess = result }
                } else if validCount == 0, best == nil || result.matchCount > best?.matchCount ?? 0 {
                    best = result
                }
            }
            if validCount != 1 {
                let found = validCount == 0 ? "Found none valid" : "Found \(validCount) valid alternatives"
                main.add(.plain("\(quotedPath) must validate one and only one schema (oneOf). \(found)"))
                main.merge(best)
            } else {
                main.merge(firstSuccess)
            }
        }
        if !schema.allOf.isEmpty {
            var validCount = 0
            for part in schema.allOf {
                let result = validateNode(value, schema: part, path: path, old: old)
                if result.isValid { validCount += 1 }
                main.merge(result)
            }
            if validCount != schema.allOf.count {
                let none = validCount == 0 ? ". None validated" : ""
                main.add(.plain("\(quotedPath) must validate all the schemas (allOf)\(none)"))
            }
        }
        if let not = schema.not, validateNode(value, schema: not, path: path, old: old).isValid {
            main.add(.plain("\(quotedPath) must not validate the schema (not)"))
        }
        main.increment()
        return main
    }

    /// go-openapi swag's IsFloat64AJSONInteger: a whole number within ±(2^53 - 1), allowing a relative error of 1e-9.
    static func isJSONInteger(_ value: Double) -> Bool {
        let limit = 9_007_199_254_740_991.0
        guard value.isFinite, value >= -limit, value <= limit else { return false }
        let truncated = value.rounded(.towardZero)
        if truncated == value { return true }
        let difference = abs(value - truncated)
        return difference / min(abs(value) + abs(truncated), Double.greatestFiniteMagnitude) < 1e-9
    }
}
