// Name and key formats of the Kubernetes API, with kube-apiserver's messages word for word.
// Sources: k8s.io/apimachinery pkg/util/validation/validation.go (DNS names: "must be no more than N characters"),
// pkg/api/validate/content (label keys and values: "must be no more than N bytes"; path segments),
// pkg/api/validation/generic.go (the name rules and their generateName prefix handling), and
// k8s.io/apiserver pkg/storage/names/generate.go (generated names). Each check returns the list of problems,
// empty when the value is valid, because callers wrap each message in its own field error.
// The regular expressions are matched by hand (they are simple character classes); the patterns quoted in the
// messages are upstream's text.

/// Kubernetes string formats (`IsDNS1123Subdomain`, `IsQualifiedName`, ...), each returning its messages.
public enum NameValidation {
    public static let dns1123LabelMaximumLength = 63
    public static let dns1123SubdomainMaximumLength = 253
    public static let dns1035LabelMaximumLength = 63
    public static let labelValueMaximumLength = 63
    public static let qualifiedNameMaximumLength = 63

    static let dns1123LabelFormat = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
    static let dns1123SubdomainFormat = dns1123LabelFormat + #"(\."# + dns1123LabelFormat + ")*"
    static let dns1035LabelFormat = "[a-z]([-a-z0-9]*[a-z0-9])?"
    static let qualifiedNameFormat = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
    static let labelValueFormat = "(" + qualifiedNameFormat + ")?"

    static let dns1123LabelMessage =
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
    static let dns1123SubdomainMessage =
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
    static let dns1035LabelMessage =
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character"
    static let qualifiedNameMessage =
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
    static let labelValueMessage =
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"

    /// `validation.IsDNS1123Subdomain`: lower-case labels joined by dots, at most 253 bytes (object names).
    public static func isDNS1123Subdomain(_ value: String) -> [String] {
        dns1123Subdomain(value, maximumLengthMessage: maximumLengthInCharacters)
    }

    /// `validation.IsDNS1123Label`: one lower-case label, at most 63 bytes (namespace names).
    public static func isDNS1123Label(_ value: String) -> [String] {
        var messages: [String] = []
        if value.utf8.count > dns1123LabelMaximumLength {
            messages.append(maximumLengthInCharacters(dns1123LabelMaximumLength))
        }
        if !isDNS1123LabelText(value.utf8[...]) {
            if isDNS1123SubdomainText(value) {
                messages.append("must not contain dots")  // a valid subdomain: its only fault is the dots
            } else {
                messages.append(regexError(dns1123LabelMessage, dns1123LabelFormat, examples: "my-name", "123-abc"))
            }
        }
        return messages
    }

    /// `validation.IsDNS1035Label`: a label starting with a letter, at most 63 bytes (service names).
    public static func isDNS1035Label(_ value: String) -> [String] {
        var messages: [String] = []
        if value.utf8.count > dns1035LabelMaximumLength {
            messages.append(maximumLengthInCharacters(dns1035LabelMaximumLength))
        }
        let bytes = value.utf8[...]
        if !(isDNS1123LabelText(bytes) && bytes.first.map(isLowerLetter) == true) {
            messages.append(regexError(dns1035LabelMessage, dns1035LabelFormat, examples: "my-name", "abc-123"))
        }
        return messages
    }

    /// `validation.IsQualifiedName` (`content.IsLabelKey`): `[prefix/]name`, the prefix a DNS subdomain, the name
    /// at most 63 bytes (label keys, annotation keys, finalizers).
    public static func isQualifiedName(_ value: String) -> [String] {
        var messages: [String] = []
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        let name: Substring
        switch parts.count {
        case 1:
            name = parts[0]
        case 2:
            name = parts[1]
            if parts[0].isEmpty {
                messages.append("prefix part must be non-empty")
            } else {
                let prefixMessages = dns1123Subdomain(String(parts[0]), maximumLengthMessage: maximumLengthInBytes)
                messages += prefixMessages.map { "prefix part " + $0 }
            }
        default:
            let format = regexError(
                qualifiedNameMessage, qualifiedNameFormat, examples: "MyName", "my.name", "123-abc")
            return [
                "a valid label key " + format
                    + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ]
        }
        if name.isEmpty {
            messages.append("name part must be non-empty")
        } else if name.utf8.count > qualifiedNameMaximumLength {
            messages.append("name part " + maximumLengthInBytes(qualifiedNameMaximumLength))
        }
        if !isQualifiedNameText(name.utf8) {
            let format = regexError(qualifiedNameMessage, qualifiedNameFormat, examples: "MyName", "my.name", "123-abc")
            messages.append("name part " + format)
        }
        return messages
    }

    /// `validation.IsValidLabelValue`: empty, or a qualified name's name part, at most 63 bytes.
    public static func isValidLabelValue(_ value: String) -> [String] {
        var messages: [String] = []
        if value.utf8.count > labelValueMaximumLength {
            messages.append(maximumLengthInBytes(labelValueMaximumLength))
        }
        if !(value.isEmpty || isQualifiedNameText(value.utf8[...])) {
            messages.append(regexError(labelValueMessage, labelValueFormat, examples: "MyValue", "my_value", "12345"))
        }
        return messages
    }

    /// `content.IsPathSegmentName`: not `.` or `..`, no `/` or `%` (names of RBAC objects; every object's name).
    public static func isPathSegmentName(_ value: String) -> [String] {
        if value == "." || value == ".." { return ["may not be '\(value)'"] }
        return isPathSegmentPrefix(value)
    }

