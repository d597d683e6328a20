// The date, date-time and duration formats of kube-openapi's strfmt (date.go, time.go, duration.go).

extension StringFormats {
    /// Go's `time.Parse("2006-01-02", text)`: four-digit year, two-digit month and day, the day within the month.
    static func isDate(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return false }
        guard let year = number(bytes[0..<4]), let month = number(bytes[5..<7]), let day = number(bytes[8..<10])
        else { return false }
        guard month >= 1, month <= 12, day >= 1 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= days[month - 1]
    }

    /// strfmt.IsDateTime: lowercased and cut at each "t", the first part a date and the second
    /// `^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$` with hours up to 23 and minutes
    /// and seconds up to 59 (compared as text).
    static func isDateTime(_ text: String) -> Bool {
        guard text.utf8.count >= 4 else { return false }
        let parts = text.lowercased().split(separator: "t", omittingEmptySubsequences: false)
        guard parts.count >= 2, isDate(String(parts[0])) else { return false }
        let time = Array(parts[1].unicodeScalars)
        guard time.count >= 9, time[2] == ":", time[5] == ":" else { return false }
        let fields = [time[0..<2], time[3..<5], time[6..<8]].map { String(String.UnicodeScalarView($0)) }
        guard fields.allSatisfy({ $0.utf8.allSatisfy(isDigit) }) else { return false }
        var rest = time[8...]
        if !isZone(rest) {
            // `(.[0-9]+)?`: any one character but a newline, then digits.
            guard let first = rest.first, first != "\n" else { return false }
            rest = rest.dropFirst()
            let digitCount = rest.prefix { $0.isASCII && isDigit(UInt8($0.value)) }.count
            guard digitCount > 0 else { return false }
            rest = rest.dropFirst(digitCount)
            guard isZone(rest) else { return false }
        }
        return fields[0] <= "23" && fields[1] <= "59" && fields[2] <= "59"
    }

    /// `z` or `[+-][0-9]{2}:[0-9]{2}`, and nothing after.
    private static func isZone(_ scalars: ArraySlice<Unicode.Scalar>) -> Bool {
        let zone = Array(scalars)
        if zone == ["z"] { return true }
        guard zone.count == 6, zone[0] == "+" || zone[0] == "-", zone[3] == ":" else { return false }
        return [zone[1], zone[2], zone[4], zone[5]].allSatisfy { $0.isASCII && isDigit(UInt8($0.value)) }
    }

    private static func number(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard bytes.allSatisfy(isDigit) else { return nil }
        return bytes.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    /// strfmt.ParseDuration: Go's time.ParseDuration, or else at least one `<digits> <unit>` with a unit of ns, us,
    /// ms, s, m, h, d or w (or a longer word starting with the unit's long name: `5 days`).
    static func isDuration(_ text: String) -> Bool {
        if isGoDuration(text) { return true }
        let scalars = Array(text.unicodeScalars)
        var index = 0
        var recognized = false
        while index < scalars.count {
            guard scalars[index].isASCII, isDigit(UInt8(scalars[index].value)) else {
                index += 1
                continue
            }
            var end = index
            while end < scalars.count, scalars[end].isASCII, isDigit(UInt8(scalars[end].value)) { end += 1 }
            let digits = String(String.UnicodeScalarView(scalars[index..<end]))
            var unitStart = end
            while unitStart < scalars.count, [" ", "\t", "\n", "\u{0C}", "\r"].contains(scalars[unitStart]) {
                unitStart += 1
            }
            var unitEnd = unitStart
            while unitEnd < scalars.count, isUnitLetter(scalars[unitEnd]) { unitEnd += 1 }
            guard unitEnd > unitStart else {
                index = end
                continue
            }
            // strconv.Atoi fails on a number too large for an int, and then the whole parse fails.
            guard Int64(digits) != nil else { return false }
            let unit = String(String.UnicodeScalarView(scalars[unitStart..<unitEnd])).lowercased()
            if durationUnit(unit) { recognized = true }
            index = unitEnd
        }
        return recognized
    }

    private static func isUnitLetter(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "µ" || (65...90).contains(scalar.value) || (97...122).contains(scalar.value)
    }

    private static let durationUnits: [[String]] = [
        ["ns", "nano"], ["us", "µs", "micro"], ["ms", "milli"], ["s", "sec"], ["m", "min"], ["h", "hr", "hour"],
        ["d", "day"], ["w", "wk", "week"],
    ]

    private static func durationUnit(_ unit: String) -> Bool {
        durationUnits.contains { variants in
            variants.enumerated().contains { offset, variant in
                (offset == variants.count - 1 && unit.hasPrefix(variant)) || variant == unit
            }
        }
    }

    /// Go's time.ParseDuration: `[-+]?([0-9]*(\.[0-9]*)?unit)+` or `0`, units ns, us, µs, μs, ms, s, m, h, within
    /// an int64 of nanoseconds.
    private static func isGoDuration(_ text: String) -> Bool {
        var scalars = Substring(text).unicodeScalars[...]
        if let sign = scalars.first, sign == "-" || sign == "+" { scalars = scalars.dropFirst() }
        if String(scalars) == "0" { return true }
        guard !scalars.isEmpty else { return false }
        let nanoseconds: [String: Double] = [
            "ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 6e10, "h": 3.6e12,
        ]
        var total = 0.0
        while !scalars.isEmpty {
            let integer = scalars.prefix { $0.isASCII && isDigit(UInt8($0.value)) }
            scalars = scalars.dropFirst(integer.count)
            var fraction: Substring.UnicodeScalarView.SubSequence = scalars.prefix(0)
            if scalars.first == "." {
                scalars = scalars.dropFirst()
                fraction = scalars.prefix { $0.isASCII && isDigit(UInt8($0.value)) }
                scalars = scalars.dropFirst(fraction.count)
            }
            guard !integer.isEmpty || !fraction.isEmpty else { return false }
            let unit = scalars.prefix { $0 != "." && !($0.isASCII && isDigit(UInt8($0.value))) }
            scalars = scalars.dropFirst(unit.count)
            guard let scale = nanoseconds[String(unit)] else { return false }
            guard let value = Double("0" + String(integer) + "." + String(fraction) + "0") else { return false }
            total += value * scale
            guard total < 9_223_372_036_854_775_808.0 else { return false }
        }
        return true
    }
}
