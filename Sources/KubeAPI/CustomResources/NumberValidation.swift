// kube-openapi's numberValidator (pkg/validation/validate/validator.go and values.go), quirks included:
// - the value must fit the single declared type and its format: an integer type takes whole numbers that fit an
//   int64 (int32 with `format: int32`), `format: float` takes what fits a float32; a miss is a plain error
//   `Checked value must be of type integer with format int32 in spec.x` (at the `<nil>` path);
// - multipleOf, maximum and minimum compare integers as integers (the bound truncated to an int64) and floats as
//   floats; when the bound itself does not fit the type (`maximum: 10.5` on an integer), that is reported the same
//   way and the comparison is made on floats;
// - failures are merged multipleOf first, then minimum, then maximum.

enum NumberValidation {
    static func validate(_ value: JSONValue, schema: SchemaNode, path: String) -> OpenAPIResult {
        var typeName = ""
        var format = ""
        if schema.types.count == 1 {
            switch schema.types[0] {
            case "integer":
                typeName = "integer"
                if schema.format == "int32" || schema.format == "int64" { format = schema.format }
            case "number":
                typeName = "number"
                if schema.format == "float" || schema.format == "double" { format = schema.format }
            default:
                break
            }
        }
        let asDouble: Double =
            switch value {
            case .int(let integer): Double(integer)
            case .double(let double): double
            default: 0
            }
        var result = OpenAPIResult()
        if let message = rangeError(value, typeName: typeName, format: format, prefix: "Checked", path: path) {
            result.add(.plain(message))
        }
        var multiple = OpenAPIResult()
        if let factor = schema.multipleOf {
            let boundError = rangeError(
                .double(factor), typeName: typeName, format: format, prefix: "MultipleOf", path: path)
            if let boundError {
                multiple.add(.plain(boundError))
                if let issue = multipleOfFloat(asDouble, factor: factor, path: path) { multiple.add(issue) }
            } else if let issue = multipleOfNative(value, factor: factor, path: path) {
                multiple.add(issue)
            }
        }
        var maximum = OpenAPIResult()
        if let limit = schema.maximum {
            let exclusive = schema.exclusiveMaximum
            let prefix = "Maximum boundary"
            if let boundError = rangeError(
                .double(limit), typeName: typeName, format: format, prefix: prefix, path: path)
            {
                maximum.add(.plain(boundError))
                if let issue = bound(.double(asDouble), limit: limit, exclusive: exclusive, upper: true, path: path) {
                    maximum.add(issue)
                }
            } else if let issue = bound(value, limit: limit, exclusive: exclusive, upper: true, path: path) {
                maximum.add(issue)
            }
        }
        var minimum = OpenAPIResult()
        if let limit = schema.minimum {
            let exclusive = schema.exclusiveMinimum
            let prefix = "Minimum boundary"
            if let boundError = rangeError(
                .double(limit), typeName: typeName, format: format, prefix: prefix, path: path)
            {
                minimum.add(.plain(boundError))
                if let issue = bound(.double(asDouble), limit: limit, exclusive: exclusive, upper: false, path: path) {
                    minimum.add(issue)
                }
            } else if let issue = bound(value, limit: limit, exclusive: exclusive, upper: false, path: path) {
                minimum.add(issue)
            }
        }
        result.merge(multiple)
        result.merge(minimum)
        result.merge(maximum)
        result.increment()
        return result
    }

    /// IsValueValidAgainstRange: whether the number, written as Go writes it, parses as the type and format.
    private static func rangeError(_ value: JSONValue, typeName: String, format: String, prefix: String, path: String)
        -> String?
    {
        let fits: Bool
        switch (typeName, format) {
        case ("integer", "int32"): fits = integerValue(value).map { Int32(exactly: $0) != nil } ?? false
        case ("integer", _): fits = integerValue(value) != nil
        case ("number", "float"):
            if case .double(let double) = value { fits = Float(double).isFinite } else { fits = true }
        default: fits = true
        }
        guard !fits else { return nil }
        if format.isEmpty { return "\(prefix) value must be of type \(typeName) (default format) in \(path)" }
        return "\(prefix) value must be of type \(typeName) with format \(format) in \(path)"
    }