    /// `content.IsPathSegmentPrefix`: no `/` or `%`.
    public static func isPathSegmentPrefix(_ value: String) -> [String] {
        var messages: [String] = []
        if value.contains("/") { messages.append("may not contain '/'") }
        if value.contains("%") { messages.append("may not contain '%'") }
        return messages
    }

    /// `RegexError`: the message, the examples, and the pattern. Upstream leaves two spaces before each "or".
    static func regexError(_ message: String, _ format: String, examples: String...) -> String {
        guard !examples.isEmpty else { return message + " (regex used for validation is '" + format + "')" }
        var text = message + " (e.g. "
        for (offset, example) in examples.enumerated() {
            if offset > 0 { text += " or " }
            text += "'" + example + "', "
        }
        return text + "regex used for validation is '" + format + "')"
    }

    /// util/validation's MaxLenError (DNS names).
    static func maximumLengthInCharacters(_ length: Int) -> String { "must be no more than \(length) characters" }

    /// content's MaxLenError (label keys and values, and the subdomain prefix of a key).
    static func maximumLengthInBytes(_ length: Int) -> String { "must be no more than \(length) bytes" }

    private static func dns1123Subdomain(_ value: String, maximumLengthMessage: (Int) -> String) -> [String] {
        var messages: [String] = []
        if value.utf8.count > dns1123SubdomainMaximumLength {
            messages.append(maximumLengthMessage(dns1123SubdomainMaximumLength))
        }
        if !isDNS1123SubdomainText(value) {
            messages.append(regexError(dns1123SubdomainMessage, dns1123SubdomainFormat, examples: "example.com"))
        }
        return messages
    }

    private static func isDNS1123SubdomainText(_ value: String) -> Bool {
        value.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy(
            isDNS1123LabelText)
    }

    /// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
    private static func isDNS1123LabelText(_ bytes: Substring.UTF8View) -> Bool {
        guard let first = bytes.first, let last = bytes.last else { return false }
        let lowerAlphanumeric = { (byte: UInt8) in isLowerLetter(byte) || isDigit(byte) }
        return lowerAlphanumeric(first) && lowerAlphanumeric(last)
            && bytes.allSatisfy { lowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
    static func isQualifiedNameText(_ bytes: Substring.UTF8View) -> Bool {
        guard let first = bytes.first, let last = bytes.last else { return false }
        let alphanumeric = { (byte: UInt8) in isLowerLetter(byte) || isUpperLetter(byte) || isDigit(byte) }
        return alphanumeric(first) && alphanumeric(last)
            && bytes.allSatisfy {
                alphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
            }
    }

    private static func isLowerLetter(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") }
    private static func isUpperLetter(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}

/// The rule an object's `metadata.name` must follow; which kind uses which is upstream's choice per type
/// (pkg/apis/*/validation): most kinds and all custom resources `.dnsSubdomain`, Namespace `.dnsLabel`, Service
/// `.dns1035Label`, RBAC roles and bindings `.pathSegment`.
public enum NameRule: Sendable, Hashable {
    case dnsSubdomain
    case dnsLabel
    case dns1035Label
    case pathSegment
    /// Anything goes (CertificateSigningRequest, for one).
    case any

    /// The problems with `name`; `prefix` for a `generateName`, whose trailing dash is allowed
    /// (upstream's `maskTrailingDash` swaps the last two bytes for "a" before checking, and so do we).
    public func validate(_ name: String, prefix: Bool) -> [String] {
        switch self {
        case .dnsSubdomain: NameValidation.isDNS1123Subdomain(prefix ? Self.maskTrailingDash(name) : name)
        case .dnsLabel: NameValidation.isDNS1123Label(prefix ? Self.maskTrailingDash(name) : name)
        case .dns1035Label: NameValidation.isDNS1035Label(prefix ? Self.maskTrailingDash(name) : name)
        case .pathSegment: prefix ? NameValidation.isPathSegmentPrefix(name) : NameValidation.isPathSegmentName(name)
        case .any: []
        }
    }

    static func maskTrailingDash(_ name: String) -> String {
        let bytes = Array(name.utf8)
        guard bytes.count > 1, bytes.last == UInt8(ascii: "-") else { return name }
        return String(decoding: bytes.dropLast(2) + [UInt8(ascii: "a")], as: UTF8.self)
    }
}

/// `names.SimpleNameGenerator`: `generateName` plus five random characters without vowels.
public enum NameGenerator {
    /// The characters of the random suffix (no vowels, so no words).
    public static let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
    public static let randomLength = 5
    /// A longer base is cut to this many bytes so the result stays within 63.
    public static let maximumBaseLength = 63 - randomLength

    /// `base` (cut to 58 bytes) followed by five random characters.
    public static func generateName(base: String) -> String {
        var generator = SystemRandomNumberGenerator()
        return generateName(base: base, using: &generator)
    }

    /// `generateName(base:)` with the given source of randomness (tests pass a seeded one).
    public static func generateName<Generator: RandomNumberGenerator>(
        base: String, using generator: inout Generator
    ) -> String {
        var name = base
        if base.utf8.count > maximumBaseLength {
            name = String(decoding: base.utf8.prefix(maximumBaseLength), as: UTF8.self)
        }
        for _ in 0..<randomLength { name.append(alphabet.randomElement(using: &generator)!) }
        return name
    }
}
