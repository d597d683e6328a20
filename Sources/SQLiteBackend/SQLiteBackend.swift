import CSQLite
import Foundation
import Glibc
import Logging
import RevisionLog
import Synchronization

/// Settings of the SQLite backend.
public struct SQLiteConfiguration: Sendable {
    /// The database file (the data directory holds `kelson.db`; see `docs/storage.md`).
    public var path: String
    /// Reader connections kept open; more concurrent readers wait for one to come back.
    public var maximumReaders = 8
    /// Every acknowledged write survives power loss: each group is appended to Kelson's write-ahead log
    /// (`WriteAheadLog`), and acknowledged once an fdatasync of the log covered it. Turning it off (no log,
    /// `synchronous=OFF`, no fsync) is for tests and benchmarks of the rest of the system only.
    public var durable = true
    /// The log's file system calls (a test counts syncs through its own; the power-cut simulation journals).
    public var logIO: any LogFileIO = SystemLogIO()
    /// Size of a log segment (preallocated).
    public var logSegmentSize: Int64 = 64 << 20
    /// SQLite's transaction over logged groups is committed once it holds this many ops or is this old (or at once
    /// when a read needs what it holds): one commit writes each page the batch touched once, however many groups
    /// touched it.
    public var batchMaximumOperations = 20_000
    public var batchMaximumDuration: Duration = .seconds(1)
    /// Tests: every file goes through the power-cut journals (`SimulatedPowerCut`), so a simulated power cut after a
    /// SIGKILL takes back everything not synced. Slow; `kelson etcd` sets it when `KELSON_SIMULATE_POWER_CUT=1`.
    public var simulatePowerCut = false {
        didSet { if simulatePowerCut { logIO = PowerCutLogIO() } }
    }
    /// The SQLite VFS connections open with (the power-cut one when simulating).
    var vfs: String? {
        guard simulatePowerCut else { return nil }
        SimulatedPowerCut.registerVFS()
        return SimulatedPowerCut.vfsName
    }
    /// WAL length (pages of 4 KiB) at which the background checkpointer copies the WAL into the database.
    public var checkpointThresholdPages: Int32 = 16_384
    /// Where the backend reports trouble it works around (a background checkpointer that could not start).
    public var logger = Logger(label: "kelson.sqlite")

    public init(path: String) { self.path = path }
}

/// A `LogBackend` on one SQLite file: one writer connection (used only by the committer thread)
/// and a bounded pool of reader connections. WAL mode lets readers run beside the writer, each on
/// its own consistent snapshot. When `durable`, Kelson's own write-ahead log in front of it is the durability point
/// (`WriteAheadLog`; SQLite takes the groups in batches, `SQLiteBackend+Batches.swift`), and the backend defers
/// durability to the core's syncer, which calls `sync()`.
public final class SQLiteBackend: LogBackend {
    public let configuration: SQLiteConfiguration
    private let writer: Mutex<SQLiteConnection?>
    private let readers: ConnectionPool<SQLiteConnection>
    /// Kelson's own log (nil unless `durable`).
    let log: WriteAheadLog?
    /// SQLite's open transaction over logged groups (writer lock).
    let batch = Mutex(Batch())
    /// The last log record committed into SQLite (not necessarily durable there).
    let committedSequence: Atomic<UInt64>
    private let checkpointer: Checkpointer
    /// Held until `close`: one process per file (see `FileLock`).
    private let lock: Mutex<FileLock?>
    /// The directory fsynced once the files were created (nil when not `durable`); tests check it.
    let synchronizedDirectory: String?

    /// Page caches, in KiB. The writer's holds a batch's pages until its commit (beyond it SQLite spills them into
    /// the WAL early); 64 MiB doubled the RSS after loading 100k keys (94 against 57 MiB) for no measurable gain. A
    /// reader's holds what one list page touches: with values in `kv_log`, a page of 500 keys reads about 500 log
    /// pages, which thrashed SQLite's default 2 MiB (a first page of 500 took 1.17 ms after 1M updates against 0.54
    /// before them; 0.69 against 0.67 with 8 MiB). Eight readers so hold at most 64 MiB.
    static let writerCacheKiB = 8_192
    static let readerCacheKiB = 8_192

