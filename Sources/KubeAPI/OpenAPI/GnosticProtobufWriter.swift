// Protobuf wire output for gnostic's `openapi.v2` messages, written by hand: a message is a run of (tag, value)
// pairs, the tag a varint `fieldNumber << 3 | wireType`; wire type 0 is a varint, 1 eight little-endian bytes,
// 2 a varint length and then that many bytes (strings, sub-messages). The messages are proto3, so `proto.Marshal`
// leaves out scalars at their zero value; callers do the same. A sub-message that is present is written even when
// empty: readers test presence (kube-openapi reads a schema with `properties: {}` as a kind, one without as a map).

/// Appends protobuf fields to a byte buffer; nested messages get their length written after their content.
struct GnosticProtobufWriter {
    private(set) var bytes: [UInt8] = []

    private enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
    }

    mutating func appendVarint(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    private mutating func appendTag(_ number: Int, _ wireType: WireType) {
        appendVarint(UInt64(number) << 3 | wireType.rawValue)
    }

    /// A varint field (bool, int64; negative numbers take ten bytes, as Go writes them), written even when zero.
    mutating func appendVarintField(_ number: Int, _ value: UInt64) {
        appendTag(number, .varint)
        appendVarint(value)
    }

    /// A `double` field, written even when zero.
    mutating func appendDoubleField(_ number: Int, _ value: Double) {
        appendTag(number, .fixed64)
        var pattern = value.bitPattern
        for _ in 0..<8 {
            bytes.append(UInt8(truncatingIfNeeded: pattern))
            pattern >>= 8
        }
    }

    /// A `string` field, written even when empty (a repeated string keeps its empty elements).
    mutating func appendStringField(_ number: Int, _ value: String) {
        appendTag(number, .lengthDelimited)
        appendVarint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// Starts a sub-message in field `number`; returns where its content starts, to hand to `endMessage`.
    /// One length byte is reserved, which is all a message under 128 bytes needs.
    mutating func beginMessage(_ number: Int) -> Int {
        appendTag(number, .lengthDelimited)
        bytes.append(0)
        return bytes.count
    }

    /// Ends the sub-message whose content started at `contentStart`, writing its length in front of it.
    mutating func endMessage(_ contentStart: Int) {
        let length = bytes.count - contentStart
        if length < 0x80 {
            bytes[contentStart - 1] = UInt8(length)
            return
        }
        var lengthBytes: [UInt8] = []
        var remaining = UInt64(length)
        while remaining >= 0x80 {
            lengthBytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        lengthBytes.append(UInt8(remaining))
        bytes[contentStart - 1] = lengthBytes[0]
        bytes.insert(contentsOf: lengthBytes[1...], at: contentStart)
    }
}
