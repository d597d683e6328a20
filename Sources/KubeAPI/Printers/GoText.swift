import Foundation

/// Go's text forms of JSON values where custom-resource cells need them: `fmt.Fprint` of a scalar and
/// `json.Marshal` of an object or array (sorted keys, HTML-safe escaping), as client-go's JSONPath prints them.
enum GoText {
    /// `fmt.Fprint` of an unstructured scalar: strings raw, `true`/`false`, `%v` numbers; nested values as JSON.
    static func print(_ value: JSONValue) -> String {
        switch value {
        case .null: "<no value>"
        case .bool(let bool): bool ? "true" : "false"
        case .int(let int): String(int)
        case .double(let double): formatGeneral(double)
        case .string(let string): string
        case .array, .object: marshal(value)
        }
    }

    /// `json.Marshal` of an unstructured value.
    static func marshal(_ value: JSONValue) -> String {
        var output = ""
        appendJSON(value, to: &output)
        return output
    }

    private static func appendJSON(_ value: JSONValue, to output: inout String) {
        switch value {
        case .null: output += "null"
        case .bool(let bool): output += bool ? "true" : "false"
        case .int(let int): output += String(int)
        case .double(let double): output += formatJSONNumber(double)
        case .string(let string): appendJSONString(string, to: &output)
        case .array(let elements):
            output += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { output += "," }
                appendJSON(element, to: &output)
            }
            output += "]"
        case .object(let object):
            // Go marshals map[string]interface{} with sorted keys.
            output += "{"
            for (index, entry) in object.entries.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { output += "," }
                appendJSONString(entry.key, to: &output)
                output += ":"
                appendJSON(entry.value, to: &output)
            }
            output += "}"
        }
    }

    private static func appendJSONString(_ string: String, to output: inout String) {
        output += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                output += "\\u" + hex4(scalar.value)
            default:
                if scalar.value < 0x20 {
                    output += "\\u" + hex4(scalar.value)
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output += "\""
    }

    private static func hex4(_ value: UInt32) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - text.count)) + text
    }

    /// `%v` of a float64 (strconv's `'g', -1`): shortest digits, exponent form when the decimal exponent is < -4 or
    /// >= 6 (`1e+06`, `1.5e-05`), fixed otherwise (`123456`, `0.25`).
    static func formatGeneral(_ value: Double) -> String {
        guard let (negative, digits, decimalPoint) = shortestDigits(value) else { return nonFinite(value) }
        if digits.isEmpty { return negative ? "-0" : "0" }
        let exponent = decimalPoint - 1
        let body =
            exponent < -4 || exponent >= 6
            ? exponentForm(digits, exponent: exponent, minimumExponentDigits: 2)
            : fixedForm(digits, decimalPoint: decimalPoint)
        return negative ? "-" + body : body
    }

    /// encoding/json's float form: fixed notation unless the exponent is < -6 or >= 21.
    static func formatJSONNumber(_ value: Double) -> String {
        guard let (negative, digits, decimalPoint) = shortestDigits(value) else { return nonFinite(value) }
        if digits.isEmpty { return negative ? "-0" : "0" }
        let exponent = decimalPoint - 1
        let body =
            exponent < -6 || exponent >= 21
            ? exponentForm(digits, exponent: exponent, minimumExponentDigits: 1)
            : fixedForm(digits, decimalPoint: decimalPoint)
        return negative ? "-" + body : body
    }

    private static func nonFinite(_ value: Double) -> String {
        value.isNaN ? "NaN" : (value > 0 ? "+Inf" : "-Inf")
    }

    /// The shortest round-tripping decimal digits of `value` (no leading or trailing zeros) and where the decimal
    /// point falls: value = 0.d1d2d3… × 10^decimalPoint. Nil for NaN and infinities; empty digits for zero.
    private static func shortestDigits(_ value: Double) -> (negative: Bool, digits: [Character], decimalPoint: Int)? {
        guard value.isFinite else { return nil }
        let negative = value.sign == .minus
        let text = "\(value.magnitude)"
        let parts = text.split(separator: "e", maxSplits: 1)
        let mantissa = parts[0]
        let exponent = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let pieces = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = Array(pieces[0])
        let fractionPart = pieces.count > 1 ? Array(pieces[1]) : []
        var digits = integerPart + fractionPart
        var decimalPoint = integerPart.count + exponent
        while let first = digits.first, first == "0" {
            digits.removeFirst()
            decimalPoint -= 1
        }
        while let last = digits.last, last == "0" { digits.removeLast() }
        return (negative, digits, decimalPoint)
    }

    private static func exponentForm(_ digits: [Character], exponent: Int, minimumExponentDigits: Int) -> String {
        var text = String(digits[0])
        if digits.count > 1 { text += "." + String(digits[1...]) }
        let magnitude = String(abs(exponent))
        let padded = String(repeating: "0", count: max(0, minimumExponentDigits - magnitude.count)) + magnitude
        return text + "e" + (exponent < 0 ? "-" : "+") + padded
    }

    private static func fixedForm(_ digits: [Character], decimalPoint: Int) -> String {
        if decimalPoint <= 0 { return "0." + String(repeating: "0", count: -decimalPoint) + String(digits) }
        if decimalPoint >= digits.count {
            return String(digits) + String(repeating: "0", count: decimalPoint - digits.count)
        }
        return String(digits[..<decimalPoint]) + "." + String(digits[decimalPoint...])
    }
}
