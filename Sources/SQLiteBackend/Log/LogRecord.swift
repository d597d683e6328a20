import RevisionLog

/// One change to the store as the log carries it: exactly the `BackendWriter` calls a group made (plus a compaction
/// batch), so replaying a record into SQLite repeats the group's transaction. Encoded little-endian, each op a tag
/// byte followed by its fields (see `WriteAheadLog` for the record framing around a list of ops):
///
/// | tag | op | fields |
/// |---|---|---|
/// | 1 | put | revision, sub_revision, create_revision, version, lease (i64 each), key, value (u32 length + bytes) |
/// | 2 | delete (tombstone) | revision, sub_revision (i64), key |
/// | 3 | set revision | i64 |
/// | 4 | set compact revision | i64 |
/// | 5 | set compacted through | i64 |
/// | 6 | put lease | id, ttl (i64) |
/// | 7 | delete lease | id (i64) |
/// | 8 | set metadata | name, then 1 + value or 0 (removed) |
/// | 9 | compaction batch | revision, cursor, upper (i64): the rows `compactBatch` removed, removed again on replay |
enum LogOperation: Equatable, Sendable {
    case append(Change)
    case setRevision(Int64)
    case setCompactRevision(Int64)
    case setCompactedThrough(Int64)
    case putLease(LeaseRecord)
    case deleteLease(Int64)
    case setMetadata(name: String, value: [UInt8]?)
    case compactBatch(revision: Int64, cursor: Int64, upper: Int64)
}

extension LogOperation {
    func encode(into buffer: inout [UInt8]) {
        switch self {
        case .append(let change):
            let keyValue = change.keyValue
            if change.kind == .put {
                buffer.append(1)
                buffer.appendInteger(change.revision)
                buffer.appendInteger(change.subRevision)
                buffer.appendInteger(keyValue.createRevision)
                buffer.appendInteger(keyValue.version)
                buffer.appendInteger(keyValue.lease)
                buffer.appendField(keyValue.key)
                buffer.appendField(keyValue.value)
            } else {
                buffer.append(2)
                buffer.appendInteger(change.revision)
                buffer.appendInteger(change.subRevision)
                buffer.appendField(keyValue.key)
            }
        case .setRevision(let revision):
            buffer.append(3)
            buffer.appendInteger(revision)
        case .setCompactRevision(let revision):
            buffer.append(4)
            buffer.appendInteger(revision)
        case .setCompactedThrough(let revision):
            buffer.append(5)
            buffer.appendInteger(revision)
        case .putLease(let lease):
            buffer.append(6)
            buffer.appendInteger(lease.id)
            buffer.appendInteger(lease.ttl)
        case .deleteLease(let id):
            buffer.append(7)
            buffer.appendInteger(id)
        case .setMetadata(let name, let value):
            buffer.append(8)
            buffer.appendField(Array(name.utf8))
            if let value {
                buffer.append(1)
                buffer.appendField(value)
            } else {
                buffer.append(0)
            }
        case .compactBatch(let revision, let cursor, let upper):
            buffer.append(9)
            buffer.appendInteger(revision)
            buffer.appendInteger(cursor)
            buffer.appendInteger(upper)
        }
    }

    /// Decodes every op of a record's payload; nil when the payload is malformed (a checksum that matched over bytes
    /// no Kelson wrote).
    static func decodeAll(_ payload: ArraySlice<UInt8>) -> [LogOperation]? {
        var reader = ByteReader(bytes: payload)
        var operations: [LogOperation] = []
        while !reader.isAtEnd {
            guard let operation = decode(&reader) else { return nil }
            operations.append(operation)
        }
        return operations
    }

    private static func decode(_ reader: inout ByteReader) -> LogOperation? {
        guard let tag = reader.byte() else { return nil }
        switch tag {
        case 1:
            guard let revision = reader.integer(), let subRevision = reader.integer(),
                let createRevision = reader.integer(), let version = reader.integer(), let lease = reader.integer(),
                let key = reader.field(), let value = reader.field()
            else { return nil }
            let keyValue = KeyValue(
                key: key, createRevision: createRevision, modRevision: revision, version: version, value: value,
                lease: lease)
            return .append(Change(kind: .put, keyValue: keyValue, subRevision: subRevision))
        case 2:
            guard let revision = reader.integer(), let subRevision = reader.integer(), let key = reader.field() else {
                return nil
            }
            let keyValue = KeyValue(key: key, createRevision: 0, modRevision: revision, version: 0, value: [], lease: 0)
            return .append(Change(kind: .delete, keyValue: keyValue, subRevision: subRevision))
        case 3: return reader.integer().map { .setRevision($0) }
        case 4: return reader.integer().map { .setCompactRevision($0) }
        case 5: return reader.integer().map { .setCompactedThrough($0) }
        case 6:
            guard let id = reader.integer(), let ttl = reader.integer() else { return nil }
            return .putLease(LeaseRecord(id: id, ttl: ttl))
        case 7: return reader.integer().map { .deleteLease($0) }
        case 8:
            guard let name = reader.field(), let present = reader.byte() else { return nil }
            let text = String(decoding: name, as: UTF8.self)
            if present == 0 { return .setMetadata(name: text, value: nil) }
            guard present == 1, let value = reader.field() else { return nil }
            return .setMetadata(name: text, value: value)
        case 9:
            guard let revision = reader.integer(), let cursor = reader.integer(), let upper = reader.integer() else {
                return nil
            }
            return .compactBatch(revision: revision, cursor: cursor, upper: upper)
        default: return nil
        }
    }

    /// Repeats the op on a writer (replay).
    func apply(to writer: SQLiteView) throws {
        switch self {
        case .append(let change): try writer.append(change)
        case .setRevision(let revision): try writer.setRevision(revision)
        case .setCompactRevision(let revision): try writer.setCompactRevision(revision)
        case .setCompactedThrough(let revision): try writer.setCompactedThrough(revision)
        case .putLease(let lease): try writer.putLease(lease)
        case .deleteLease(let id): try writer.deleteLease(id)
        case .setMetadata(let name, let value): try writer.setMetadata(name, value)
        case .compactBatch(let revision, let cursor, let upper):
            try writer.removeCompacted(revision: revision, cursor: cursor, upper: upper)
        }
    }
}

extension [UInt8] {
    mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func appendField(_ bytes: [UInt8]) {
        appendInteger(UInt32(bytes.count))
        append(contentsOf: bytes)
    }
}

/// Reads little-endian fields from a byte slice; every read answers nil past the end instead of trapping.
struct ByteReader {
    var bytes: ArraySlice<UInt8>

    var isAtEnd: Bool { bytes.isEmpty }

    mutating func byte() -> UInt8? { bytes.popFirst() }

    mutating func fixed<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard bytes.count >= size else { return nil }
        var value: T = 0
        for (shift, byte) in bytes.prefix(size).enumerated() { value |= T(truncatingIfNeeded: byte) << (shift * 8) }
        bytes.removeFirst(size)
        return value
    }

    mutating func integer() -> Int64? { fixed(Int64.self) }

    mutating func field() -> [UInt8]? {
        guard let length = fixed(UInt32.self), bytes.count >= Int(length) else { return nil }
        defer { bytes.removeFirst(Int(length)) }
        return Array(bytes.prefix(Int(length)))
    }
}
