/// Go's `time.ParseDuration` syntax, which etcd's duration flags use: an optional sign, then one or more decimal
/// numbers each with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), e.g. `10m`, `1.5h`, `1h30m`, `500ms`.
/// A bare `0` is allowed.
public enum GoDuration {
    /// Two-letter units first, so "ms" is not read as "m".
    private static let units: [(suffix: String, nanoseconds: Double)] = [
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    /// The duration, or nil when `text` is not in Go's syntax (or exceeds Go's ~292 years).
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        var sign = 1.0
        if let first = rest.first, first == "-" || first == "+" {
            sign = first == "-" ? -1 : 1
            rest = rest.dropFirst()
        }
        if rest == "0" { return .zero }
        guard !rest.isEmpty else { return nil }
        var nanoseconds = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }) else { return nil }
            rest = rest.dropFirst(unit.suffix.count)
            nanoseconds += value * unit.nanoseconds
        }
        guard nanoseconds <= Double(Int64.max) else { return nil }
        return .nanoseconds(Int64(sign * nanoseconds))
    }
}
