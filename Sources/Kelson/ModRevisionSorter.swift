import Foundation
import RevisionLog

/// Puts live keys, read in key order, into (mod revision, key) order — the order `StoreImport` writes the
/// log in — with bounded memory: up to `memoryLimit` bytes are sorted in memory; past that, each full
/// buffer is sorted and written to a temporary file (a run), and the runs are merged on the way out.
final class ModRevisionSorter {
    private let memoryLimit: Int
    private let parentDirectory: String
    private var directory: String?
    private var buffer: [KeyValue] = []
    private var bufferBytes = 0
    private var runs: [String] = []

    init(memoryLimit: Int, temporaryDirectory: String) {
        self.memoryLimit = max(memoryLimit, 1)
        self.parentDirectory = temporaryDirectory
    }

    /// Runs written so far (for the summary and tests).
    var runCount: Int { runs.count }

    func add(_ keyValue: KeyValue) throws {
        buffer.append(keyValue)
        bufferBytes += Self.cost(keyValue)
        if bufferBytes >= memoryLimit { try spill() }
    }

    /// Everything added, in (mod revision, key) order. Call once, after the last `add`.
    func sorted() throws -> SortedKeyValues {
        if runs.isEmpty {
            buffer.sort(by: Self.precedes)
            defer { buffer = [] }
            return SortedKeyValues(memory: buffer)
        }
        try spill()
        return try SortedKeyValues(runs: runs.map { try RunReader(path: $0) })
    }

    /// Deletes the temporary files.
    func removeFiles() {
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
        directory = nil
        runs = []
    }

    deinit { removeFiles() }

    static func precedes(_ a: KeyValue, _ b: KeyValue) -> Bool {
        a.modRevision != b.modRevision ? a.modRevision < b.modRevision : a.key.lexicographicallyPrecedes(b.key)
    }

    /// Approximate memory of one buffered key-value.
    private static func cost(_ keyValue: KeyValue) -> Int { keyValue.key.count + keyValue.value.count + 96 }

    private func spill() throws {
        guard !buffer.isEmpty else { return }
        buffer.sort(by: Self.precedes)
        let directory = try runDirectory()
        let path = directory + "/run-\(runs.count)"
        let writer = try RunWriter(path: path)
        for keyValue in buffer { try writer.write(keyValue) }
        try writer.close()
        runs.append(path)
        buffer.removeAll(keepingCapacity: true)
        bufferBytes = 0
    }

    private func runDirectory() throws -> String {
        if let directory { return directory }
        let created = parentDirectory + "/kelson-migrate-\(UUID().uuidString.prefix(8))"
        do {
            try FileManager.default.createDirectory(
                atPath: created, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw KelsonError(
                "cannot create a temporary directory in \(parentDirectory): \(error.localizedDescription)")
        }
        directory = created
        return created
    }
}

/// The sorter's output: from memory, or a merge of sorted runs.
final class SortedKeyValues {
    private var memory: [KeyValue]
    private var index = 0
    private let runs: [RunReader]
    private var heads: [KeyValue?]

    init(memory: [KeyValue]) {
        self.memory = memory
        runs = []
        heads = []
    }

    init(runs: [RunReader]) throws {
        memory = []
        self.runs = runs
        heads = try runs.map { try $0.next() }
    }

    func next() throws -> KeyValue? {
        if runs.isEmpty {
            guard index < memory.count else { return nil }
            defer { index += 1 }
            return memory[index]
        }
        // A linear scan over the run heads: runs are few (the store's size over the sort memory).
        var best: Int?
        for (position, head) in heads.enumerated() {
            guard let head else { continue }
            if let current = best, let currentHead = heads[current], !ModRevisionSorter.precedes(head, currentHead) {
                continue
            }
            best = position
        }
        guard let best, let winner = heads[best] else { return nil }
        heads[best] = try runs[best].next()
        return winner
    }
}

/// Run file format: per key-value, four little-endian Int64 (mod revision, create revision, version,
/// lease), two UInt32 lengths (key, value), then the key and value bytes.
final class RunWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let handle = FileHandle(forWritingAtPath: path)
        else { throw KelsonError("cannot create temporary file \(path)") }
        self.handle = handle
    }

    func write(_ keyValue: KeyValue) throws {
        for number in [keyValue.modRevision, keyValue.createRevision, keyValue.version, keyValue.lease] {
            withUnsafeBytes(of: number.littleEndian) { buffer.append(contentsOf: $0) }
        }
        for length in [UInt32(keyValue.key.count), UInt32(keyValue.value.count)] {
            withUnsafeBytes(of: length.littleEndian) { buffer.append(contentsOf: $0) }
        }
        buffer.append(contentsOf: keyValue.key)
        buffer.append(contentsOf: keyValue.value)
        if buffer.count >= 1 << 20 { try flush() }
    }

    func close() throws {
        try flush()
        try handle.close()
    }

    private func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Reads a run file back, a block at a time.
final class RunReader {
    private let path: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    private static let headerBytes = 4 * 8 + 2 * 4

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw KelsonError("cannot open temporary file \(path)")
        }
        self.path = path
        self.handle = handle
    }

    deinit { try? handle.close() }

    func next() throws -> KeyValue? {
        guard try fill(Self.headerBytes) else { return nil }
        let modRevision = int64(at: 0)
        let createRevision = int64(at: 8)
        let version = int64(at: 16)
        let lease = int64(at: 24)
        let keyCount = Int(uint32(at: 32))
        let valueCount = Int(uint32(at: 36))
        guard try fill(Self.headerBytes + keyCount + valueCount) else {
            throw KelsonError("temporary file \(path) ends inside a record")
        }
        let start = position + Self.headerBytes
        let key = Array(buffer[start..<start + keyCount])
        let value = Array(buffer[start + keyCount..<start + keyCount + valueCount])
        position = start + keyCount + valueCount
        return KeyValue(
            key: key, createRevision: createRevision, modRevision: modRevision, version: version, value: value,
            lease: lease)
    }

    /// Makes `count` unread bytes available; false at a clean end of file.
    private func fill(_ count: Int) throws -> Bool {
        while buffer.count - position < count {
            if position > 0 {
                buffer.removeFirst(position)
                position = 0
            }
            let block = try handle.read(upToCount: max(count - buffer.count, 256 << 10)) ?? Data()
            if block.isEmpty {
                if buffer.count == position { return false }
                throw KelsonError("temporary file \(path) ends inside a record")
            }
            buffer.append(contentsOf: block)
        }
        return true
    }

    private func int64(at offset: Int) -> Int64 {
        var value: UInt64 = 0
        for index in (0..<8).reversed() { value = value << 8 | UInt64(buffer[position + offset + index]) }
        return Int64(bitPattern: value)
    }

    private func uint32(at offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for index in (0..<4).reversed() { value = value << 8 | UInt32(buffer[position + offset + index]) }
        return value
    }
}
