// Field-level validation errors as kube-apiserver words them (k8s.io/apimachinery/pkg/util/validation/field).
// Clients show these texts to people and tests match on them, so the rendering follows Go's exactly:
// `<field>: <Type text>[: <bad value>][: <detail>]`, strings quoted as Go's `%q` does, composite values as Go's
// encoding/json writes them, and a list of errors joined as util/errors.Aggregate does (`[a, b]`, deduplicated).

/// The path of a field inside an object, written as Go's `field.Path.String()` writes it (`metadata.labels[app]`).
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    /// nil is Go's nil `*field.Path`, which prints as `<nil>` (label selectors parsed without a path do this).
    private let rendered: String?

    /// The nil path: prints `<nil>`, and a child of it starts a new root (`values`, not `<nil>.values`).
    public static let none = FieldPath(rendered: nil)

    private init(rendered: String?) { self.rendered = rendered }

    /// A root path of one or more field names: `FieldPath("metadata", "name")` is `metadata.name`.
    public init(_ name: String, _ moreNames: String...) {
        var path = FieldPath.none.child(name)
        for next in moreNames { path = path.child(next) }
        self = path
    }

    /// The path to a named field below this one.
    public func child(_ name: String, _ moreNames: String...) -> FieldPath {
        var result = appendingName(name)
        for next in moreNames { result = result.appendingName(next) }
        return result
    }

    /// The path to a list element: `ownerReferences[0]`.
    public func index(_ index: Int) -> FieldPath { FieldPath(rendered: (rendered ?? "") + "[\(index)]") }

    /// The path to a map entry: `labels[app]` (the key is written as is, not quoted).
    public func key(_ key: String) -> FieldPath { FieldPath(rendered: (rendered ?? "") + "[\(key)]") }

    public var description: String { rendered ?? "<nil>" }

    private func appendingName(_ name: String) -> FieldPath {
        // An empty name is Go's subscript element with an empty index.
        if name.isEmpty { return FieldPath(rendered: (rendered ?? "") + "[]") }
        guard let rendered else { return FieldPath(rendered: name) }
        return FieldPath(rendered: rendered + "." + name)
    }
}

/// The kind of a field error; the raw value is the `reason` of a Status cause (`FieldValueInvalid`).
public enum FieldErrorType: String, Sendable, Hashable, CaseIterable {
    case notFound = "FieldValueNotFound"
    case required = "FieldValueRequired"
    case duplicate = "FieldValueDuplicate"
    case invalid = "FieldValueInvalid"
    case notSupported = "FieldValueNotSupported"
    case forbidden = "FieldValueForbidden"
    case tooLong = "FieldValueTooLong"
    case tooMany = "FieldValueTooMany"
    case tooFew = "FieldValueTooFew"
    case tooShort = "FieldValueTooShort"
    case `internal` = "InternalError"
    case typeInvalid = "FieldValueTypeInvalid"

    /// The canonical text (`Invalid value`, `Required value`, ...), as `ErrorType.String()`.
    public var text: String {
        switch self {
        case .notFound: "Not found"
        case .required: "Required value"
        case .duplicate: "Duplicate value"
        case .invalid, .typeInvalid: "Invalid value"
        case .notSupported: "Unsupported value"
        case .forbidden: "Forbidden"
        case .tooLong: "Too long"
        case .tooMany: "Too many"
        case .tooFew: "Too few"
        case .tooShort: "Too short"
        case .internal: "Internal error"
        }
    }
}

