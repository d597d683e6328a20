// What a YAML scalar means, as go-yaml v2 resolves it (sigs.k8s.io/yaml, and so kube-apiserver and kubectl,
// convert YAML to JSON through it). That is YAML 1.1, not 1.2: `yes`/`no`/`on`/`off`/`y`/`n` are booleans,
// `0755` is octal, `0x1F` hex, `1_000` a thousand. Quoted and block scalars are always strings.

/// A resolved scalar, before it becomes JSON.
enum YAMLScalar: Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    /// An integer above Int64's range (Go's `uint64`); JSON reads it back as a float.
    case unsigned(UInt64)
    case float(Double)
    case string(String)

    /// go-yaml's words for the resolved kinds, as it names them in `cannot decode !!str `x` as a !!int`.
    var shortTag: String {
        switch self {
        case .null: "!!null"
        case .bool: "!!bool"
        case .int, .unsigned: "!!int"
        case .float: "!!float"
        case .string: "!!str"
        }
    }

    private static let words: [String: YAMLScalar] = {
        var words: [String: YAMLScalar] = [:]
        for word in ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"] {
            words[word] = .bool(true)
        }
        for word in ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"] {
            words[word] = .bool(false)
        }
        for word in ["", "~", "null", "Null", "NULL"] { words[word] = .null }
        for word in [".nan", ".NaN", ".NAN"] { words[word] = .float(.nan) }
        for word in [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"] { words[word] = .float(.infinity) }
        for word in ["-.inf", "-.Inf", "-.INF"] { words[word] = .float(-.infinity) }
        return words
    }()

    /// Resolves an untagged plain scalar as go-yaml v2's `resolve("", text)` does.
    static func resolvePlain(_ text: String) -> YAMLScalar {
        // go-yaml looks a scalar up only when its first byte hints it might be something other than a string.
        let first = text.utf8.first
        guard let first else { return .null }
        let hint: UInt8? =
            switch first {
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): UInt8(ascii: "D")
            case UInt8(ascii: "."): UInt8(ascii: ".")
            case _ where "yYnNtTfFoO~".utf8.contains(first): UInt8(ascii: "M")
            default: nil
            }
        guard let hint else { return .string(text) }
        if let word = words[text] { return word }
        switch hint {
        case UInt8(ascii: "."):
            if isYAMLStyleFloat(text), let value = Double(text), value.isFinite { return .float(value) }
        case UInt8(ascii: "D"):
            let plain = text.filter { $0 != "_" }
            if let value = parseGoInteger(plain) { return value }
            if isYAMLStyleFloat(plain), let value = Double(plain), value.isFinite { return .float(value) }
        default:
            break
        }
        return .string(text)
    }

    /// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
    private static func isYAMLStyleFloat(_ text: String) -> Bool {
        var bytes = text.utf8[...]
        func digits() -> Int {
            let count = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
            bytes = bytes.dropFirst(count)
            return count
        }
        if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            guard digits() > 0 else { return false }
        } else {
            guard digits() > 0 else { return false }
            if bytes.first == UInt8(ascii: ".") {
                bytes = bytes.dropFirst()
                _ = digits()
            }
        }
        if let exponent = bytes.first, exponent | 0x20 == UInt8(ascii: "e") {
            bytes = bytes.dropFirst()
            if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return bytes.isEmpty
    }

    /// Go's `strconv.ParseInt(text, 0, 64)`, then `ParseUint(text, 0, 64)`: an optional sign, then `0x`, `0o`,
    /// `0b` or a bare leading `0` (octal) choose the base.
    private static func parseGoInteger(_ text: String) -> YAMLScalar? {
        var bytes = Array(text.utf8)[...]
        var isNegative = false
        var isSigned = false
        if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            isNegative = sign == UInt8(ascii: "-")
            isSigned = true
            bytes = bytes.dropFirst()
        }
        guard !bytes.isEmpty else { return nil }
        var base: UInt64 = 10
        if bytes.first == UInt8(ascii: "0") {
            let marker = bytes.count >= 3 ? bytes[bytes.startIndex + 1] | 0x20 : 0
            switch marker {
            case UInt8(ascii: "x"): (base, bytes) = (16, bytes.dropFirst(2))
            case UInt8(ascii: "o"): (base, bytes) = (8, bytes.dropFirst(2))
            case UInt8(ascii: "b"): (base, bytes) = (2, bytes.dropFirst(2))
            default: (base, bytes) = (8, bytes.dropFirst())
            }
        }
        var magnitude: UInt64 = 0
        for byte in bytes {
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt64(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt64(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            guard digit < base else { return nil }
            let (times, overflow1) = magnitude.multipliedReportingOverflow(by: base)
            let (sum, overflow2) = times.addingReportingOverflow(digit)
            guard !overflow1 && !overflow2 else { return nil }
            magnitude = sum
        }
        if isNegative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return .int(Int64(truncatingIfNeeded: 0 &- magnitude))
        }
        if magnitude <= UInt64(Int64.max) { return .int(Int64(magnitude)) }
        // ParseUint takes no sign.
        return isSigned ? nil : .unsigned(magnitude)
    }
}
