// Parsing DNS messages from the wire (RFC 1035 4.1). Every read is bounds-checked; each compression pointer must
// land before the previous one (so following pointers always ends) and a name may not exceed 255 bytes uncompressed,
// so a hostile packet costs at most its own length in work.

/// Why a message could not be parsed: the server answers FORMERR.
public struct DNSParseError: Error, Sendable, Equatable {
    public var reason: String
    init(_ reason: String) { self.reason = reason }
}

extension DNSMessage {
    /// The maximum number of records read in one section: far above what a query or forwarded answer needs.
    static let recordsPerSectionMaximum = 512

    /// Parses a whole message. Trailing bytes after the last section are ignored, as most servers do.
    public static func parse(_ bytes: [UInt8]) throws(DNSParseError) -> DNSMessage {
        var reader = DNSWireReader(bytes: bytes)
        let id = try reader.readUInt16()
        let flags = try reader.readUInt16()
        let counts = [
            try reader.readUInt16(), try reader.readUInt16(), try reader.readUInt16(), try reader.readUInt16(),
        ]
        var header = DNSHeader(id: id)
        header.isResponse = flags & 0x8000 != 0
        header.opcode = UInt8((flags >> 11) & 0xF)
        header.authoritative = flags & 0x0400 != 0
        header.truncated = flags & 0x0200 != 0
        header.recursionDesired = flags & 0x0100 != 0
        header.recursionAvailable = flags & 0x0080 != 0
        header.responseCode = DNSResponseCode(rawValue: UInt8(flags & 0xF)) ?? .serverFailure
        var message = DNSMessage(header: header)
        guard counts.allSatisfy({ Int($0) <= recordsPerSectionMaximum }) else {
            throw DNSParseError("too many records")
        }
        for _ in 0..<counts[0] {
            let name = try reader.readName()
            let type = DNSRecordType(rawValue: try reader.readUInt16())
            message.questions.append(DNSQuestion(name: name, type: type, recordClass: try reader.readUInt16()))
        }
        for _ in 0..<counts[1] { message.answers.append(try reader.readRecord()) }
        for _ in 0..<counts[2] { message.authorities.append(try reader.readRecord()) }
        for _ in 0..<counts[3] {
            let record = try reader.readRecord()
            guard record.type == .opt else {
                message.additionals.append(record)
                continue
            }
            // OPT (RFC 6891 6.1.2): class is the payload size, TTL is extended rcode, version and flags.
            guard message.edns == nil, record.name.labels.isEmpty else { throw DNSParseError("bad OPT record") }
            var edns = DNSExtension(udpPayloadBytes: record.recordClass)
            edns.version = UInt8((record.ttl >> 16) & 0xFF)
            edns.dnssecOK = record.ttl & 0x8000 != 0
            message.edns = edns
        }
        return message
    }
}

struct DNSWireReader {
    let bytes: [UInt8]
    var index = 0

    mutating func readUInt8() throws(DNSParseError) -> UInt8 {
        guard index < bytes.count else { throw DNSParseError("message ends early") }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func readUInt16() throws(DNSParseError) -> UInt16 {
        UInt16(try readUInt8()) << 8 | UInt16(try readUInt8())
    }

    mutating func readUInt32() throws(DNSParseError) -> UInt32 {
        UInt32(try readUInt16()) << 16 | UInt32(try readUInt16())
    }

    mutating func readBytes(_ count: Int) throws(DNSParseError) -> [UInt8] {
        guard count >= 0, bytes.count - index >= count else { throw DNSParseError("message ends early") }
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    /// A name at the current position, following compression pointers (RFC 1035 4.1.4).
    mutating func readName() throws(DNSParseError) -> DNSName {
        var labels: [[UInt8]] = []
        var wireLength = 1
        var position = index
        // Where reading resumes after the name: just past the first pointer, or past the root label.
        var resume: Int? = nil
        // Every pointer must land before the previous one landed (or before the name began): a strictly
        // decreasing sequence, so following pointers always ends.
        var pointerLimit = index
        while true {
            guard position < bytes.count else { throw DNSParseError("name runs past the message") }
            let length = Int(bytes[position])
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    index = resume ?? position + 1
                    return DNSName(labels: labels)
                }
                guard position + 1 + length <= bytes.count else { throw DNSParseError("label runs past the message") }
                wireLength += 1 + length
                guard wireLength <= 255 else { throw DNSParseError("name longer than 255 bytes") }
                labels.append(Array(bytes[position + 1..<position + 1 + length]))
                position += 1 + length
            case 0xC0:
                guard position + 1 < bytes.count else { throw DNSParseError("pointer runs past the message") }
                let target = (length & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < pointerLimit else { throw DNSParseError("compression pointer not backwards") }
                if resume == nil { resume = position + 2 }
                pointerLimit = target
                position = target
            default:
                throw DNSParseError("unknown label type")
            }
        }
    }

    /// A resource record; rdata with names is decompressed, so it can be re-encoded anywhere.
    mutating func readRecord() throws(DNSParseError) -> DNSResourceRecord {
        let name = try readName()
        let type = DNSRecordType(rawValue: try readUInt16())
        let recordClass = try readUInt16()
        let ttl = try readUInt32()
        let length = Int(try readUInt16())
        guard bytes.count - index >= length else { throw DNSParseError("record data runs past the message") }
        let end = index + length
        let data: DNSRecordData
        switch type {
        case .a where length == 4, .aaaa where length == 16:
            data = .address(try readBytes(length))
        case .ns, .cname, .ptr:
            data = .name(try readName())
        case .srv:
            let priority = try readUInt16()
            let weight = try readUInt16()
            let port = try readUInt16()
            data = .service(priority: priority, weight: weight, port: port, target: try readName())
        case .soa:
            let primary = try readName()
            let mailbox = try readName()
            data = .authority(
                primary: primary, mailbox: mailbox, serial: try readUInt32(), refresh: try readUInt32(),
                retry: try readUInt32(), expire: try readUInt32(), minimum: try readUInt32())
        default:
            data = .raw(try readBytes(length))
        }
        guard index == end else { throw DNSParseError("record data length disagrees with its contents") }
        return DNSResourceRecord(name: name, type: type, ttl: ttl, data: data, recordClass: recordClass)
    }
}
