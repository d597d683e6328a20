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
    /// Every acknowledged write survives power loss: each commit is followed by an fdatasync of the WAL
    /// before `write` returns. Turning it off (`synchronous=OFF`, no fsync) is for tests and benchmarks of the
    /// rest of the system only.
    public var durable = true
    /// WAL length (pages of 4 KiB) at which the background checkpointer copies the WAL into the database.
    public var checkpointThresholdPages: Int32 = 16_384
    /// Where the backend reports trouble it works around (a background checkpointer that could not start).
    public var logger = Logger(label: "kelson.sqlite")

    public init(path: String) { self.path = path }
}

/// A `LogBackend` on one SQLite file: one writer connection (used only by the committer thread)
/// and a bounded pool of reader connections. WAL mode lets readers run beside the writer, each on
/// its own consistent snapshot.
public final class SQLiteBackend: LogBackend {
    public let configuration: SQLiteConfiguration
    private let writer: Mutex<SQLiteConnection?>
    private let readers: ConnectionPool<SQLiteConnection>
    /// The WAL file, opened on the first sync (it exists once the first transaction committed).
    private let walFile = Mutex<Int32>(-1)
    private let checkpointer: Checkpointer
    /// Held until `close`: one process per file (see `FileLock`).
    private let lock: Mutex<FileLock?>
    /// The directory fsynced once the files were created (nil when not `durable`); tests check it.
    let synchronizedDirectory: String?

    public init(configuration: SQLiteConfiguration) throws {
        self.configuration = configuration
        lock = Mutex(try FileLock(path: configuration.path))
        let connection = try SQLiteConnection(path: configuration.path, readOnly: false)
        let mode = try Self.journalMode(connection)
        guard mode == "wal" else {
            throw StoreError(.backendFailure, "\(configuration.path): SQLite refused WAL mode (got \(mode))")
        }
        // NORMAL in WAL mode: a commit writes its frames without an fsync, and `write` then fdatasyncs the WAL
        // itself (`syncWAL`). That is as durable as FULL, which in WAL mode also pads every commit to a sector
        // boundary with extra frames (measured slower here); checkpoints still fsync the WAL before copying it.
        try connection.execute("PRAGMA synchronous = \(configuration.durable ? "NORMAL" : "OFF")")
        try Schema.migrate(connection)
        synchronizedDirectory = try configuration.durable ? Self.synchronizeDirectory(of: configuration.path) : nil
        checkpointer = Checkpointer(
            path: configuration.path, thresholdFrames: configuration.checkpointThresholdPages,
            logger: configuration.logger)
        checkpointer.register(on: connection)
        checkpointer.start()
        writer = Mutex(connection)
        let path = configuration.path
        readers = ConnectionPool(
            maximum: configuration.maximumReaders,
            open: { () throws(StoreError) in
                try SQLiteConnection(path: path, readOnly: true)
            }, close: { $0.close() })
    }

    private static func journalMode(_ connection: SQLiteConnection) throws(StoreError) -> String {
        let statement = try connection.statement("PRAGMA journal_mode = WAL")
        defer { statement.reset() }
        guard try statement.step() else { return "" }
        return String(decoding: statement.bytes(0), as: UTF8.self)
    }

