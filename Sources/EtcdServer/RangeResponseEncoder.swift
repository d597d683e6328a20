import EtcdAPI
import RevisionLog

/// Encodes a Range answer straight from the core's key-values into protobuf wire format, byte for byte what
/// SwiftProtobuf writes for the equivalent `Etcdserverpb_RangeResponse` (fields in number order, proto3
/// defaults omitted; a test compares the two). Lists are where a server spends its CPU: building a message per
/// key, copying every key and value into `Data`, then walking the messages twice to size and write them costs
/// more than reading the keys from SQLite. This writes each byte once into a buffer sized up front.
///
/// RangeResponse: 1 header (ResponseHeader: 1 cluster_id, 2 member_id, 3 revision, 4 raft_term), 2 kvs
/// (mvccpb.KeyValue: 1 key, 2 create_revision, 3 mod_revision, 4 version, 5 value, 6 lease), 3 more, 4 count.
enum RangeResponseEncoder {
    static func encode(_ result: RangeResult, header: Etcdserverpb_ResponseHeader) -> [UInt8] {
        let headerSize = headerBodySize(header)
        // The header is always present (set), so it is written even when all its fields are zero.
        var total = 1 + varintSize(UInt64(headerSize)) + headerSize
        for keyValue in result.keyValues {
            let size = keyValueBodySize(keyValue)
            total += 1 + varintSize(UInt64(size)) + size
        }
        if result.more { total += 2 }
        if result.count != 0 { total += 1 + varintSize(UInt64(bitPattern: result.count)) }

        var out = [UInt8]()
        out.reserveCapacity(total)
        out.append(0x0a)
        appendVarint(UInt64(headerSize), to: &out)
        appendUInt(1, header.clusterID, to: &out)
        appendUInt(2, header.memberID, to: &out)
        appendUInt(3, UInt64(bitPattern: header.revision), to: &out)
        appendUInt(4, header.raftTerm, to: &out)
        for keyValue in result.keyValues {
            out.append(0x12)
            appendVarint(UInt64(keyValueBodySize(keyValue)), to: &out)
            appendBytes(1, keyValue.key, to: &out)
            appendUInt(2, UInt64(bitPattern: keyValue.createRevision), to: &out)
            appendUInt(3, UInt64(bitPattern: keyValue.modRevision), to: &out)
            appendUInt(4, UInt64(bitPattern: keyValue.version), to: &out)
            appendBytes(5, keyValue.value, to: &out)
            appendUInt(6, UInt64(bitPattern: keyValue.lease), to: &out)
        }
        if result.more { out.append(contentsOf: [0x18, 0x01]) }
        appendUInt(4, UInt64(bitPattern: result.count), to: &out)
        return out
    }

    private static func headerBodySize(_ header: Etcdserverpb_ResponseHeader) -> Int {
        uintFieldSize(header.clusterID) + uintFieldSize(header.memberID)
            + uintFieldSize(UInt64(bitPattern: header.revision)) + uintFieldSize(header.raftTerm)
    }

    private static func keyValueBodySize(_ keyValue: KeyValue) -> Int {
        bytesFieldSize(keyValue.key.count) + uintFieldSize(UInt64(bitPattern: keyValue.createRevision))
            + uintFieldSize(UInt64(bitPattern: keyValue.modRevision))
            + uintFieldSize(UInt64(bitPattern: keyValue.version)) + bytesFieldSize(keyValue.value.count)
            + uintFieldSize(UInt64(bitPattern: keyValue.lease))
    }

    /// A varint field (tag byte + value), or nothing for 0. Field numbers here are all below 16: one tag byte.
    private static func uintFieldSize(_ value: UInt64) -> Int { value == 0 ? 0 : 1 + varintSize(value) }
    private static func bytesFieldSize(_ count: Int) -> Int { count == 0 ? 0 : 1 + varintSize(UInt64(count)) + count }

    static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    private static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    private static func appendUInt(_ field: UInt8, _ value: UInt64, to out: inout [UInt8]) {
        guard value != 0 else { return }
        out.append(field << 3)
        appendVarint(value, to: &out)
    }

    private static func appendBytes(_ field: UInt8, _ bytes: [UInt8], to out: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        out.append(field << 3 | 2)
        appendVarint(UInt64(bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }
}