    public init(configuration: SQLiteConfiguration) throws {
        var configuration = configuration
        // Absolute, as SQLite names its files (the power-cut journals are kept by path).
        if !configuration.path.hasPrefix("/") {
            configuration.path = FileManager.default.currentDirectoryPath + "/" + configuration.path
        }
        self.configuration = configuration
        lock = Mutex(try FileLock(path: configuration.path))
        let connection = try SQLiteConnection(path: configuration.path, readOnly: false, vfs: configuration.vfs)
        let mode = try Self.journalMode(connection)
        guard mode == "wal" else {
            throw StoreError(.backendFailure, "\(configuration.path): SQLite refused WAL mode (got \(mode))")
        }
        // NORMAL in WAL mode: commits write their frames without an fsync (Kelson's log is the durability point),
        // checkpoints fsync the WAL before copying it and the database after, so SQLite's file stays consistent and
        // loses at most its last commits in a power cut, which the log still holds.
        try connection.execute("PRAGMA synchronous = \(configuration.durable ? "NORMAL" : "OFF")")
        try connection.execute("PRAGMA cache_size = -\(Self.writerCacheKiB)")
        try Schema.migrate(connection)
        let logDirectory = configuration.path + "-log"
        if configuration.durable {
            let applied = try LogRecovery.recover(
                connection, logDirectory: logDirectory, logger: configuration.logger)
            committedSequence = Atomic(applied)
        } else {
            committedSequence = Atomic(0)
        }
        checkpointer = Checkpointer(
            path: configuration.path, vfs: configuration.vfs, thresholdFrames: configuration.checkpointThresholdPages,
            logger: configuration.logger)
        checkpointer.register(on: connection)
        checkpointer.start()
        writer = Mutex(connection)
        let path = configuration.path
        let vfs = configuration.vfs
        readers = ConnectionPool(
            maximum: configuration.maximumReaders,
            open: { () throws(StoreError) in
                let reader = try SQLiteConnection(path: path, readOnly: true, vfs: vfs)
                try reader.execute("PRAGMA cache_size = -\(Self.readerCacheKiB)")
                return reader
            }, close: { $0.close() })
        if configuration.durable {
            let durablyApplied = DurablyApplied()
            log = try WriteAheadLog(
                directory: logDirectory, nextSequence: committedSequence.load(ordering: .relaxed) + 1,
                segmentSize: configuration.logSegmentSize, io: configuration.logIO, logger: configuration.logger,
                durablyApplied: { try durablyApplied.backend?.syncCommitted() ?? 0 })
            synchronizedDirectory = try Self.synchronizeDirectory(of: configuration.path)
            durablyApplied.backend = self
        } else {
            log = nil
            synchronizedDirectory = nil
        }
    }

    private static func journalMode(_ connection: SQLiteConnection) throws(StoreError) -> String {
        let statement = try connection.statement("PRAGMA journal_mode = WAL")
        defer { statement.reset() }
        guard try statement.step() else { return "" }
        return String(decoding: statement.bytes(0), as: UTF8.self)
    }

    /// fsync of the directory holding the database: an fsync of a file makes its contents durable, not its name.
    /// A new store has just created `kelson.db`, every open creates `kelson.db-wal` (a clean close removes it) and the
    /// log directory `kelson.db-log`; were a directory entry lost in a power cut, so would acknowledged writes.
    private static func synchronizeDirectory(of path: String) throws(StoreError) -> String {
        let parent = (path as NSString).deletingLastPathComponent
        let directory = parent.isEmpty ? "." : parent
        try WriteAheadLog.synchronizeDirectory(directory)
        return directory
    }

