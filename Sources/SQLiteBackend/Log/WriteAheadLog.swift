import Foundation
import Glibc
import Logging
import RevisionLog
import Synchronization

/// Kelson's write-ahead log in front of SQLite: the durability point of every write on the SQLite backend.
///
/// Each committed group is appended as one record; a later `sync` (one fdatasync, on the store's syncer thread,
/// while the committer already appends the next groups) makes every record appended before it durable, and only then
/// is the group acknowledged or published. SQLite is brought up to date in the same transaction-per-batch, without
/// fsyncs of its own (`SQLiteBackend`); segments are deleted once SQLite's copy of their records is durable.
///
/// ## On-disk format
/// The log is the directory `<database>-log/` (`kelson.db-log/`) beside the database. It holds segment files named
/// `<first sequence, 16 lower-case hex digits>.seg`, and at times `spare-<n>.tmp`, the next segment being preallocated.
///
/// A segment starts with a 16-byte header: the magic `KLSNLOG1` and the sequence number of its first record (u64).
/// Records follow back to back, each 8-byte aligned:
///
/// | bytes | field |
/// |---|---|
/// | 4 | payload length n (u32, little-endian; never 0) |
/// | 4 | CRC-32C of the sequence number's 8 bytes followed by the payload |
/// | 8 | sequence number (u64): 1, 2, 3, … across segments, one per record, no gaps |
/// | n | payload: the record's ops (`LogOperation`) |
/// | 0–7 | zero padding to the next multiple of 8 |
///
/// Segments are preallocated with zeros (`segmentSize`, 64 MiB), so the log ends at the first header that is all
/// zeros. A record longer than what is left of a segment starts a new one; one longer than a segment grows it.
///
/// SQLite stores the sequence number of the last record it holds (`kelson_state.log_sequence`); start-up replays the
/// records after it (`LogReader`), folds them into the database and starts a fresh log. A clean stop folds everything
/// into the database and removes the directory, so a stopped store is the database file alone.
final class WriteAheadLog: @unchecked Sendable {  // appender state: the committer thread (under the backend's writer lock)
    static let magic: [UInt8] = Array("KLSNLOG1".utf8)
    static let segmentHeaderSize = 16
    static let recordHeaderSize = 16
    /// The first segment, and one made in a hurry when no spare is ready: zero-filled like every segment (an
    /// fdatasync after writing into blocks only reserved with fallocate costs a metadata commit: 5× slower here).
    static let smallSegmentSize: Int64 = 4 << 20

    let directory: String
    let segmentSize: Int64
    private let io: any LogFileIO
    private let logger: Logger

    // Owned by the appending thread.
    private var current: SegmentFile
    private var currentSize: Int64
    private var offset: Int64
    private var nextSequence: UInt64
    private var buffer: [UInt8] = []

    /// Files written since the last sync began (the current one, and any just rotated away): what `sync` must cover.
    private let pending = Mutex<[SegmentFile]>([])
    /// Segments on disk, oldest first, and the prepared spare.
    private let files: Mutex<(segments: [(first: UInt64, path: String)], spare: String?)>
    private let maintenance = WorkerThread()
    private var wakeMaintenance = false  // guarded by maintenance.condition
    private var spareCount = 0  // the maintenance thread's
    /// Answers the last sequence SQLite holds durably (the backend syncs its WAL first); trimming deletes segments
    /// wholly at or below it.
    private let durablyApplied: @Sendable () throws -> UInt64

    /// Opens a new log whose first record will be `nextSequence`; the directory must hold no segments (start-up
    /// replays and removes them first).
    init(
        directory: String, nextSequence: UInt64, segmentSize: Int64, io: any LogFileIO, logger: Logger,
        durablyApplied: @escaping @Sendable () throws -> UInt64
    ) throws {
        self.directory = directory
        self.segmentSize = segmentSize
        self.io = io
        self.logger = logger
        self.nextSequence = nextSequence
        self.durablyApplied = durablyApplied
        try Self.makeDirectory(directory)
        let path = Self.segmentPath(directory, first: nextSequence)
        // The first segment is a small one: zero-filling a whole segment would cost start-up a few hundred ms, and
        // the maintenance thread prepares a full-size spare at once.
        current = try SegmentFile.create(
            path: path, first: nextSequence, size: min(segmentSize, Self.smallSegmentSize), io: io)
        try Self.synchronizeDirectory(directory)
        currentSize = min(segmentSize, Self.smallSegmentSize)
        offset = Int64(Self.segmentHeaderSize)
        files = Mutex(([(nextSequence, path)], nil))
        maintenance.start(name: "kelson-log") { [self] in runMaintenance() }
    }

