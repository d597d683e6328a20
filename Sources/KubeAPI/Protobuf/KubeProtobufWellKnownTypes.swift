// apimachinery's types with hand-written protobuf and JSON methods, read as those methods read them:
// - meta/v1 Time {seconds=1, nanos=2}: empty bytes are the zero time (left out); otherwise
//   time.Unix(seconds, 0) (time_proto.go drops the nanoseconds) written as RFC 3339 in UTC, whole seconds.
// - meta/v1 MicroTime {seconds=1, nanos=2}: the same, nanoseconds truncated to microseconds, six digits written.
// - meta/v1 Duration {duration=1, nanoseconds}: Go's time.Duration.String(), "1h0m0s".
// - meta/v1 FieldsV1 {Raw=1} and runtime RawExtension {raw=1}: the raw bytes are JSON, parsed into the value;
//   no bytes is JSON null. (Go also accepts CBOR there; kubectl never sends it, Kelson refuses it.)
// - intstr IntOrString {type=1, intVal=2, strVal=3}: type 0 is the number, 1 the string, others an error.
// - resource Quantity {string=1}: the string as written (JSON reading checks its form); missing is "0".

/// A message whose JSON is not its fields.
enum KubeProtobufWellKnownType: String, Sendable {
    case time = "k8s.io.apimachinery.pkg.apis.meta.v1.Time"
    case microTime = "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime"
    case duration = "k8s.io.apimachinery.pkg.apis.meta.v1.Duration"
    case fieldsV1 = "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1"
    case rawExtension = "k8s.io.apimachinery.pkg.runtime.RawExtension"
    case intOrString = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
    case quantity = "k8s.io.apimachinery.pkg.api.resource.Quantity"
}

extension KubeProtobufDecoder {
    /// The JSON of a well-known type; nil for the zero time.
    func decodeWellKnown(
        _ type: KubeProtobufWellKnownType, _ range: Range<Int>, depth: Int
    ) throws(KubeProtobufError) -> JSONValue? {
        let fields = try WellKnownFields(bytes, range, type)
        switch type {
        case .time, .microTime:
            guard !range.isEmpty else { return nil }
            let seconds = Int64(bitPattern: try fields.varint(1) ?? 0)
            guard type == .microTime else { return .string(try KubeProtobufText.rfc3339(seconds: seconds)) }
            let nanoseconds = Int64(Int32(truncatingIfNeeded: try fields.varint(2) ?? 0))
            return .string(
                try KubeProtobufText.rfc3339(seconds: seconds, microseconds: nanoseconds / 1000))
        case .duration:
            return .string(KubeProtobufText.goDuration(nanoseconds: Int64(bitPattern: try fields.varint(1) ?? 0)))
        case .fieldsV1, .rawExtension:
            guard let raw = try fields.bytes(1) else { return .null }
            do {
                return try JSONValue.parse(bytes[raw])
            } catch {
                throw KubeProtobufError(.invalidValue, "\(type.goName) at byte \(raw.lowerBound) is not JSON: \(error)")
            }
        case .intOrString:
            switch try fields.varint(1) ?? 0 {
            case 0: return .int(Int64(Int32(truncatingIfNeeded: try fields.varint(2) ?? 0)))
            case 1: return .string(try fields.bytes(3).map(string) ?? "")
            default: throw KubeProtobufError(.invalidValue, "impossible IntOrString.Type")
            }
        case .quantity:
            return .string(try fields.bytes(1).map(string) ?? "0")
        }
    }
}

extension KubeProtobufWellKnownType {
    /// The Go type's name, for messages.
    var goName: String { String(rawValue.split(separator: ".").suffix(2).joined(separator: ".")) }
}

/// The last occurrence of each field of a well-known type (all of them scalars), wire types checked on use.
private struct WellKnownFields {
    private var values: [(number: Int, wireType: ProtobufWireType, varint: UInt64, range: Range<Int>)] = []
    private let type: KubeProtobufWellKnownType

    init(_ bytes: [UInt8], _ range: Range<Int>, _ type: KubeProtobufWellKnownType) throws(KubeProtobufError) {
        self.type = type
        var reader = ProtobufWireReader(bytes, range: range)
        while !reader.isAtEnd {
            let (number, wireType) = try reader.readTag()
            guard number <= 3 else {
                try reader.skip(wireType)
                continue
            }
            switch wireType {
            case .varint: values.append((number, wireType, try reader.readVarint(), 0..<0))
            case .lengthDelimited: values.append((number, wireType, 0, try reader.readLengthDelimited()))
            case .fixed32, .fixed64:
                try reader.skip(wireType)
                values.append((number, wireType, 0, 0..<0))
            }
        }
    }

