// A failure as kube-openapi's validate package reports it, and how apiextensions-apiserver turns it into a field
// error (pkg/apiserver/validation/validation.go kubeOpenAPIResultToFieldErrors):
// - the field is the failure's name (kube-openapi's own path, where map values are `.key`, not `[key]`) with one
//   leading "." trimmed, as a single path element below the caller's path; a failure without a name, and every
//   failure that is not an `*errors.Validation` (the anyOf/oneOf/allOf/not texts, number range checks), sits at
//   the caller's path itself, which for a whole custom resource is Go's nil path, printed `<nil>`;
// - Required becomes `Required value`, an enum miss `Unsupported value: "x": supported values: "a", "b"`, a string
//   over maxLength `Too long: may not be more than N bytes`, too many items or properties `Too many: 5: must have at
//   most 3 items`, a type error `Invalid value: "string": spec.x in body must be of type integer: "string"` (reason
//   FieldValueTypeInvalid), and everything else `Invalid value: <value>: <kube-openapi's message>`.
// Messages are kube-openapi's (pkg/validation/errors/schema.go), always with `in body`.

struct OpenAPIIssue: Sendable {
    enum Code: Sendable {
        case invalidType, required, tooLong, tooShort, pattern, enumMismatch, multipleOf, maximum, minimum
        case uniqueItems, maxItems, minItems, tooFewProperties, tooManyProperties, forbiddenProperty
        case multipleOfMustBePositive
        /// Not an `*errors.Validation`: a composite-schema text or a plain Go error.
        case plain
    }

    var code: Code
    /// kube-openapi's path of the value (`spec.items[0].name`), empty at the root.
    var name: String
    /// `Error()`.
    var message: String
    /// Go's `Value`: the offending data, a type name, or a count; nil is Go's nil.
    var value: JSONValue?
    /// Go's `Valid`: the limit of a length or count check.
    var limit: Int64?
    /// The allowed values of an enum.
    var allowed: [JSONValue] = []

    static func plain(_ message: String) -> OpenAPIIssue {
        OpenAPIIssue(code: .plain, name: "", message: message)
    }

    /// The field error apiextensions reports for this failure, below `prefix` (`.none` for a whole resource,
    /// `status` for the status subresource).
    func fieldError(under prefix: FieldPath) -> FieldError {
        guard code != .plain else {
            return FieldError(type: .invalid, field: prefix, badValue: .string(""), detail: message)
        }
        var path = prefix
        if !name.isEmpty, name != "." { path = prefix.child(name.hasPrefix(".") ? String(name.dropFirst()) : name) }
        switch code {
        case .required:
            return .required(path)
        case .enumMismatch:
            let supported = allowed.map { value in
                value.stringValue ?? String(decoding: value.serialized(), as: UTF8.self)
            }
            return .notSupported(path, .decoded(value ?? .null), supported: supported)
        case .tooLong:
            return .tooLong(path, maximumBytes: limit.map { Int($0) })
        case .maxItems, .tooManyProperties:
            return .tooMany(path, actual: value?.intValue.map { Int($0) }, maximum: limit.map { Int($0) })
        case .invalidType:
            return FieldError(type: .typeInvalid, field: path, badValue: .decoded(value ?? ""), detail: message)
        default:
            return FieldError(type: .invalid, field: path, badValue: .decoded(value ?? ""), detail: message)
        }
    }
}

/// kube-openapi's `Result`: failures (deduplicated by message, as AddErrors does) and the count of checks that
/// passed, which picks the best failing alternative of anyOf and oneOf.
struct OpenAPIResult {
    private(set) var issues: [OpenAPIIssue] = []
    private var messages: Set<String> = []
    var matchCount = 0

    var isValid: Bool { issues.isEmpty }

    mutating func add(_ issue: OpenAPIIssue) {
        if messages.insert(issue.message).inserted { issues.append(issue) }
    }

    mutating func merge(_ other: OpenAPIResult?) {
        guard let other else { return }
        for issue in other.issues { add(issue) }
        matchCount += other.matchCount
    }

    mutating func increment() { matchCount += 1 }

    /// The result with its failures turned into warnings (ratcheting): only the count stays.
    func droppingIssues() -> OpenAPIResult {
        var result = OpenAPIResult()
        result.matchCount = matchCount
        return result
    }

    /// A result holding one failure and no count (kube-openapi's `errorHelp.sErr`).
    static func failure(_ issue: OpenAPIIssue) -> OpenAPIResult {
        var result = OpenAPIResult()
        result.add(issue)
        return result
    }
}

extension FieldError.Value {
    /// How field errors show a decoded JSON value: a Go string quoted, anything else as `%v` or JSON.
    static func decoded(_ value: JSONValue) -> FieldError.Value {
        if case .string(let text) = value { return .string(text) }
        return .json(value)
    }
}
