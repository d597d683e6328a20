/// `grpc-timeout` header values: 1 to 8 ASCII digits followed by a unit, H (hours), M (minutes), S (seconds),
/// m (milliseconds), u (microseconds) or n (nanoseconds).
enum GRPCTimeout {
    private static let maximumValue: Int64 = 99_999_999

    /// Parses a header value; nil when malformed (grpc-go then fails the call with `.internalError`).
    static func parse(_ bytes: UnsafeRawBufferPointer) -> Duration? {
        guard bytes.count >= 2, bytes.count <= 9 else { return nil }
        var value: Int64 = 0
        for byte in bytes.dropLast() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        switch bytes[bytes.count - 1] {
        case UInt8(ascii: "H"): return .seconds(value * 3600)
        case UInt8(ascii: "M"): return .seconds(value * 60)
        case UInt8(ascii: "S"): return .seconds(value)
        case UInt8(ascii: "m"): return .milliseconds(value)
        case UInt8(ascii: "u"): return .microseconds(value)
        case UInt8(ascii: "n"): return .nanoseconds(value)
        default: return nil
        }
    }

    static func parse(_ string: String) -> Duration? {
        var copy = string
        return copy.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// Formats like grpc-go's `encodeTimeout`: the finest unit whose value fits in 8 digits, rounded up.
    static func format(_ duration: Duration) -> String {
        let nanoseconds = nanosecondsSaturating(duration)
        if nanoseconds <= 0 { return "0n" }
        let units: [(Int64, String)] = [
            (1, "n"), (1_000, "u"), (1_000_000, "m"), (1_000_000_000, "S"), (60_000_000_000, "M"),
            (3_600_000_000_000, "H"),
        ]
        for (scale, unit) in units {
            let value = nanoseconds / scale + (nanoseconds % scale > 0 ? 1 : 0)
            if value <= maximumValue { return "\(value)\(unit)" }
        }
        return "\(maximumValue)H"
    }

    static func nanosecondsSaturating(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        if seconds >= Int64.max / 1_000_000_000 - 1 { return Int64.max }
        if seconds <= Int64.min / 1_000_000_000 + 1 { return Int64.min }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