    /// fsync of the directory holding the database: an fsync of a file makes its contents durable, not its name.
    /// A new store has just created `kelson.db`, and every open creates `kelson.db-wal` (a clean close removes it);
    /// were its directory entry lost in a power cut, so would every acknowledged write still in the WAL.
    private static func synchronizeDirectory(of path: String) throws(StoreError) -> String {
        let parent = (path as NSString).deletingLastPathComponent
        let directory = parent.isEmpty ? "." : parent
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw StoreError(
                .backendFailure, "cannot open \(directory) to fsync it: \(String(cString: strerror(errno)))")
        }
        defer { Glibc.close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw StoreError(.backendFailure, "fsync of \(directory) failed: \(String(cString: strerror(errno)))")
        }
        return directory
    }

    /// fdatasync of the WAL file: makes every committed frame durable (an fsync covers the file, whichever
    /// descriptor it goes through). SQLite recovers only whole transactions from the WAL, so a crash before the
    /// sync loses whole unacknowledged transactions, never part of one.
    private func syncWAL() throws {
        guard configuration.durable else { return }
        try walFile.withLock { descriptor in
            if descriptor < 0 {
                descriptor = open(configuration.path + "-wal", O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else {
                    throw StoreError(
                        .backendFailure, "cannot open \(configuration.path)-wal to sync it: errno \(errno)")
                }
            }
            guard fdatasync(descriptor) == 0 else {
                throw StoreError(.backendFailure, "fdatasync of \(configuration.path)-wal failed: errno \(errno)")
            }
        }
    }

    public func read<Result>(_ body: (any BackendReader) throws -> Result) throws -> Result {
        let connection = try readers.take()
        defer { readers.give(back: connection) }
        try connection.run("BEGIN")
        defer { try? connection.finishTransaction(commit: true) }
        return try body(SQLiteView(connection: connection))
    }

    public func write<Result>(_ body: (any BackendWriter) throws -> Result) throws -> Result {
        try withWriter { connection in
            try connection.run("BEGIN IMMEDIATE")
            do {
                let result = try body(SQLiteView(connection: connection))
                try connection.finishTransaction(commit: true)
                try syncWAL()
                return result
            } catch {
                try? connection.finishTransaction(commit: false)
                throw error
            }
        }
    }

    public func compactBatch(revision: Int64, cursor: Int64, limit: Int) throws -> Int64? {
        try withWriter { connection in
            guard let lastID = try connection.integer("SELECT max(id) FROM kv_log WHERE revision <= ?1", revision),
                cursor < lastID
            else { return nil }
            // The batch ends after `limit` rows still in the log, not `limit` ids: when the compaction point moves
            // on the walk starts again from the beginning, and most ids there are already deleted.
            let upper =
                try connection.integer(
                    "SELECT max(id) FROM (SELECT id FROM kv_log WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3)",
                    cursor, lastID, Int64(limit)) ?? lastID
            try connection.run("BEGIN IMMEDIATE")
            do {
                // A row is history once it is a tombstone or a later row of its key exists at or
                // below the compaction revision; the latest put of each key stays readable.
                let delete = try connection.statement(
                    """
                    DELETE FROM kv_log WHERE id IN (
                      SELECT a.id FROM kv_log a WHERE a.id > ?1 AND a.id <= ?2 AND a.revision <= ?3
                      AND (a.deleted = 1 OR EXISTS (
                        SELECT 1 FROM kv_log b WHERE b.key = a.key AND b.revision <= ?3 AND b.id > a.id)))
                    """)
                delete.bind(1, cursor)
                delete.bind(2, upper)
                delete.bind(3, revision)
                try delete.run()
                try connection.finishTransaction(commit: true)
            } catch {
                try? connection.finishTransaction(commit: false)
                throw error
            }
            return upper < lastID ? upper : nil
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
        let connection = try readers.take()
        defer { readers.give(back: connection) }
        try connection.execute("VACUUM INTO '\(path.replacingOccurrences(of: "'", with: "''"))'")
    }

    private func withWriter<Result>(_ body: (SQLiteConnection) throws -> Result) throws -> Result {
        try writer.withLock { connection in
            guard let connection else { throw StoreError.stopped }
            return try body(connection)
        }
    }

    /// The writer closes last: as the last connection it checkpoints the WAL into the database and removes it,
    /// so the next start opens one file with no WAL to recover.
    public func close() {
        checkpointer.stop()
        readers.close()
        writer.withLock { connection in
            connection?.close()
            connection = nil
        }
        walFile.withLock { descriptor in
            if descriptor >= 0 { Glibc.close(descriptor) }
            descriptor = -1
        }
        lock.withLock { $0 = nil }
    }
}
