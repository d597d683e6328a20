// Floating-point numbers written as Go writes them. Clients compare what kube-apiserver sends byte for byte
// (kubectl diffs, client caches), so a float must read as Go's encoding/json writes it: `strconv.FormatFloat(f,
// 'f', -1, 64)` for 1e-6 <= |f| < 1e21, the shortest exponent form (`1e+21`, `1e-7`) outside it.
// Swift's `description` already yields the shortest digits that round-trip, as Go's `-1` precision does; only
// the layout differs, so the digits are taken from it and laid out again.

enum GoFloatText {
    /// Appends `value` as Go's encoding/json writes a float64. Go refuses NaN and infinities; this writes `null`.
    static func appendJSON(_ value: Double, to output: inout [UInt8]) {
        guard value.isFinite else {
            output.append(contentsOf: "null".utf8)
            return
        }
        if value.sign == .minus { output.append(UInt8(ascii: "-")) }
        guard value != 0 else {
            output.append(UInt8(ascii: "0"))
            return
        }
        let decimal = DecimalDigits(shortest: value.magnitude.description)
        let magnitude = value.magnitude
        if magnitude < 1e-6 || magnitude >= 1e21 {
            // Go writes two exponent digits at least, then encoding/json trims `e-07` to `e-7`.
            decimal.appendExponentForm(to: &output, minimumPositiveExponentDigits: 2, minimumNegativeExponentDigits: 1)
        } else {
            decimal.appendPlainForm(to: &output)
        }
    }

    /// Go's `strconv.FormatFloat(value, 'g', -1, 32)`, which sigs.k8s.io/yaml uses for a float used as a map key.
    static func formatGeneral32(_ value: Double) -> String {
        let single = Float(value)
        if single.isNaN { return "NaN" }
        if single.isInfinite { return single < 0 ? "-Inf" : "+Inf" }
        var output: [UInt8] = []
        if single.sign == .minus { output.append(UInt8(ascii: "-")) }
        if single == 0 {
            output.append(UInt8(ascii: "0"))
        } else {
            let decimal = DecimalDigits(shortest: single.magnitude.description)
            // With the shortest digits Go picks %e when the exponent is below -4 or at least 6.
            let exponent = decimal.point - 1
            if exponent < -4 || exponent >= 6 {
                decimal.appendExponentForm(
                    to: &output, minimumPositiveExponentDigits: 2, minimumNegativeExponentDigits: 2)
            } else {
                decimal.appendPlainForm(to: &output)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// A positive number as digits `d1 d2 …` (no leading or trailing zeros) meaning `0.d1d2… × 10^point`.
    private struct DecimalDigits {
        var digits: [UInt8] = []
        var point = 0

        /// Reads Swift's description of a positive finite number (`0.001`, `123.0`, `1.5e-07`, `1e+21`).
        init(shortest text: String) {
            var pointAt: Int?
            var exponent = 0
            var exponentSign = 1
            var inExponent = false
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    if inExponent {
                        exponent = exponent * 10 + Int(byte - UInt8(ascii: "0"))
                    } else {
                        digits.append(byte)
                    }
                case UInt8(ascii: "."): pointAt = digits.count
                case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
                case UInt8(ascii: "-"): exponentSign = -1
                default: break
                }
            }
            point = (pointAt ?? digits.count) + exponentSign * exponent
            let leadingZeros = digits.prefix { $0 == UInt8(ascii: "0") }.count
            digits.removeFirst(leadingZeros)
            point -= leadingZeros
            while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        }

        /// `%f` with just the digits needed: `0.000123`, `12.5`, `1200`.
        func appendPlainForm(to output: inout [UInt8]) {
            if point <= 0 {
                output.append(contentsOf: "0.".utf8)
                output.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: -point))
                output.append(contentsOf: digits)
            } else if point >= digits.count {
                output.append(contentsOf: digits)
                output.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: point - digits.count))
            } else {
                output.append(contentsOf: digits[..<point])
                output.append(UInt8(ascii: "."))
                output.append(contentsOf: digits[point...])
            }
        }

        /// `%e` with just the digits needed: `1.5e+21`, `1e-07` (exponent padded to the given widths).
        func appendExponentForm(
            to output: inout [UInt8], minimumPositiveExponentDigits: Int, minimumNegativeExponentDigits: Int
        ) {
            output.append(digits[0])
            if digits.count > 1 {
                output.append(UInt8(ascii: "."))
                output.append(contentsOf: digits[1...])
            }
            let exponent = point - 1
            output.append(UInt8(ascii: "e"))
            output.append(UInt8(ascii: exponent < 0 ? "-" : "+"))
            let exponentDigits = Array(String(abs(exponent)).utf8)
            let width = exponent < 0 ? minimumNegativeExponentDigits : minimumPositiveExponentDigits
            output.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(0, width - exponentDigits.count)))
            output.append(contentsOf: exponentDigits)
        }
    }
}
