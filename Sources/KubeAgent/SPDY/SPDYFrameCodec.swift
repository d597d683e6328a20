/// Frames to bytes, with the sending direction's header compressor. One per connection, used by one writer at a
/// time (header blocks must go out in the order they were compressed).
final class SPDYFrameEncoder {
    private let deflater = SPDYHeaderDeflater()

    func encode(_ frame: SPDYFrame) -> [UInt8] {
        switch frame {
        case .data(let streamID, let fin, let payload):
            var bytes: [UInt8] = []
            bytes.appendBigEndian(streamID & 0x7fff_ffff)
            bytes.appendBigEndian(UInt32(fin ? SPDYFrame.flagFin : 0) << 24 | UInt32(payload.count))
            return bytes + payload
        case .synStream(let streamID, let associatedTo, let priority, let flags, let headers):
            var body: [UInt8] = []
            body.appendBigEndian(streamID)
            body.appendBigEndian(associatedTo)
            body += [priority << 5, 0]
            return control(.synStream, flags: flags, body + deflater.compress(headers.encoded()))
        case .synReply(let streamID, let fin, let headers):
            var body: [UInt8] = []
            body.appendBigEndian(streamID)
            return control(.synReply, flags: fin ? SPDYFrame.flagFin : 0, body + deflater.compress(headers.encoded()))
        case .headers(let streamID, let fin, let headers):
            var body: [UInt8] = []
            body.appendBigEndian(streamID)
            return control(.headers, flags: fin ? SPDYFrame.flagFin : 0, body + deflater.compress(headers.encoded()))
        case .rstStream(let streamID, let status):
            return control(.rstStream, flags: 0, words(streamID, status))
        case .settings(let clearPersisted, let entries):
            var body: [UInt8] = []
            body.appendBigEndian(UInt32(entries.count))
            for entry in entries {
                body.appendBigEndian(UInt32(entry.flags) << 24 | entry.id & 0xff_ffff)
                body.appendBigEndian(entry.value)
            }
            return control(.settings, flags: clearPersisted ? 1 : 0, body)
        case .ping(let id):
            return control(.ping, flags: 0, words(id))
        case .goAway(let lastGoodStreamID, let status):
            return control(.goAway, flags: 0, words(lastGoodStreamID, status))
        case .windowUpdate(let streamID, let delta):
            return control(.windowUpdate, flags: 0, words(streamID, delta))
        case .unknown:
            return []
        }
    }

    private func words(_ values: UInt32...) -> [UInt8] {
        var bytes: [UInt8] = []
        for value in values { bytes.appendBigEndian(value) }
        return bytes
    }

    private func control(_ type: SPDYFrame.ControlType, flags: UInt8, _ body: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBigEndian(0x8000_0000 | UInt32(SPDYFrame.version) << 16 | UInt32(type.rawValue))
        bytes.appendBigEndian(UInt32(flags) << 24 | UInt32(body.count))
        return bytes + body
    }
}

/// Bytes to frames, with the receiving direction's header decompressor. Bytes come in chunks of any size (a TCP
/// read, a WebSocket message); at most one frame's worth is kept beyond what has been parsed.
final class SPDYFrameDecoder {
    private let inflater = SPDYHeaderInflater()
    private var buffer: [UInt8] = []
    private var start = 0

    struct ProtocolError: Error, CustomStringConvertible {
        let description: String
    }

    func append(_ bytes: [UInt8]) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer += bytes
    }

    /// The next complete frame, or nil until more bytes arrive. Throws on what no valid peer sends (the
    /// connection is then closed).
    func next() throws(ProtocolError) -> SPDYFrame? {
        guard buffer.count - start >= 8 else { return nil }
        var header = ByteReader(Array(buffer[start..<start + 8]))
        let first = header.uint32()!
        let second = header.uint32()!
        let flags = UInt8(second >> 24)
        let length = Int(second & 0xff_ffff)
        guard length <= SPDYFrame.payloadBytesMaximum else {
            throw ProtocolError(description: "SPDY frame of \(length) bytes is larger than allowed")
        }
        guard buffer.count - start >= 8 + length else {
            compactIfWorthIt()
            return nil
        }
        let body = Array(buffer[start + 8..<start + 8 + length])
        start += 8 + length
        if first & 0x8000_0000 == 0 {
            return .data(streamID: first & 0x7fff_ffff, fin: flags & SPDYFrame.flagFin != 0, payload: body)
        }
        let version = UInt16(first >> 16 & 0x7fff)
        guard version == SPDYFrame.version else {
            throw ProtocolError(description: "SPDY version \(version) is not supported")
        }
        guard let type = SPDYFrame.ControlType(rawValue: UInt16(first & 0xffff)) else {
            return .unknown(type: UInt16(first & 0xffff))
        }
        return try control(type, flags: flags, body)
    }

    private func compactIfWorthIt() {
        guard start > 64 * 1024 else { return }
        buffer.removeFirst(start)
        start = 0
    }

    private func control(_ type: SPDYFrame.ControlType, flags: UInt8, _ body: [UInt8]) throws(ProtocolError)
        -> SPDYFrame
    {
        var reader = ByteReader(body)
        let fin = flags & SPDYFrame.flagFin != 0
        func streamID() throws(ProtocolError) -> UInt32 {
            guard let value = reader.uint32() else { throw ProtocolError(description: "short \(type) frame") }
            return value & 0x7fff_ffff
        }
        func word() throws(ProtocolError) -> UInt32 {
            guard let value = reader.uint32() else { throw ProtocolError(description: "short \(type) frame") }
            return value
        }
        switch type {
        case .synStream:
            let id = try streamID()
            let associated = try streamID()
            guard let priority = reader.uint8(), reader.uint8() != nil else {
                throw ProtocolError(description: "short SYN_STREAM frame")
            }
            return .synStream(
                streamID: id, associatedTo: associated, priority: priority >> 5, flags: flags,
                headers: try headers(reader.rest()))
        case .synReply:
            let id = try streamID()
            return .synReply(streamID: id, fin: fin, headers: try headers(reader.rest()))
        case .headers:
            let id = try streamID()
            return .headers(streamID: id, fin: fin, headers: try headers(reader.rest()))
        case .rstStream:
            return .rstStream(streamID: try streamID(), status: try word())
        case .settings:
            let count = try word()
            guard count <= 64 else { throw ProtocolError(description: "SETTINGS with \(count) entries") }
            var entries: [SPDYSetting] = []
            for _ in 0..<count {
                let flagsAndID = try word()
                entries.append(
                    SPDYSetting(flags: UInt8(flagsAndID >> 24), id: flagsAndID & 0xff_ffff, value: try word()))
            }
            return .settings(clearPersisted: flags & 1 != 0, entries: entries)
        case .ping:
            return .ping(id: try word())
        case .goAway:
            return .goAway(lastGoodStreamID: try streamID(), status: try word())
        case .windowUpdate:
            return .windowUpdate(streamID: try streamID(), delta: try word() & 0x7fff_ffff)
        }
    }

    private func headers(_ compressed: [UInt8]) throws(ProtocolError) -> SPDYHeaders {
        do {
            return try SPDYHeaders.decode(try inflater.decompress(compressed))
        } catch {
            throw ProtocolError(description: error.description)
        }
    }
}
