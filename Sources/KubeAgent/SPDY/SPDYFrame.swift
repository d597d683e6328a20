/// SPDY/3.1 frames (SPDY Protocol Draft 3.1; what `moby/spdystream` speaks for kubectl). Every frame starts with
/// 8 bytes: a control frame has the top bit set, the version (3) in 15 bits, the type in 16, then 8 bits of flags
/// and a 24-bit length; a data frame has the top bit clear, a 31-bit stream id, flags and length. Header blocks
/// (SYN_STREAM, SYN_REPLY, HEADERS) are a 32-bit count of (32-bit length, name, 32-bit length, value) pairs,
/// compressed (`SPDYHeaderCompression`); names are lowercase and several values of one name are NUL-separated.
enum SPDYFrame: Sendable, Equatable {
    case data(streamID: UInt32, fin: Bool, payload: [UInt8])
    case synStream(streamID: UInt32, associatedTo: UInt32, priority: UInt8, flags: UInt8, headers: SPDYHeaders)
    case synReply(streamID: UInt32, fin: Bool, headers: SPDYHeaders)
    case rstStream(streamID: UInt32, status: UInt32)
    case settings(clearPersisted: Bool, entries: [SPDYSetting])
    case ping(id: UInt32)
    case goAway(lastGoodStreamID: UInt32, status: UInt32)
    case headers(streamID: UInt32, fin: Bool, headers: SPDYHeaders)
    case windowUpdate(streamID: UInt32, delta: UInt32)
    /// A control frame of a type SPDY/3.1 does not define (CREDENTIAL included): ignored, as the draft asks.
    case unknown(type: UInt16)

    static let version: UInt16 = 3
    static let flagFin: UInt8 = 0x01
    static let flagUnidirectional: UInt8 = 0x02
    /// Data frames and payloads are bounded well below the protocol's 16 MiB (Go's clients write 32 KiB).
    static let payloadBytesMaximum = 1 << 20

    enum ControlType: UInt16 {
        case synStream = 1, synReply, rstStream, settings, ping = 6, goAway, headers, windowUpdate
    }

    /// RST_STREAM status codes.
    enum ResetStatus {
        static let protocolError: UInt32 = 1
        static let invalidStream: UInt32 = 2
        static let refusedStream: UInt32 = 3
        static let cancel: UInt32 = 5
        static let internalError: UInt32 = 6
        static let flowControlError: UInt32 = 7
    }

    /// SETTINGS ids this implementation reads.
    static let settingInitialWindowSize: UInt32 = 7
}

struct SPDYSetting: Sendable, Equatable {
    var flags: UInt8
    var id: UInt32
    var value: UInt32
}

/// A header block: names lowercased, in the order they came.
public struct SPDYHeaders: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public var fields: [Field] = []

    public init(_ pairs: [(String, String)] = []) {
        fields = pairs.map { Field(name: $0.0.lowercased(), value: $0.1) }
    }

    /// The first value of `name` (lowercase), as Go's `http.Header.Get`.
    public subscript(name: String) -> String? {
        guard let field = fields.first(where: { $0.name == name }) else { return nil }
        return String(field.value.split(separator: "\0", omittingEmptySubsequences: false).first ?? "")
    }

    static let fieldsMaximum = 128

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBigEndian(UInt32(fields.count))
        for field in fields {
            bytes.appendBigEndian(UInt32(field.name.utf8.count))
            bytes += field.name.utf8
            bytes.appendBigEndian(UInt32(field.value.utf8.count))
            bytes += field.value.utf8
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) throws(SPDYHeaderError) -> SPDYHeaders {
        var reader = ByteReader(bytes)
        guard let count = reader.uint32(), count <= fieldsMaximum else {
            throw SPDYHeaderError(description: "header block: bad field count")
        }
        var headers = SPDYHeaders()
        for _ in 0..<count {
            guard let nameLength = reader.uint32(), let name = reader.bytes(Int(nameLength)),
                let valueLength = reader.uint32(), let value = reader.bytes(Int(valueLength))
            else { throw SPDYHeaderError(description: "header block: truncated") }
            headers.fields.append(
                Field(
                    name: String(decoding: name, as: UTF8.self).lowercased(),
                    value: String(decoding: value, as: UTF8.self)))
        }
        return headers
    }
}

/// Big-endian reads from a byte array, nil past its end.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func uint32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        defer { offset += 4 }
        return bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func uint8() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func rest() -> [UInt8] { bytes(remaining) ?? [] }
}

extension [UInt8] {
    mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [
            UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff),
        ])
    }
}
