import Foundation

/// Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`, `128974848`), as apimachinery's `resource.Quantity`
/// reads them. The scheduler counts cpu in millicores and everything else in whole units, rounding up as
/// `MilliValue()` and `Value()` do, so a request never looks smaller than it is.
public enum Quantity {
    private static let binarySuffixes: [String: Int] = ["Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60]
    private static let decimalSuffixes: [String: Int] = [
        "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
    ]

    /// The quantity's exact value, or nil when it is not a quantity.
    public static func parse(_ text: String) -> Decimal? {
        let text = text.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return nil }
        // The number is everything up to the first letter that starts a suffix (an `e`/`E` followed by a
        // digit or sign is an exponent, not the exa suffix).
        let characters = Array(text)
        var index = 0
        if index < characters.count, characters[index] == "+" || characters[index] == "-" { index += 1 }
        while index < characters.count, characters[index].isNumber || characters[index] == "." { index += 1 }
        let number = String(characters[..<index])
        var suffix = String(characters[index...])
        var exponent = 0
        if let first = suffix.first, first == "e" || first == "E", suffix.count > 1 {
            guard let power = Int(suffix.dropFirst()) else { return nil }
            exponent = power
            suffix = ""
        }
        guard !number.isEmpty, number != "+", number != "-", number.filter({ $0 == "." }).count <= 1,
            var value = Decimal(string: number, locale: Locale(identifier: "en_US_POSIX"))
        else { return nil }
        if let shift = binarySuffixes[suffix] {
            value *= Decimal(sign: .plus, exponent: 0, significand: Decimal(UInt64(1) << UInt64(shift)))
        } else if let power = decimalSuffixes[suffix] {
            exponent += power
        } else {
            return nil
        }
        if exponent != 0 { value *= Decimal(sign: .plus, exponent: exponent, significand: 1) }
        return value
    }

    /// A JSON quantity (a string, or a bare number) in units of `scale` (1000 for millicores), rounded up.
    public static func value(_ json: JSONValue?, scale: Int64 = 1) -> Int64? {
        if case .string(let text)? = json, let fast = integerValue(text, scale: scale) { return fast }
        let decimal: Decimal?
        switch json {
        case .string(let text)?: decimal = parse(text)
        case .int(let number)?: decimal = Decimal(number)
        case .double(let number)?: decimal = Decimal(number)
        default: decimal = nil
        }
        guard var scaled = decimal.map({ $0 * Decimal(scale) }) else { return nil }
        var rounded = Decimal()
        NSDecimalRound(&rounded, &scaled, 0, .up)
        if rounded > Decimal(Int64.max) { return Int64.max }
        if rounded < Decimal(Int64.min) { return Int64.min }
        return NSDecimalNumber(decimal: rounded).int64Value
    }

    /// Whole numbers with an optional common suffix (`500m`, `4`, `16Mi`, `2Gi`, `1k`) in integer arithmetic: the
    /// shapes nearly every request takes, without Decimal's cost; nil for anything else (or an overflow), which
    /// `parse` then reads exactly.
    public static func integerValue(_ text: String, scale: Int64) -> Int64? {
        var digits: Int64 = 0
        var count = 0
        let utf8 = text.utf8
        var index = utf8.startIndex
        while index < utf8.endIndex, (48...57).contains(utf8[index]) {
            guard count < 15 else { return nil }
            digits = digits * 10 + Int64(utf8[index] - 48)
            count += 1
            index = utf8.index(after: index)
        }
        guard count > 0 else { return nil }
        let multiplier: Int64
        switch String(decoding: utf8[index...], as: UTF8.self) {
        case "": multiplier = 1
        case "m":
            // Thousandths, rounded up in the target unit.
            let (product, overflow) = digits.multipliedReportingOverflow(by: scale)
            guard !overflow else { return nil }
            return (product + 999) / 1000
        case "k": multiplier = 1000
        case "M": multiplier = 1_000_000
        case "G": multiplier = 1_000_000_000
        case "Ki": multiplier = 1 << 10
        case "Mi": multiplier = 1 << 20
        case "Gi": multiplier = 1 << 30
        case "Ti": multiplier = 1 << 40
        default: return nil
        }
        let (scaled, overflow) = digits.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        let (result, overflowAgain) = scaled.multipliedReportingOverflow(by: scale)
        return overflowAgain ? nil : result
    }

    /// The unit each resource is counted in: cpu in millicores, the rest in whole units.
    public static func amount(of resource: String, _ json: JSONValue?) -> Int64 {
        value(json, scale: resource == "cpu" ? 1000 : 1) ?? 0
    }
}
