/// Go's ways of printing values, for error and warning texts that must read as kube-apiserver's do (clients and
/// people match on them). Values are what Go's JSON decoding yields: maps, slices, strings, int64 (whole numbers,
/// kept as integers the way apimachinery decodes), float64, bools and nil.
enum GoMessageText {
    /// `fmt.Sprintf("%v", value)`: `map[a:1 b:[x y]]` (keys sorted), `[x y]`, `<nil>`.
    static func value(_ value: JSONValue) -> String {
        var text = ""
        append(value, to: &text)
        return text
    }

    /// `fmt.Sprintf("%s", value)` of an `interface{}`: strings as they are, anything else as fmt's bad-verb form.
    static func percentS(_ value: JSONValue) -> String {
        switch value {
        case .string(let string): string
        case .null: "%!s(<nil>)"
        case .bool(let bool): "%!s(bool=\(bool))"
        case .int(let integer): "%!s(int64=\(integer))"
        case .double(let double): "%!s(float64=\(float(double)))"
        case .array, .object: Self.value(value)
        }
    }

    /// `reflect.TypeOf(value).String()` as `%s` prints it.
    static func typeName(_ value: JSONValue?) -> String {
        switch value {
        case .object: "map[string]interface {}"
        case .array: "[]interface {}"
        case .string: "string"
        case .int: "int64"
        case .double: "float64"
        case .bool: "bool"
        case .null, nil: "%!s(<nil>)"
        }
    }

    /// `strconv.Quote` (`%q`).
    static func quoted(_ string: String) -> String { GoFormat.quoted(string) }

    private static func append(_ value: JSONValue, to text: inout String) {
        switch value {
        case .null: text += "<nil>"
        case .bool(let bool): text += bool ? "true" : "false"
        case .int(let integer): text += String(integer)
        case .double(let double): text += float(double)
        case .string(let string): text += string
        case .array(let array):
            text += "["
            for (offset, element) in array.enumerated() {
                if offset > 0 { text += " " }
                append(element, to: &text)
            }
            text += "]"
        case .object(let object):
            text += "map["
            let sorted = object.entries.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (offset, entry) in sorted.enumerated() {
                if offset > 0 { text += " " }
                text += entry.key + ":"
                append(entry.value, to: &text)
            }
            text += "]"
        }
    }

    /// `%v` of a float64: the shortest digits, in exponent form when the exponent is below -4 or at least 6.
    static func float(_ double: Double) -> String {
        if double.isNaN { return "NaN" }
        if double.isInfinite { return double < 0 ? "-Inf" : "+Inf" }
        if double == 0 { return double.sign == .minus ? "-0" : "0" }
        let sign = double < 0 ? "-" : ""
        // Swift's description is also the shortest round-tripping form; take its digits and exponent apart.
        let text = "\(abs(double))"
        let parts = text.split(separator: "e", maxSplits: 1)
        let exponent = parts.count == 2 ? Int(parts[1]) ?? 0 : 0
        let mantissa = parts[0].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let integerDigits = String(mantissa[0])
        var digits = Array(integerDigits + (mantissa.count == 2 ? String(mantissa[1]) : ""))
        var decimalPoint = integerDigits.count + exponent
        while digits.first == "0" {
            digits.removeFirst()
            decimalPoint -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        let digitText = String(digits)
        let exponent10 = decimalPoint - 1
        if exponent10 < -4 || exponent10 >= 6 {
            let rest = digits.count > 1 ? "." + String(digits.dropFirst()) : ""
            let exponentDigits = String(abs(exponent10))
            let paddedExponent = exponentDigits.count < 2 ? "0" + exponentDigits : exponentDigits
            return sign + String(digits[0]) + rest + "e" + (exponent10 < 0 ? "-" : "+") + paddedExponent
        }
        if decimalPoint <= 0 { return sign + "0." + String(repeating: "0", count: -decimalPoint) + digitText }
        if decimalPoint >= digits.count {
            return sign + digitText + String(repeating: "0", count: decimalPoint - digits.count)
        }
        return sign + String(digits[..<decimalPoint]) + "." + String(digits[decimalPoint...])
    }
}
