// Encoding DNS messages (RFC 1035 4.1) with name compression (4.1.4), and truncation to a size limit: a response
// that does not fit is sent as header, question and OPT only, with TC set, so the client retries over TCP
// (RFC 2181 9 asks for no partial RRsets; dropping every record is the simple way to honour it).

extension DNSMessage {
    /// The message on the wire, at most `bytesMaximum` bytes: truncated (TC set, records dropped) if larger.
    public func encoded(bytesMaximum: Int = DNSMessage.tcpBytesMaximum) -> [UInt8] {
        let full = encodedWithoutLimit()
        guard full.count > bytesMaximum else { return full }
        var truncated = self
        truncated.header.truncated = true
        truncated.answers = []
        truncated.authorities = []
        truncated.additionals = []
        return truncated.encodedWithoutLimit()
    }

    func encodedWithoutLimit() -> [UInt8] {
        var writer = DNSWireWriter()
        var flags: UInt16 = 0
        if header.isResponse { flags |= 0x8000 }
        flags |= UInt16(header.opcode & 0xF) << 11
        if header.authoritative { flags |= 0x0400 }
        if header.truncated { flags |= 0x0200 }
        if header.recursionDesired { flags |= 0x0100 }
        if header.recursionAvailable { flags |= 0x0080 }
        flags |= UInt16(header.responseCode.rawValue)
        writer.writeUInt16(header.id)
        writer.writeUInt16(flags)
        writer.writeUInt16(UInt16(questions.count))
        writer.writeUInt16(UInt16(answers.count))
        writer.writeUInt16(UInt16(authorities.count))
        writer.writeUInt16(UInt16(additionals.count + (edns == nil ? 0 : 1)))
        for question in questions {
            writer.writeName(question.name)
            writer.writeUInt16(question.type.rawValue)
            writer.writeUInt16(question.recordClass)
        }
        for record in answers + authorities + additionals { writer.writeRecord(record) }
        if let edns {
            writer.bytes.append(0)  // the root name
            writer.writeUInt16(DNSRecordType.opt.rawValue)
            writer.writeUInt16(edns.udpPayloadBytes)
            writer.writeUInt32(UInt32(edns.version) << 16 | (edns.dnssecOK ? 0x8000 : 0))
            writer.writeUInt16(0)  // no options
        }
        return writer.bytes
    }
}

struct DNSWireWriter {
    var bytes: [UInt8] = []
    /// Where each name suffix (by its lower-cased key) was first written, for compression pointers.
    var offsets: [String: Int] = [:]

    init() { bytes.reserveCapacity(512) }

    mutating func writeUInt16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    mutating func writeUInt32(_ value: UInt32) {
        writeUInt16(UInt16(value >> 16))
        writeUInt16(UInt16(value & 0xFFFF))
    }

    /// Writes a name, pointing at an earlier copy of its longest known suffix. Suffixes are matched without regard
    /// to case, so an answer's owner name points at the question and echoes the client's spelling (resolvers that
    /// randomise case, "0x20", check it).
    mutating func writeName(_ name: DNSName) {
        for start in name.labels.indices {
            let suffix = DNSName(labels: Array(name.labels[start...]))
            let key = suffix.key
            if let offset = offsets[key] {
                writeUInt16(0xC000 | UInt16(offset))
                return
            }
            // Pointers have 14 bits of offset.
            if bytes.count < 0x4000 { offsets[key] = bytes.count }
            bytes.append(UInt8(name.labels[start].count))
            bytes.append(contentsOf: name.labels[start])
        }
        bytes.append(0)
    }

    mutating func writeRecord(_ record: DNSResourceRecord) {
        writeName(record.name)
        writeUInt16(record.type.rawValue)
        writeUInt16(record.recordClass)
        writeUInt32(record.ttl)
        let lengthAt = bytes.count
        writeUInt16(0)
        switch record.data {
        case .address(let address), .raw(let address):
            bytes.append(contentsOf: address)
        case .name(let name):
            writeName(name)
        case .service(let priority, let weight, let port, let target):
            writeUInt16(priority)
            writeUInt16(weight)
            writeUInt16(port)
            // RFC 2782: the target is not compressed (some clients do not expect it).
            writeUncompressedName(target)
        case .authority(let primary, let mailbox, let serial, let refresh, let retry, let expire, let minimum):
            writeName(primary)
            writeName(mailbox)
            for value in [serial, refresh, retry, expire, minimum] { writeUInt32(value) }
        case .text(let strings):
            for string in strings {
                bytes.append(UInt8(min(string.count, 255)))
                bytes.append(contentsOf: string.prefix(255))
            }
        }
        let length = bytes.count - lengthAt - 2
        bytes[lengthAt] = UInt8(length >> 8)
        bytes[lengthAt + 1] = UInt8(length & 0xFF)
    }

    mutating func writeUncompressedName(_ name: DNSName) {
        for label in name.labels {
            bytes.append(UInt8(label.count))
            bytes.append(contentsOf: label)
        }
        bytes.append(0)
    }
}