    func varint(_ number: Int) throws(KubeProtobufError) -> UInt64? {
        try last(number, .varint)?.varint
    }

    func bytes(_ number: Int) throws(KubeProtobufError) -> Range<Int>? {
        try last(number, .lengthDelimited)?.range
    }

    private func last(
        _ number: Int, _ wireType: ProtobufWireType
    ) throws(KubeProtobufError) -> (number: Int, wireType: ProtobufWireType, varint: UInt64, range: Range<Int>)? {
        guard let value = values.last(where: { $0.number == number }) else { return nil }
        guard value.wireType == wireType else {
            throw KubeProtobufError(
                .malformed, "proto: wrong wireType = \(value.wireType.rawValue) for field \(number) of \(type.goName)")
        }
        return value
    }
}

/// The texts Go writes for these values.
enum KubeProtobufText {
    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 with padding, as encoding/json writes `[]byte`.
    static func base64(_ bytes: ArraySlice<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let count = min(3, bytes.endIndex - index)
            var group: UInt32 = 0
            for offset in 0..<3 { group = group << 8 | (offset < count ? UInt32(bytes[index + offset]) : 0) }
            for offset in 0..<4 {
                let sextet = Int(group >> UInt32(18 - 6 * offset) & 0x3F)
                output.append(offset <= count ? base64Alphabet[sextet] : UInt8(ascii: "="))
            }
            index += count
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// 0000-01-01T00:00:00Z through 9999-12-31T23:59:59Z: the years Go's RFC 3339 layout writes in four digits.
    static let secondsRange: ClosedRange<Int64> = -62_167_219_200...253_402_300_799

    /// `2026-01-01T00:00:00Z`, or with `microseconds` (which may be negative or past a second, as Go's
    /// time.Unix allows) `2026-01-01T00:00:00.000000Z`.
    static func rfc3339(seconds: Int64, microseconds: Int64? = nil) throws(KubeProtobufError) -> String {
        var seconds = seconds
        var fraction = microseconds ?? 0
        if fraction < 0 || fraction >= 1_000_000 {
            let carry = fraction / 1_000_000 - (fraction < 0 && fraction % 1_000_000 != 0 ? 1 : 0)
            (seconds, fraction) = (seconds &+ carry, fraction - carry * 1_000_000)
        }
        guard secondsRange.contains(seconds) else {
            throw KubeProtobufError(.invalidValue, "time \(seconds) seconds since 1970 is outside years 0 to 9999")
        }
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        var text = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(secondOfDay / 3600, 2) + ":"
        text += pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
        if microseconds != nil { text += "." + pad(fraction, 6) }
        return text + "Z"
    }

    /// Go's time.Duration.String(): `0s`, `1.5µs`, `2ms`, `1h0m0s`, `-3m2.5s`.
    static func goDuration(nanoseconds: Int64) -> String {
        let negative = nanoseconds < 0
        var remaining = negative ? 0 &- UInt64(bitPattern: nanoseconds) : UInt64(nanoseconds)
        guard remaining != 0 else { return "0s" }
        var text: String
        if remaining < 1_000_000_000 {
            let (unit, precision) =
                remaining < 1_000 ? ("ns", 0) : remaining < 1_000_000 ? ("µs", 3) : ("ms", 6)
            let fractionText = fraction(&remaining, precision)
            text = String(remaining) + fractionText + unit
        } else {
            let fractionText = fraction(&remaining, 9)
            text = String(remaining % 60) + fractionText + "s"
            remaining /= 60
            if remaining > 0 {
                text = String(remaining % 60) + "m" + text
                remaining /= 60
                if remaining > 0 { text = String(remaining) + "h" + text }
            }
        }
        return negative ? "-" + text : text
    }

    /// The last `precision` digits of `value` as `.123` without trailing zeros (nothing when all are zero);
    /// `value` keeps the digits before them.
    private static func fraction(_ value: inout UInt64, _ precision: Int) -> String {
        var digits: [Character] = []
        for _ in 0..<precision {
            let digit = value % 10
            if !digits.isEmpty || digit != 0 { digits.append(Character(String(digit))) }
            value /= 10
        }
        return digits.isEmpty ? "" : "." + String(digits.reversed())
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian, day 0 = 1970-01-01).
    private static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