/// One field-level validation error (Go's `*field.Error`).
public struct FieldError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The offending value as the message shows it.
    public enum Value: Sendable, Hashable {
        /// Not shown.
        case omitted
        /// A Go `string`: shown quoted as `%q`.
        case string(String)
        /// Anything else: numbers and booleans as `%v`, the rest (lists, structs, named string types) as JSON.
        case json(JSONValue)
    }

    /// What is wrong.
    public var type: FieldErrorType
    /// The field path as text (`metadata.name`).
    public var field: String
    /// The offending value.
    public var badValue: Value
    /// The explanation after the value (may be empty).
    public var detail: String

    /// An error of any type; the static functions below build the usual ones as upstream's constructors do.
    public init(type: FieldErrorType, field: FieldPath, badValue: Value, detail: String = "") {
        self.type = type
        self.field = field.description
        self.badValue = badValue
        self.detail = detail
    }

    /// The Status cause `reason` (`FieldValueInvalid`, ...).
    public var reason: String { type.rawValue }

    /// `field: body`, as `Error()`.
    public var description: String { "\(field): \(body)" }

    /// The message without the field, as `ErrorBody()`; this is a Status cause's `message`.
    public var body: String {
        var text: String
        switch type {
        case .required, .forbidden, .tooLong, .tooShort, .internal:
            text = type.text
        case .invalid, .typeInvalid, .notSupported, .notFound, .duplicate, .tooMany, .tooFew:
            switch badValue {
            case .omitted: text = type.text
            case .string(let value): text = "\(type.text): \(GoFormat.quoted(value))"
            case .json(let value): text = "\(type.text): \(GoFormat.value(value))"
            }
        }
        if !detail.isEmpty { text += ": \(detail)" }
        return text
    }

    /// `Required value[: detail]`.
    public static func required(_ path: FieldPath, _ detail: String = "") -> FieldError {
        FieldError(type: .required, field: path, badValue: .string(""), detail: detail)
    }

    /// `Invalid value: "value": detail` for a Go string.
    public static func invalid(_ path: FieldPath, _ value: String, _ detail: String) -> FieldError {
        FieldError(type: .invalid, field: path, badValue: .string(value), detail: detail)
    }

    /// `Invalid value: <value>: detail` for any other value (numbers as is, the rest as JSON).
    public static func invalid(_ path: FieldPath, json value: JSONValue, _ detail: String) -> FieldError {
        FieldError(type: .invalid, field: path, badValue: .json(value), detail: detail)
    }

    /// `Invalid value: <value>: detail` with reason FieldValueTypeInvalid.
    public static func typeInvalid(_ path: FieldPath, json value: JSONValue, _ detail: String) -> FieldError {
        FieldError(type: .typeInvalid, field: path, badValue: .json(value), detail: detail)
    }

    /// `Duplicate value: <value>`.
    public static func duplicate(_ path: FieldPath, _ value: Value) -> FieldError {
        FieldError(type: .duplicate, field: path, badValue: value)
    }

    /// `Not found: <value>`.
    public static func notFound(_ path: FieldPath, _ value: Value) -> FieldError {
        FieldError(type: .notFound, field: path, badValue: value)
    }

    /// `Unsupported value: "x": supported values: "a", "b"`.
    public static func notSupported(_ path: FieldPath, _ value: Value, supported: [String]) -> FieldError {
        let detail =
            supported.isEmpty ? "" : "supported values: " + supported.map(GoFormat.quoted).joined(separator: ", ")
        return FieldError(type: .notSupported, field: path, badValue: value, detail: detail)
    }

    /// `Forbidden: detail`.
    public static func forbidden(_ path: FieldPath, _ detail: String) -> FieldError {
        FieldError(type: .forbidden, field: path, badValue: .string(""), detail: detail)
    }

    /// `Too long: may not be more than N bytes` (nil maximum: `value is too long`).
    public static func tooLong(_ path: FieldPath, maximumBytes: Int?) -> FieldError {
        let detail = maximumBytes.map { "may not be more than \($0) \($0 == 1 ? "byte" : "bytes")" }
        return FieldError(
            type: .tooLong, field: path, badValue: .string("<value omitted>"), detail: detail ?? "value is too long")
    }

    /// `Too long: may not be more than N characters`.
    public static func tooLongCharacters(_ path: FieldPath, maximumCharacters: Int?) -> FieldError {
        let detail = maximumCharacters.map { "may not be more than \($0) \($0 == 1 ? "character" : "characters")" }
        return FieldError(
            type: .tooLong, field: path, badValue: .string("<value omitted>"), detail: detail ?? "value is too long")
    }

    /// `Too many: 5: must have at most 3 items` (nil actual: the count is not shown).
    public static func tooMany(_ path: FieldPath, actual: Int?, maximum: Int?) -> FieldError {
        let detail = maximum.map { "must have at most \($0) \($0 == 1 ? "item" : "items")" }
        let value: Value = actual.map { .json(.int(Int64($0))) } ?? .omitted
        return FieldError(type: .tooMany, field: path, badValue: value, detail: detail ?? "has too many items")
    }

    /// `Too short: must be at least N characters`.
    public static func tooShort(_ path: FieldPath, _ value: String, minimumCharacters: Int?) -> FieldError {
        let detail = minimumCharacters.map { "must be at least \($0) \($0 == 1 ? "character" : "characters")" }
        return FieldError(
            type: .tooShort, field: path, badValue: .string(value), detail: detail ?? "value is too short")
    }

    /// `Internal error: message`.
    public static func `internal`(_ path: FieldPath, _ message: String) -> FieldError {
        FieldError(type: .internal, field: path, badValue: .omitted, detail: message)
    }
}

