import Foundation
import Logging
import RevisionLog

/// Reads the log back at start-up (format: `WriteAheadLog`). Records at or below the sequence SQLite already holds
/// are skipped; the rest must follow it without a gap. A record that fails its checksum at the very end of the last
/// segment is a write torn by a crash: it was never synced, so never acknowledged, and the log is cut there (with a
/// log line). A bad record anywhere else (a segment before the last one holding records, or followed by a good record)
/// is corruption of data that was acknowledged: start-up stops with an error naming the file and offset rather than
/// serve a hole.
struct LogReader {
    let directory: String
    let logger: Logger

    /// A record to replay.
    struct Record {
        var sequence: UInt64
        var operations: [LogOperation]
    }

    /// Segment files in order of their first sequence.
    func segments() -> [(first: UInt64, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name -> (UInt64, String)? in
            guard name.hasSuffix(".seg"), let first = UInt64(name.dropLast(4), radix: 16) else { return nil }
            return (first, directory + "/" + name)
        }.sorted { $0.0 < $1.0 }
    }

    /// Calls `body` with every record after `applied`, in order.
    func replay(after applied: UInt64, _ body: (Record) throws -> Void) throws {
        let segments = segments()
        // The tail is the last segment holding a record and any (empty) ones after it: a power cut right after the
        // log moved on can leave the previous segment's last records torn and the new one without its header.
        let lastWithRecords = segments.lastIndex { Self.holdsRecords($0.path) } ?? 0
        var expected = applied + 1
        for (index, segment) in segments.enumerated() {
            let isLast = index >= lastWithRecords
            // Wholly at or below what SQLite holds: a segment whose deletion a power cut took back.
            if index < segments.count - 1, segments[index + 1].first <= expected { continue }
            guard let data = FileManager.default.contents(atPath: segment.path) else {
                throw StoreError(.corrupt, "cannot read the log segment \(segment.path)")
            }
            let bytes = [UInt8](data)
            guard bytes.count >= WriteAheadLog.segmentHeaderSize,
                Array(bytes[0..<8]) == WriteAheadLog.magic
            else {
                // A segment whose header never reached the disk holds nothing durable, if it is the last one.
                if isLast && bytes.prefix(WriteAheadLog.segmentHeaderSize).allSatisfy({ $0 == 0 }) { break }
                throw StoreError(.corrupt, "\(segment.path) is not a Kelson log segment (bad header at offset 0)")
            }
            var offset = WriteAheadLog.segmentHeaderSize
            while true {
                switch Self.record(in: bytes, at: offset) {
                case .end: break
                case .valid(let sequence, let operations, let next):
                    if sequence >= expected {
                        guard sequence == expected else {
                            throw StoreError(
                                .corrupt,
                                "the log skips from record \(expected - 1) to \(sequence) at \(segment.path) offset \(offset)"
                            )
                        }
                        try body(Record(sequence: sequence, operations: operations))
                        expected += 1
                    }
                    offset = next
                    continue
                case .invalid(let reason, let claimedNext):
                    // Torn at the tail: the last segment, and no good record where the next one would start.
                    let followed =
                        claimedNext.map { next -> Bool in
                            if case .valid = Self.record(in: bytes, at: next) { return true }
                            return false
                        } ?? false
                    guard isLast && !followed else {
                        throw StoreError(
                            .corrupt,
                            "the log is corrupt at \(segment.path) offset \(offset) (\(reason)); acknowledged writes "
                                + "follow it, so Kelson will not start. Restore the data directory from a backup.")
                    }
                    logger.warning(
                        "cut off a torn record at the end of the log (a write that was never acknowledged)",
                        metadata: ["file": "\(segment.path)", "offset": "\(offset)", "reason": "\(reason)"])
                }
                break
            }
        }
    }

    /// True when the segment's header is there and its first record's header is not all zeros.
    static func holdsRecords(_ path: String) -> Bool {
        guard let file = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? file.close() }
        let size = WriteAheadLog.segmentHeaderSize + WriteAheadLog.recordHeaderSize
        guard let start = try? file.read(upToCount: size), start.count == size else { return false }
        let bytes = [UInt8](start)
        return Array(bytes[0..<8]) == WriteAheadLog.magic
            && !bytes[WriteAheadLog.segmentHeaderSize...].allSatisfy { $0 == 0 }
    }

    enum Parsed {
        case end
        case valid(sequence: UInt64, operations: [LogOperation], next: Int)
        /// `next`: where the following record would start if the length field is right.
        case invalid(reason: String, next: Int?)
    }

    static func record(in bytes: [UInt8], at offset: Int) -> Parsed {
        guard offset + WriteAheadLog.recordHeaderSize <= bytes.count else { return .end }
        var header = ByteReader(bytes: bytes[offset..<(offset + WriteAheadLog.recordHeaderSize)])
        let length = Int(header.fixed(UInt32.self)!)
        let checksum = header.fixed(UInt32.self)!
        let sequence = header.fixed(UInt64.self)!
        if length == 0 && checksum == 0 && sequence == 0 { return .end }
        let start = offset + WriteAheadLog.recordHeaderSize
        let next = (start + length + 7) & ~7
        guard length > 0, start + length <= bytes.count else {
            return .invalid(reason: "record length \(length) runs past the end of the file", next: nil)
        }
        var crc = CRC32C()
        bytes[(offset + 8)..<(start + length)].withUnsafeBytes { crc.update($0) }
        guard crc.value == checksum else { return .invalid(reason: "checksum mismatch", next: next) }
        guard let operations = LogOperation.decodeAll(bytes[start..<(start + length)]) else {
            return .invalid(reason: "undecodable record", next: next)
        }
        return .valid(sequence: sequence, operations: operations, next: next)
    }
}
