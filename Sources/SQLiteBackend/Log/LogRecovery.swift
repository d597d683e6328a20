import Foundation
import Glibc
import Logging
import RevisionLog

/// Start-up of a database with a log: replays the records after the last one SQLite holds (a crash left them only in
/// the log), makes the database durable, and removes the old segments, so the new log starts empty. Offline tools
/// (`kelson defrag`) run it too before touching the file, so none works on a database missing its log's tail.
enum LogRecovery {
    /// Records replayed per SQLite transaction: bounds the transaction's memory on a long log.
    static let recordsPerTransaction = 4_096

    /// Returns the sequence number of the last record the database now holds.
    static func recover(_ connection: SQLiteConnection, logDirectory: String, logger: Logger) throws -> UInt64 {
        let applied = UInt64(try connection.integer("SELECT log_sequence FROM kelson_state WHERE id = 1") ?? 0)
        let reader = LogReader(directory: logDirectory, logger: logger)
        let segments = reader.segments()
        // Spares being prepared when the last process stopped hold nothing.
        let spares = ((try? FileManager.default.contentsOfDirectory(atPath: logDirectory)) ?? [])
            .filter { $0.hasSuffix(".tmp") }.map { logDirectory + "/" + $0 }
        spares.forEach { unlink($0) }
        guard !segments.isEmpty else { return applied }
        var last = applied
        var replayed = 0
        let started = ContinuousClock.now
        var view: SQLiteView?
        do {
            try reader.replay(after: applied) { record in
                if view == nil {
                    try connection.run("BEGIN IMMEDIATE")
                    view = try SQLiteView(connection: connection)
                }
                for operation in record.operations { try operation.apply(to: view!) }
                last = record.sequence
                replayed += 1
                if replayed % recordsPerTransaction == 0 {
                    try setLogSequence(connection, last)
                    try connection.finishTransaction(commit: true)
                    view = nil
                }
            }
            if view != nil {
                try setLogSequence(connection, last)
                try connection.finishTransaction(commit: true)
            }
        } catch {
            if view != nil { try? connection.finishTransaction(commit: false) }
            throw error
        }
        // Durable before the segments go: a checkpoint fsyncs the WAL and then the database.
        try connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for segment in segments { unlink(segment.path) }
        if replayed > 0 {
            let elapsed = ContinuousClock.now - started
            logger.notice(
                "replayed the write-ahead log into the database",
                metadata: ["records": "\(replayed)", "through": "\(last)", "duration": "\(elapsed)"])
        }
        return last
    }

    static func setLogSequence(_ connection: SQLiteConnection, _ sequence: UInt64) throws(StoreError) {
        let statement = try connection.statement("UPDATE kelson_state SET log_sequence = ?1 WHERE id = 1")
        statement.bind(1, Int64(sequence))
        try statement.run()
    }
}
