import Foundation
import KubeAPI

/// Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`, `128974848`), as apimachinery's `resource.Quantity`
/// reads them. The scheduler counts cpu in millicores and everything else in whole units, rounding up as
/// `MilliValue()` and `Value()` do, so a request never looks smaller than it is.
enum Quantity {
    private static let binarySuffixes: [String: Int] = ["Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60]
    private static let decimalSuffixes: [String: Int] = [
        "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
    ]

    /// The quantity's exact value, or nil when it is not a quantity.
    static func parse(_ text: String) -> Decimal? {
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
    static func value(_ json: JSONValue?, scale: Int64 = 1) -> Int64? {
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

    /// The unit each resource is counted in: cpu in millicores, the rest in whole units.
    static func amount(of resource: String, _ json: JSONValue?) -> Int64 {
        value(json, scale: resource == "cpu" ? 1000 : 1) ?? 0
    }
}