    static func segmentPath(_ directory: String, first: UInt64) -> String {
        let hex = String(first, radix: 16)
        return directory + "/" + String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".seg"
    }

    /// Appends one record holding `operations`; it is durable after the next `sync`. Returns its sequence number.
    func append(_ operations: [LogOperation]) throws -> UInt64 {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: repeatElement(0, count: Self.recordHeaderSize))
        for operation in operations { operation.encode(into: &buffer) }
        let payloadLength = buffer.count - Self.recordHeaderSize
        let sequence = nextSequence
        buffer.withUnsafeMutableBytes { record in
            record.storeBytes(of: UInt32(payloadLength).littleEndian, toByteOffset: 0, as: UInt32.self)
            record.storeBytes(of: sequence.littleEndian, toByteOffset: 8, as: UInt64.self)
            var crc = CRC32C()
            crc.update(UnsafeRawBufferPointer(rebasing: record[8...]))
            record.storeBytes(of: crc.value.littleEndian, toByteOffset: 4, as: UInt32.self)
        }
        while buffer.count % 8 != 0 { buffer.append(0) }
        if offset + Int64(buffer.count) > currentSize && offset > Int64(Self.segmentHeaderSize) {
            try rotate(first: sequence)
        }
        try buffer.withUnsafeBytes { bytes in
            try io.write(current.descriptor, path: current.path, bytes: bytes, at: offset)
        }
        offset += Int64(buffer.count)
        nextSequence += 1
        let file = current
        pending.withLock { dirty in
            if dirty.last !== file { dirty.append(file) }
        }
        return sequence
    }

    /// Makes every record appended before this call durable: one fdatasync per file written since the last sync.
    /// Runs on the syncer thread beside `append`.
    func sync() throws(StoreError) {
        let files = pending.withLock { dirty in
            defer { dirty.removeAll(keepingCapacity: true) }
            return dirty
        }
        for file in files { try io.sync(file.descriptor, path: file.path) }
    }

    /// Moves to a new segment starting at `first`: the prepared spare if there is one (renamed, then the directory
    /// fsynced so the name survives a power cut), else a freshly reserved file.
    private func rotate(first: UInt64) throws {
        let path = Self.segmentPath(directory, first: first)
        let spare = files.withLock { files in
            defer { files.spare = nil }
            return files.spare
        }
        if let spare, rename(spare, path) == 0 {
            io.didMove(spare, to: path)
            current = try SegmentFile.open(path: path, first: first, io: io)
            currentSize = segmentSize
        } else {
            currentSize = min(segmentSize, Self.smallSegmentSize)
            current = try SegmentFile.create(path: path, first: first, size: currentSize, io: io)
        }
        try Self.synchronizeDirectory(directory)
        offset = Int64(Self.segmentHeaderSize)
        files.withLock { $0.segments.append((first, path)) }
        maintenance.condition.lock()
        wakeMaintenance = true
        maintenance.condition.signal()
        maintenance.condition.unlock()
    }

    /// The log's own thread: keeps a zero-filled spare segment ready (writes into blocks already written need no
    /// metadata commit at fdatasync) and deletes segments SQLite no longer needs.
    private func runMaintenance() {
        while true {
            maintenance.condition.lock()
            while !wakeMaintenance && !maintenance.stopping {
                if files.withLock({ $0.spare == nil }) { break }
                maintenance.condition.wait()
            }
            let stopping = maintenance.stopping
            wakeMaintenance = false
            maintenance.condition.unlock()
            if stopping { return }
            prepareSpare()
            trim()
        }
    }

    private func prepareSpare() {
        guard files.withLock({ $0.spare == nil }) else { return }
        // A name of its own each time: the appender may be renaming the previous spare right now.
        spareCount += 1
        let path = directory + "/spare-\(spareCount).tmp"
        do {
            _ = try SegmentFile.create(path: path, first: 0, size: segmentSize, io: io)
            files.withLock { $0.spare = path }
        } catch {
            logger.warning("could not prepare the next log segment", metadata: ["error": "\(error)"])
            Thread.sleep(forTimeInterval: 1)
        }
    }

    /// Deletes every segment whose records SQLite holds durably (all but the current one, at most).
    private func trim() {
        let closed = files.withLock { Array($0.segments.dropLast()) }
        guard !closed.isEmpty else { return }
        do {
            let applied = try durablyApplied()
            let all = files.withLock { $0.segments }
            var removed = 0
            for index in 0..<(all.count - 1) where all[index + 1].first - 1 <= applied {
                unlink(all[index].path)
                io.didMove(all[index].path, to: nil)
                removed += 1
            }
            guard removed > 0 else { return }
            files.withLock { $0.segments.removeFirst(removed) }
        } catch {
            logger.warning("could not trim the log", metadata: ["error": "\(error)"])
        }
    }

    /// Asks the maintenance thread to trim now (after SQLite committed a batch).
    func requestTrim() {
        maintenance.condition.lock()
        wakeMaintenance = true
        maintenance.condition.signal()
        maintenance.condition.unlock()
    }

    /// True once the log has moved past a segment that trimming may delete.
    var hasClosedSegments: Bool { files.withLock { $0.segments.count > 1 } }

    /// Stops the maintenance thread; with `removeFiles`, deletes the whole log (the database holds everything).
    func close(removeFiles: Bool) {
        maintenance.stop()
        guard removeFiles else { return }
        let paths = files.withLock { files in files.segments.map(\.path) + (files.spare.map { [$0] } ?? []) }
        for path in paths {
            unlink(path)
            io.didMove(path, to: nil)
        }
        rmdir(directory)
    }

    static func makeDirectory(_ directory: String) throws(StoreError) {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw StoreError(.backendFailure, "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// fsync of a directory: an fsync of a file makes its contents durable, not its name.
    static func synchronizeDirectory(_ directory: String) throws(StoreError) {
        let descriptor = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw StoreError(
                .backendFailure, "cannot open \(directory) to fsync it: \(String(cString: strerror(errno)))")
        }
        defer { Glibc.close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw StoreError(.backendFailure, "fsync of \(directory) failed: \(String(cString: strerror(errno)))")
        }
    }
}