extension FieldError {
    /// A list of errors as one message, as `ErrorList.ToAggregate().Error()`: duplicates dropped, one error alone,
    /// several as `[first, second]`; nil for no errors.
    public static func aggregateMessage(_ errors: [FieldError]) -> String? {
        var seen = Set<String>()
        var messages: [String] = []
        for error in errors where seen.insert(error.description).inserted { messages.append(error.description) }
        switch messages.count {
        case 0: return nil
        case 1: return messages[0]
        default: return "[" + messages.joined(separator: ", ") + "]"
        }
    }

    /// The message of kube-apiserver's 422 Invalid Status (`errors.NewInvalid`):
    /// `Deployment.apps "web" is invalid: [spec.replicas: ..., metadata.name: ...]`.
    public static func invalidMessage(group: String, kind: String, name: String, errors: [FieldError]) -> String {
        let qualifiedKind = group.isEmpty ? kind : "\(kind).\(group)"
        let head = "\(qualifiedKind) \(GoFormat.quoted(name)) is invalid"
        guard let aggregate = aggregateMessage(errors) else { return head }
        return "\(head): \(aggregate)"
    }

    /// The whole 422 Invalid Status object kube-apiserver answers with, causes included.
    public static func invalidStatus(group: String, kind: String, name: String, errors: [FieldError]) -> JSONValue {
        var details = JSONObject()
        if !name.isEmpty { details["name"] = .string(name) }
        if !group.isEmpty { details["group"] = .string(group) }
        if !kind.isEmpty { details["kind"] = .string(kind) }
        if !errors.isEmpty { details["causes"] = .array(errors.map(\.statusCause)) }
        return .object([
            "kind": "Status", "apiVersion": "v1", "metadata": .object(JSONObject()), "status": "Failure",
            "message": .string(invalidMessage(group: group, kind: kind, name: name, errors: errors)),
            "reason": "Invalid", "details": .object(details), "code": 422,
        ])
    }

    /// This error as a Status cause: `{"reason": ..., "message": ..., "field": ...}` (empty members left out).
    public var statusCause: JSONValue {
        var cause = JSONObject()
        cause["reason"] = .string(reason)
        if !body.isEmpty { cause["message"] = .string(body) }
        if !field.isEmpty { cause["field"] = .string(field) }
        return .object(cause)
    }
}

/// How Go prints values in messages: `%q` for strings, `%v` for numbers, encoding/json for the rest.
enum GoFormat {
    /// Go's string order (`<` on strings, `sort.Strings`): by bytes.
    static func precedes(_ left: String, _ right: String) -> Bool { left.utf8.lexicographicallyPrecedes(right.utf8) }

    /// Go's `strconv.Quote` (`%q`): printable characters kept, the rest escaped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{0B}": out += "\\v"
            default:
                if isPrintable(scalar) {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value < 0x80 {
                    out += "\\x" + hex(scalar.value, width: 2)
                } else if scalar.value < 0x10000 {
                    out += "\\u" + hex(scalar.value, width: 4)
                } else {
                    out += "\\U" + hex(scalar.value, width: 8)
                }
            }
        }
        return out + "\""
    }

    /// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return scalar.value >= 0x20 && scalar.value < 0x7F }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber,
            .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation, .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }

    /// A bad value that is not a Go string: `%v` for integers and booleans, JSON for everything else. Floats are
    /// written as encoding/json does, where Go's `%v` would switch to exponent form from 1e6 on (`1e+06`); no
    /// validation here reports a float.
    static func value(_ value: JSONValue) -> String { json(value) }

    /// Go's encoding/json output (HTML-safe escaping, object members in the order given).
    static func json(_ value: JSONValue) -> String { String(decoding: value.serialized(), as: UTF8.self) }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
