import CSQLite
import RevisionLog

/// SQLite's "transient" destructor: SQLite copies bound bytes before the bind call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection with a cache of prepared statements. Not thread-safe: the backend hands
/// each connection to one thread at a time (the committer owns the writer; readers come from a pool).
final class SQLiteConnection: @unchecked Sendable {  // one thread at a time, handed over under a lock
    private var handle: OpaquePointer?
    private var statements: [String: Statement] = [:]
    let path: String

    /// `vfs`: the name of a registered SQLite VFS (nil: the default one).
    init(path: String, readOnly: Bool, vfs: String? = nil) throws(StoreError) {
        self.path = path
        let flags =
            (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE))
            | SQLITE_OPEN_NOMUTEX
        var opened: OpaquePointer?
        let status = sqlite3_open_v2(path, &opened, flags, vfs)
        handle = opened
        guard status == SQLITE_OK else {
            let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(opened)
            handle = nil
            throw StoreError(.backendFailure, "cannot open SQLite database \(path): \(message)")
        }
        sqlite3_extended_result_codes(handle, 1)
        try execute("PRAGMA busy_timeout = 10000")
    }

    deinit { close() }

    func close() {
        statements.values.forEach { $0.finalize() }
        statements = [:]
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// Runs SQL that returns no rows (several statements allowed).
    func execute(_ sql: String) throws(StoreError) {
        guard let handle else { throw StoreError.stopped }
        var message: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &message) != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(message)
            throw StoreError(.backendFailure, "SQLite: \(text) (in: \(sql.prefix(80)))")
        }
    }

    /// Ends the open transaction. Statements left mid-result are reset first: SQLite refuses to
    /// commit while a read statement is still active.
    func finishTransaction(commit: Bool) throws(StoreError) {
        resetStatements()
        try run(commit ? "COMMIT" : "ROLLBACK")
    }

    /// The rowid of the last row inserted on this connection (`kv_log.id` right after a log insert).
    var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Resets every cached statement (SQLite refuses to end a transaction or savepoint under one mid-result).
    func resetStatements() { statements.values.forEach { $0.reset() } }

    /// Runs one statement that returns no rows through the statement cache: for BEGIN and COMMIT on every
    /// transaction, where `execute` would parse the SQL again each time.
    func run(_ sql: String) throws(StoreError) {
        let statement = try statement(sql)
        defer { statement.reset() }
        _ = try statement.step()
    }

    /// A PASSIVE checkpoint (it never waits for the writer or readers): the WAL's length in frames and how many
    /// of them are now copied into the database, or nil when it could not run (busy, or the connection failed).
    /// It is the PRAGMA rather than `sqlite3_wal_checkpoint_v2`, because on a connection that has not read the
    /// database yet the C call finds no WAL open, does nothing and still answers SQLITE_OK.
    func checkpointPassive() -> (length: Int32, copied: Int32)? {
        guard let statement = try? statement("PRAGMA wal_checkpoint(PASSIVE)") else { return nil }
        defer { statement.reset() }
        // One row: busy (1 when another checkpoint held the lock), the WAL's frames, the frames copied.
        guard (try? statement.step()) == true, statement.int64(0) == 0,
            let length = Int32(exactly: statement.int64(1)), let copied = Int32(exactly: statement.int64(2)),
            length >= 0, copied >= 0
        else { return nil }
        return (length, copied)
    }

    /// Replaces SQLite's automatic checkpoint with `hook`, called after every commit with the WAL's length in frames.
    func setWALHook(
        _ context: UnsafeMutableRawPointer,
        _ hook: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32
    ) {
        sqlite3_wal_hook(handle, hook, context)
    }

    /// A cached prepared statement, reset and with bindings cleared.
    func statement(_ sql: String) throws(StoreError) -> Statement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        guard let handle else { throw StoreError.stopped }
        var prepared: OpaquePointer?
        guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil) == SQLITE_OK,
            let prepared
        else {
            throw StoreError(
                .backendFailure, "SQLite prepare failed: \(String(cString: sqlite3_errmsg(handle))) (\(sql))")
        }
        let statement = Statement(prepared, connection: handle)
        statements[sql] = statement
        return statement
    }

    /// The first column of the first row of `sql`, as an integer (nil when there is no row or it is NULL).
    func integer(_ sql: String, _ arguments: Int64...) throws(StoreError) -> Int64? {
        let statement = try statement(sql)
        for (index, argument) in arguments.enumerated() { statement.bind(index + 1, argument) }
        defer { statement.reset() }
        guard try statement.step(), !statement.isNull(0) else { return nil }
        return statement.int64(0)
    }
}

/// A prepared statement. Columns and bindings are 0- and 1-based like SQLite's C API.
final class Statement {
    private let pointer: OpaquePointer
    private let connection: OpaquePointer

    init(_ pointer: OpaquePointer, connection: OpaquePointer) {
        self.pointer = pointer
        self.connection = connection
    }

    func finalize() { sqlite3_finalize(pointer) }

    func reset() {
        sqlite3_reset(pointer)
        sqlite3_clear_bindings(pointer)
    }

    func bind(_ index: Int, _ value: Int64) { sqlite3_bind_int64(pointer, Int32(index), value) }

    func bind(_ index: Int, _ bytes: [UInt8]) {
        // An empty value binds a zero-length blob, not NULL (the NOT NULL columns rely on it).
        if bytes.isEmpty {
            sqlite3_bind_zeroblob(pointer, Int32(index), 0)
            return
        }
        bytes.withUnsafeBytes { buffer in
            _ = sqlite3_bind_blob(pointer, Int32(index), buffer.baseAddress, Int32(buffer.count), transient)
        }
    }

    /// Advances to the next row; false when done.
    func step() throws(StoreError) -> Bool {
        switch sqlite3_step(pointer) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let status:
            let message = String(cString: sqlite3_errmsg(connection))
            sqlite3_reset(pointer)
            throw StoreError(.backendFailure, "SQLite step failed (\(status)): \(message)")
        }
    }

    /// Runs a statement that returns no rows.
    func run() throws(StoreError) {
        while try step() {}
    }

    func isNull(_ column: Int) -> Bool { sqlite3_column_type(pointer, Int32(column)) == SQLITE_NULL }
    func int64(_ column: Int) -> Int64 { sqlite3_column_int64(pointer, Int32(column)) }

    func bytes(_ column: Int) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(pointer, Int32(column)))
        guard count > 0, let base = sqlite3_column_blob(pointer, Int32(column)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }
}