    /// The number as an int64 if its decimal form has no fraction and fits (strconv.ParseInt of FormatFloat 'f').
    private static func integerValue(_ value: JSONValue) -> Int64? {
        switch value {
        case .int(let integer): return integer
        case .double(let double):
            guard double.rounded(.towardZero) == double, double >= -9_223_372_036_854_775_808.0,
                double < 9_223_372_036_854_775_808.0
            else { return nil }
            return Int64(double)
        default: return nil
        }
    }

    /// Go's int64(float64) for a bound: truncated, saturating where Go's result is undefined.
    private static func truncated(_ double: Double) -> Int64 {
        guard double.isFinite else { return double < 0 ? .min : .max }
        if double >= 9_223_372_036_854_775_808.0 { return .max }
        if double <= -9_223_372_036_854_775_808.0 { return .min }
        return Int64(double)
    }

    private static func multipleOfNative(_ value: JSONValue, factor: Double, path: String) -> OpenAPIIssue? {
        guard case .int(let integer) = value else {
            return multipleOfFloat(value.doubleValue, factor: factor, path: path)
        }
        let integerFactor = truncated(factor)
        guard integerFactor > 0 else { return mustBePositive(.int(integerFactor), path: path) }
        guard integer % integerFactor != 0 else { return nil }
        return OpenAPIIssue(
            code: .multipleOf, name: path, message: "\(path) in body should be a multiple of \(integerFactor)",
            value: .int(integer))
    }

    private static func multipleOfFloat(_ value: Double, factor: Double, path: String) -> OpenAPIIssue? {
        guard factor > 0 else { return mustBePositive(.double(factor), path: path) }
        let quotient = factor < 1 ? 1 / factor * value : value / factor
        guard !OpenAPIValidator.isJSONInteger(quotient) else { return nil }
        return OpenAPIIssue(
            code: .multipleOf, name: path,
            message: "\(path) in body should be a multiple of \(GoMessageText.float(factor))", value: .double(value))
    }

    private static func mustBePositive(_ factor: JSONValue, path: String) -> OpenAPIIssue {
        OpenAPIIssue(
            code: .multipleOfMustBePositive, name: path,
            message: "factor MultipleOf declared for \(path) must be positive: \(GoMessageText.value(factor))",
            value: factor)
    }

    /// Maximum (upper) or minimum: integers against the truncated bound, floats against the bound.
    private static func bound(_ value: JSONValue, limit: Double, exclusive: Bool, upper: Bool, path: String)
        -> OpenAPIIssue?
    {
        let shownLimit: String
        let outside: Bool
        if case .int(let integer) = value {
            let integerLimit = truncated(limit)
            shownLimit = String(integerLimit)
            outside =
                upper
                ? (exclusive ? integer >= integerLimit : integer > integerLimit)
                : (exclusive ? integer <= integerLimit : integer < integerLimit)
        } else {
            let double = value.doubleValue
            shownLimit = GoMessageText.float(limit)
            outside =
                upper ? (exclusive ? double >= limit : double > limit) : (exclusive ? double <= limit : double < limit)
        }
        guard outside else { return nil }
        let relation: String =
            switch (upper, exclusive) {
            case (true, false): "less than or equal to"
            case (true, true): "less than"
            case (false, false): "greater than or equal to"
            case (false, true): "greater than"
            }
        return OpenAPIIssue(
            code: upper ? .maximum : .minimum, name: path,
            message: "\(path) in body should be \(relation) \(shownLimit)",
            value: value)
    }
}

extension JSONValue {
    /// The number as a float64 (0 for anything else), as kube-openapi's asFloat64.
    fileprivate var doubleValue: Double {
        switch self {
        case .int(let integer): Double(integer)
        case .double(let double): double
        default: 0
        }
    }
}
