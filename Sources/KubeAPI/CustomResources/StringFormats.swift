// The string formats CRD validation checks (kube-openapi pkg/validation/strfmt, as filtered by apiextensions'
// formats.go): a string that fails its format is reported as `spec.x in body must be of type date-time: "abc"`.
// Format names are compared with dashes removed (`date-time` is `datetime`). Formats outside this list are ignored,
// as upstream strips them from the schema; `k8s-short-name` and `k8s-long-name` count from compatibility version
// 1.34. Network formats (ipv4, ipv6, cidr, mac, uri, email, hostname) are in StringFormats+Network.swift.

enum StringFormats {
    /// Formats every supported Kubernetes version validates, without dashes.
    static let validatedFormats: Set<String> = [
        "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid", "uuid3", "uuid4", "uuid5",
        "isbn", "isbn10", "isbn13", "creditcard", "ssn", "hexcolor", "rgbcolor", "byte", "password", "date",
        "duration", "datetime",
    ]
    /// Formats validated from compatibility version 1.34 on.
    static let kubernetesNameFormats: Set<String> = ["k8sshortname", "k8slongname"]

    /// Whether strfmt.Default knows the format (the format validator applies).
    static func isRegistered(_ format: String) -> Bool {
        let name = format.replacing("-", with: "")
        return validatedFormats.contains(name) || kubernetesNameFormats.contains(name)
    }

    static let uuidPatterns: [String: String] = [
        "uuid": "(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
        "uuid3": "(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
        "uuid4": "(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
        "uuid5": "(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
    ]
    static let hexColorPattern = "^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"
    static let rgbColorPattern =
        #"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*"#
        + #"(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$"#
    static let base64Pattern = #"^(?:[A-Za-z0-9+\/]{4})*(?:[A-Za-z0-9+\/]{2}==|[A-Za-z0-9+\/]{3}=|[A-Za-z0-9+\/]{4})$"#
    static let ssnPattern = #"^\d{3}[- ]?\d{2}[- ]?\d{4}$"#
    static let creditCardPattern =
        "^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}"
        + #"|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11})$"#

    /// Whether `text` is valid for `format` (true for formats not validated).
    static func validates(_ text: String, format: String, patterns: PatternMatcher = PatternMatcher()) -> Bool {
        let name = format.replacing("-", with: "")
        switch name {
        case "password": return true
        case "bsonobjectid": return text.utf8.count == 24 && text.utf8.allSatisfy(isHexDigit)
        case "uuid", "uuid3", "uuid4", "uuid5": return patterns.matches(text, pattern: uuidPatterns[name] ?? "")
        case "hexcolor": return patterns.matches(text, pattern: hexColorPattern)
        case "rgbcolor": return patterns.matches(text, pattern: rgbColorPattern)
        case "byte": return patterns.matches(text, pattern: base64Pattern)
        case "ssn": return text.utf8.count == 11 && patterns.matches(text, pattern: ssnPattern)
        case "creditcard": return isCreditCard(text, patterns: patterns)
        case "isbn": return isISBN10(text) || isISBN13(text)
        case "isbn10": return isISBN10(text)
        case "isbn13": return isISBN13(text)
        case "date": return isDate(text)
        case "datetime": return isDateTime(text)
        case "duration": return isDuration(text)
        case "k8sshortname": return text.utf8.count <= 63 && isShortName(text.utf8[...])
        case "k8slongname":
            return text.utf8.count <= 253
                && text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
                    .allSatisfy(isShortName)
        case "ipv4": return NetworkFormats.isIPv4(text)
        case "ipv6": return NetworkFormats.isIPv6(text)
        case "cidr": return NetworkFormats.isCIDR(text)
        case "mac": return NetworkFormats.isMAC(text)
        case "uri": return NetworkFormats.isRequestURI(text)
        case "email": return NetworkFormats.isEmail(text)
        case "hostname": return NetworkFormats.isHostname(text, patterns: patterns)
        default: return true
        }
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            true
        default: false
        }
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
    private static func isShortName(_ bytes: Substring.UTF8View.SubSequence) -> Bool {
        func isAlphanumeric(_ byte: UInt8) -> Bool { isDigit(byte) || (byte >= 97 && byte <= 122) }
        guard let first = bytes.first, let last = bytes.last, isAlphanumeric(first), isAlphanumeric(last) else {
            return false
        }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// govalidator.IsCreditCard: the digits match a card number pattern and pass the Luhn check.
    private static func isCreditCard(_ text: String, patterns: PatternMatcher) -> Bool {
        let digits = text.utf8.filter(isDigit)
        let sanitized = String(decoding: digits, as: UTF8.self)
        guard patterns.matches(sanitized, pattern: creditCardPattern) else { return false }
        var sum = 0
        var doubles = false
        for byte in digits.reversed() {
            var digit = Int(byte - UInt8(ascii: "0"))
            if doubles {
                digit *= 2
                sum += digit >= 10 ? digit % 10 + 1 : digit
            } else {
                sum += digit
            }
            doubles.toggle()
        }
        return sum % 10 == 0
    }

    /// The text without Go's `[\s-]+` (tab, newline, form feed, carriage return, space and dash).
    private static func isbnDigits(_ text: String) -> [UInt8] {
        text.utf8.filter { ![9, 10, 12, 13, 32, UInt8(ascii: "-")].contains($0) }
    }

    private static func isISBN10(_ text: String) -> Bool {
        let bytes = isbnDigits(text)
        guard bytes.count == 10, bytes.prefix(9).allSatisfy(isDigit), isDigit(bytes[9]) || bytes[9] == UInt8(ascii: "X")
        else { return false }
        var checksum = 0
        for index in 0..<9 { checksum += (index + 1) * Int(bytes[index] - UInt8(ascii: "0")) }
        checksum += bytes[9] == UInt8(ascii: "X") ? 100 : 10 * Int(bytes[9] - UInt8(ascii: "0"))
        return checksum % 11 == 0
    }

    private static func isISBN13(_ text: String) -> Bool {
        let bytes = isbnDigits(text)
        guard bytes.count == 13, bytes.allSatisfy(isDigit) else { return false }
        var checksum = 0
        for index in 0..<12 { checksum += (index % 2 == 0 ? 1 : 3) * Int(bytes[index] - UInt8(ascii: "0")) }
        return Int(bytes[12] - UInt8(ascii: "0")) == (10 - checksum % 10) % 10
    }
}