/// An open segment; the descriptor closes when the last reference (the log's current file, or `sync`'s list of files
/// still to sync) goes.
final class SegmentFile: Sendable {
    let descriptor: Int32
    let path: String

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { Glibc.close(descriptor) }

    /// Creates a segment of `size` bytes, zero-filled and synced; with `first` > 0 its header is written too (and
    /// synced with the first record after it).
    static func create(path: String, first: UInt64, size: Int64, io: any LogFileIO) throws -> SegmentFile {
        let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw StoreError(.backendFailure, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let file = SegmentFile(descriptor: descriptor, path: path)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var written: Int64 = 0
        while written < size {
            let chunk = Int(min(Int64(zeros.count), size - written))
            try zeros.withUnsafeBytes { bytes in
                try io.write(
                    descriptor, path: path, bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<chunk]), at: written)
            }
            written += Int64(chunk)
        }
        try io.sync(descriptor, path: path)
        if first > 0 { try file.writeHeader(first: first, io: io) }
        return file
    }

    /// Opens the renamed spare as the segment starting at `first` and writes its header.
    static func open(path: String, first: UInt64, io: any LogFileIO) throws -> SegmentFile {
        let descriptor = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw StoreError(.backendFailure, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        let file = SegmentFile(descriptor: descriptor, path: path)
        try file.writeHeader(first: first, io: io)
        return file
    }

    private func writeHeader(first: UInt64, io: any LogFileIO) throws {
        var header = WriteAheadLog.magic
        header.appendInteger(first)
        try header.withUnsafeBytes { bytes in try io.write(descriptor, path: path, bytes: bytes, at: 0) }
    }
}