    /// Makes what SQLite committed durable (an fdatasync of its WAL; what a checkpoint already copied out of the WAL
    /// was fsynced in the database by that checkpoint) and answers the last log record it covers, so the log may
    /// drop the segments up to it. Runs on the log's maintenance thread.
    func syncCommitted() throws -> UInt64 {
        let committed = committedSequence.load(ordering: .acquiring)
        let path = configuration.path + "-wal"
        // Opened for each trim (rare) rather than kept: a store holds no descriptor it does not need.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw StoreError(.backendFailure, "cannot open \(path) to sync it: errno \(errno)")
        }
        defer { Glibc.close(descriptor) }
        try configuration.logIO.sync(descriptor, path: path)
        return committed
    }

    public func read<Result>(_ body: (any BackendReader) throws -> Result) throws -> Result {
        try commitForReaders()
        let connection = try readers.take()
        defer { readers.give(back: connection) }
        try connection.run("BEGIN")
        defer { try? connection.finishTransaction(commit: true) }
        return try body(SQLiteView(connection: connection))
    }

    public func write<Result>(_ body: (any BackendWriter) throws -> Result) throws -> Result {
        guard let log else { return try writeWithoutLog(body) }
        return try withWriter { connection in
            try logged(connection, log) { view in
                let recorder = RecordingWriter(view: view)
                return (try body(recorder), recorder.operations)
            }
        }
    }

    public var defersDurability: Bool { log != nil }

    public func sync() throws { try log?.sync() }

    /// Without a log (not `durable`): one SQLite transaction per group, no fsync.
    private func writeWithoutLog<Result>(_ body: (any BackendWriter) throws -> Result) throws -> Result {
        try withWriter { connection in
            try connection.run("BEGIN IMMEDIATE")
            do {
                let result = try body(SQLiteView(connection: connection))
                try connection.finishTransaction(commit: true)
                return result
            } catch {
                try? connection.finishTransaction(commit: false)
                throw error
            }
        }
    }

    public func compactBatch(revision: Int64, cursor: Int64, limit: Int) throws -> Int64? {
        try withWriter { connection in
            if log == nil { try connection.run("BEGIN IMMEDIATE") } else { try openBatch(connection) }
            do {
                // Through the revision index: `max(id) … WHERE revision <= ?` walks back over every row above the
                // revision (measured: 0.6–10 ms a batch under full write load, which kept compaction from keeping up).
                guard
                    let lastID = try connection.integer(
                        "SELECT id FROM kv_log WHERE revision <= ?1 ORDER BY revision DESC, sub_revision DESC LIMIT 1",
                        revision),
                    cursor < lastID
                else {
                    if log == nil { try connection.finishTransaction(commit: true) }
                    return nil
                }
                // The batch ends after `limit` rows still in the log, not `limit` ids: when the compaction point moves
                // on the walk starts again from the beginning, and most ids there are already deleted.
                let upper =
                    try connection.integer(
                        "SELECT max(id) FROM (SELECT id FROM kv_log WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3)",
                        cursor, lastID, Int64(limit)) ?? lastID
                if let log {
                    // Logged, so a replay removes the same rows before it repeats what the log holds after it.
                    let operation = LogOperation.compactBatch(revision: revision, cursor: cursor, upper: upper)
                    try logged(connection, log) { view in
                        try operation.apply(to: view)
                        return ((), [operation])
                    }
                } else {
                    try SQLiteView(connection: connection).removeCompacted(
                        revision: revision, cursor: cursor, upper: upper)
                    try connection.finishTransaction(commit: true)
                }
                return upper < lastID ? upper : nil
            } catch {
                if log == nil { try? connection.finishTransaction(commit: false) }
                throw error
            }
        }
    }

    /// The database file plus its WAL; in use = pages not on SQLite's free list.
    public func storageSize() throws -> StorageSize {
        let connection = try readers.take()
        defer { readers.give(back: connection) }
        let pageSize = try connection.integer("PRAGMA page_size") ?? 4096
        let pages = try connection.integer("PRAGMA page_count") ?? 0
        let free = try connection.integer("PRAGMA freelist_count") ?? 0
        let wal = fileSize(configuration.path + "-wal")
        return StorageSize(totalBytes: pages * pageSize + wal, inUseBytes: (pages - free) * pageSize)
    }

    /// Checkpoints the WAL into the main file, rebuilds the file without free pages (VACUUM), and
    /// truncates the WAL, so both files shrink. Holds the writer connection throughout.
    public func defragment() throws {
        try withWriter { connection in
            try commitBatch(connection)
            try connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            try connection.execute("VACUUM")
            try connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    /// `VACUUM INTO` from a reader connection: a compact, self-contained database file holding one
    /// consistent snapshot, while writers carry on. Refuses to overwrite an existing file.
    public func snapshot(to path: String) throws {
        if FileManager.default.fileExists(atPath: path) {
            throw StoreError(.backendFailure, "snapshot target \(path) already exists")
        }
        try commitForReaders()
        let connection = try readers.take()
        defer { readers.give(back: connection) }
        try connection.execute("VACUUM INTO '\(path.replacingOccurrences(of: "'", with: "''"))'")
    }

    func withWriter<Result>(_ body: (SQLiteConnection) throws -> Result) throws -> Result {
        try writer.withLock { connection in
            guard let connection else { throw StoreError.stopped }
            return try body(connection)
        }
    }

    /// The writer closes last: as the last connection it checkpoints the WAL into the database (fsyncing it) and
    /// removes it; then the log is removed too, so the next start opens one file with nothing to replay. If the
    /// database could not take everything in, the log stays for the next start to replay.
    public func close() {
        guard lock.withLock({ $0 != nil }) else { return }  // closed already, or abandoned (tests)
        checkpointer.stop()
        readers.close()
        var folded = true
        writer.withLock { connection in
            if let connection {
                do { try commitBatch(connection) } catch {
                    folded = false
                    configuration.logger.error(
                        "could not commit the last batch into SQLite; the log keeps it for the next start",
                        metadata: ["error": "\(error)"])
                }
            }
            connection?.close()
            connection = nil
        }
        if let log {
            let removable = folded && !FileManager.default.fileExists(atPath: configuration.path + "-wal")
            log.close(removeFiles: removable)
        }
        lock.withLock { $0 = nil }
    }
}

extension SQLiteBackend {
    /// Tests: stops like a killed process would, as far as the files can tell. SQLite's open batch is rolled back,
    /// the log stays as it is, nothing is folded or removed; the file lock is released so the test can reopen.
    func abandon() {
        checkpointer.stop()
        readers.close()
        writer.withLock { connection in
            try? connection?.finishTransaction(commit: false)
            // The last connection's close folds the committed WAL into the database: what a later open would do.
            connection?.close()
            connection = nil
        }
        log?.close(removeFiles: false)
        lock.withLock { $0 = nil }
    }
}

/// Lets the log's trimming reach the backend that owns it (created before the backend is complete).
private final class DurablyApplied: @unchecked Sendable {
    weak var backend: SQLiteBackend?
}
