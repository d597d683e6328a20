// Protobuf's wire format, as much of it as Kubernetes' gogo-generated messages use: a message is a run of
// (tag, value) pairs, the tag a varint `fieldNumber << 3 | wireType`. Wire types: 0 varint, 1 eight bytes,
// 2 varint length then that many bytes (strings, bytes, messages, map entries, packed repeated scalars),
// 5 four bytes. Groups (3 and 4) are obsolete and never written by Go's generated code; they are refused.

/// The wire type of one field occurrence.
enum ProtobufWireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case fixed32 = 5
}

/// A cursor over one message's bytes inside a larger buffer; every read is checked against the message's end.
struct ProtobufWireReader {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    init(_ bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        position = range.lowerBound
        end = range.upperBound
    }

    var isAtEnd: Bool { position >= end }

    /// The next field's number and wire type.
    mutating func readTag() throws(KubeProtobufError) -> (number: Int, wireType: ProtobufWireType) {
        let start = position
        let tag = try readVarint()
        let number = tag >> 3
        guard number > 0, number < 1 << 29 else {
            throw KubeProtobufError(.malformed, "invalid protobuf field number \(number) at byte \(start)")
        }
        guard let wireType = ProtobufWireType(rawValue: UInt8(tag & 7)) else {
            throw KubeProtobufError(.malformed, "unsupported protobuf wire type \(tag & 7) at byte \(start)")
        }
        return (Int(number), wireType)
    }

    /// A base-128 varint of at most 10 bytes (bits beyond 64 are dropped, as Go's generated code drops them).
    mutating func readVarint() throws(KubeProtobufError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while shift < 64 {
            guard position < end else {
                throw KubeProtobufError(
                    .truncated, "unexpected end of protobuf input inside a varint at byte \(position)")
            }
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        throw KubeProtobufError(.malformed, "protobuf varint longer than 10 bytes ending at byte \(position)")
    }

    /// The byte range of a length-delimited value.
    mutating func readLengthDelimited() throws(KubeProtobufError) -> Range<Int> {
        let length = try readVarint()
        guard length <= UInt64(end - position) else {
            throw KubeProtobufError(
                .truncated, "protobuf length \(length) at byte \(position) runs past the end of its message")
        }
        let start = position
        position += Int(length)
        return start..<position
    }

    /// Steps over a value of a field this reader does not know (newer Kubernetes versions add fields).
    mutating func skip(_ wireType: ProtobufWireType) throws(KubeProtobufError) {
        switch wireType {
        case .varint: _ = try readVarint()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .fixed64: try advance(8)
        case .fixed32: try advance(4)
        }
    }

    private mutating func advance(_ count: Int) throws(KubeProtobufError) {
        guard count <= end - position else {
            throw KubeProtobufError(.truncated, "unexpected end of protobuf input at byte \(position)")
        }
        position += count
    }
}
