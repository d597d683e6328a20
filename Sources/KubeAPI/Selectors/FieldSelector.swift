// Field selectors as kube-apiserver reads them (k8s.io/apimachinery pkg/fields/selector.go): `a=b,c!=d,e==f`,
// terms split at unescaped commas, each at its first `!=`, `==` or `=`, values unescaped (`\\`, `\,`, `\=`), terms
// sorted by their text. No whitespace is trimmed. A missing field reads as the empty string, so `f=` matches an
// object without `f` and `f!=x` does too. Which fields a kind offers is the kind's business: after parsing, the
// list handler runs every term through the kind's FieldLabelConversion (FieldLabelConversion.swift), which refuses
// unknown fields with the message kube-apiserver answers 400 with, and may rename a field (`spec.host`).

/// A field selector: `field=value` and `field!=value` terms that must all hold.
public struct FieldSelector: Sendable, Hashable, CustomStringConvertible {
    /// One `field=value` or `field!=value` term.
    public struct Requirement: Sendable, Hashable, CustomStringConvertible {
        /// `=` (also written `==`) or `!=`.
        public enum Operator: String, Sendable, Hashable {
            /// `=` or `==`.
            case equals = "="
            case notEquals = "!="
        }

        /// The field label (`status.phase`).
        public let field: String
        public let `operator`: Operator
        /// Unescaped.
        public let value: String

        /// A term; `value` unescaped.
        public init(field: String, operator: Operator, value: String) {
            self.field = field
            self.operator = `operator`
            self.value = value
        }

        /// Whether a field holding `fieldValue` (nil: absent, read as "") satisfies the term.
        public func matches(_ fieldValue: String?) -> Bool {
            (fieldValue ?? "") == value ? `operator` == .equals : `operator` == .notEquals
        }

        /// `field=value` with the value escaped.
        public var description: String { field + `operator`.rawValue + FieldSelector.escapeValue(value) }
    }

    /// The terms, sorted by their text as written.
    public let requirements: [Requirement]

    /// Matches everything.
    public static let everything = FieldSelector([])

    /// A selector of these terms, kept in the order given.
    public init(_ requirements: [Requirement]) { self.requirements = requirements }

    /// `fields.ParseSelector`; the error's message is kube-apiserver's 400 message.
    public init(parsing text: String) throws(FieldSelectorError) {
        let terms = Self.splitTerms(text).sorted(by: GoFormat.precedes)
        var requirements: [Requirement] = []
        for term in terms where !term.isEmpty {
            guard let (field, op, rawValue) = Self.splitTerm(term) else {
                throw FieldSelectorError("invalid selector: '\(text)'; can't understand '\(term)'")
            }
            requirements.append(Requirement(field: field, operator: op, value: try Self.unescapeValue(rawValue)))
        }
        self.init(requirements)
    }

    /// True when there are no terms (matches everything).
    public var isEmpty: Bool { requirements.isEmpty }

    /// Whether an object with these field values satisfies every term.
    public func matches(_ fields: [String: String]) -> Bool { requirements.allSatisfy { $0.matches(fields[$0.field]) } }

    /// Whether an object satisfies every term, fields looked up one by one (nil: absent).
    public func matches(fieldValue: (String) -> String?) -> Bool {
        requirements.allSatisfy { $0.matches(fieldValue($0.field)) }
    }

    /// The value a `field=value` term pins `field` to (kube-apiserver turns `metadata.name=x` into a get).
    public func requiresExactMatch(_ field: String) -> String? {
        requirements.first { $0.field == field && $0.operator == .equals }?.value
    }

    /// `Selector.Transform`: every term through `conversion`, in order; the first refusal is the error. A term
    /// converted to an empty field and value is dropped.
    public func transformed(by conversion: FieldLabelConversion) throws(FieldSelectorError) -> FieldSelector {
        var converted: [Requirement] = []
        for requirement in requirements {
            let (field, value) = try conversion.convert(requirement.field, requirement.value)
            if field.isEmpty && value.isEmpty { continue }
            converted.append(Requirement(field: field, operator: requirement.operator, value: value))
        }
        return FieldSelector(converted)
    }

    /// The canonical string: terms joined by `,`, values escaped, `==` written `=`.
    public var description: String { requirements.map(\.description).joined(separator: ",") }

    /// The fields every object offers (`generic.ObjectMetaFieldsSet`): `metadata.name`, and `metadata.namespace`
    /// for namespaced kinds. Kinds add their own (`spec.nodeName`, `status.phase`, ...).
    public static func objectMetaFields(_ metadata: JSONValue?, namespaced: Bool) -> [String: String] {
        var fields = ["metadata.name": metadata?["name"]?.stringValue ?? ""]
        if namespaced { fields["metadata.namespace"] = metadata?["namespace"]?.stringValue ?? "" }
        return fields
    }

    /// `fields.EscapeValue`: `\` `,` `=` get a backslash.
    public static func escapeValue(_ value: String) -> String {
        var escaped = ""
        for character in value.unicodeScalars {
            if character == "\\" || character == "," || character == "=" { escaped += "\\" }
            escaped.unicodeScalars.append(character)
        }
        return escaped
    }

    /// `fields.UnescapeValue`: only `\\`, `\,` and `\=` are escapes; a bare `,` or `=` is an error.
    public static func unescapeValue(_ value: String) throws(FieldSelectorError) -> String {
        guard value.unicodeScalars.contains(where: { $0 == "\\" || $0 == "," || $0 == "=" }) else { return value }
        var result = ""
        var afterBackslash = false
        for scalar in value.unicodeScalars {
            if afterBackslash {
                guard scalar == "\\" || scalar == "," || scalar == "=" else {
                    throw FieldSelectorError("invalid field selector: invalid escape sequence: \\\(scalar)")
                }
                result.unicodeScalars.append(scalar)
                afterBackslash = false
            } else if scalar == "\\" {
                afterBackslash = true
            } else if scalar == "," || scalar == "=" {
                // Upstream prints the rune with %v: its number.
                throw FieldSelectorError("invalid field selector: unescaped character in value: \(scalar.value)")
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        if afterBackslash { throw FieldSelectorError("invalid field selector: invalid escape sequence: \\") }
        return result
    }

    /// The terms between unescaped commas (none for the empty string).
    static func splitTerms(_ text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        var terms: [String] = []
        var current = ""
        var afterBackslash = false
        for scalar in text.unicodeScalars {
            if afterBackslash {
                afterBackslash = false
            } else if scalar == "\\" {
                afterBackslash = true
            } else if scalar == "," {
                terms.append(current)
                current = ""
                continue
            }
            current.unicodeScalars.append(scalar)
        }
        terms.append(current)
        return terms
    }

    /// The term split at the first position where `!=`, `==` or `=` starts (tried in that order).
    static func splitTerm(_ term: String) -> (String, Requirement.Operator, String)? {
        let bytes = Array(term.utf8)
        for index in bytes.indices {
            for (symbol, op) in [("!=", Requirement.Operator.notEquals), ("==", .equals), ("=", .equals)]
            where bytes[index...].starts(with: symbol.utf8) {
                let field = String(decoding: bytes[..<index], as: UTF8.self)
                let value = String(decoding: bytes[(index + symbol.utf8.count)...], as: UTF8.self)
                return (field, op, value)
            }
        }
        return nil
    }
}

/// A field selector that could not be parsed or converted; `message` is kube-apiserver's text for it.
public struct FieldSelectorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The 400 BadRequest message.
    public let message: String
    /// An error with this message.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
