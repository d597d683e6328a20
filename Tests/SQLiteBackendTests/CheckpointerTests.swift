import Foundation
import Logging
import Synchronization
import Testing

@testable import SQLiteBackend

@Suite("SQLite checkpointer")
struct CheckpointerTests {
    /// The background thread's connection is refused (its path lies in a directory that does not exist): the
    /// failure is logged, and the writer's own catch-up still keeps the WAL near the threshold.
    @Test("a checkpointer that cannot open its connection says so, and the writer still bounds the WAL")
    func failedConnectionIsLoggedAndTheWALStaysBounded() throws {
        let directory = try TemporaryDirectory()
        let records = RecordedLogs()
        let checkpointer = Checkpointer(
            path: directory.path + "/missing/kelson.db", thresholdFrames: 64,
            logger: Logger(label: "test") { _ in RecordingLogHandler(records: records) })
        let writer = try SQLiteConnection(path: directory.databasePath, readOnly: false)
        try writer.execute("PRAGMA journal_mode = WAL; CREATE TABLE t (value BLOB)")
        checkpointer.register(on: writer)
        checkpointer.start()
        var largest = 0
        for _ in 0..<1_000 {
            try writer.execute("INSERT INTO t VALUES (zeroblob(8192))")  // three pages, one commit
            let size = (try? FileManager.default.attributesOfItem(atPath: directory.databasePath + "-wal"))?[.size]
            largest = max(largest, (size as? Int) ?? 0)
        }
        writer.close()
        checkpointer.stop()

        let errors = records.all.filter { $0.level == .error }
        #expect(errors.count == 1, "\(records.all)")
        #expect(errors.first?.message.contains("checkpointer cannot open its connection") == true)
        #expect(errors.first?.metadata["path"] == "\(directory.path)/missing/kelson.db")
        // Catch-up at 96 frames (forceFrames) and a commit of a few frames on top; without it, ~3,000 frames.
        let bound = 2 * Int(checkpointer.forceFrames) * (4096 + 24)
        #expect(largest > 0 && largest < bound, "the WAL reached \(largest) bytes (bound \(bound))")
    }
}

final class RecordedLogs: Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }
    private let records = Mutex<[Record]>([])
    var all: [Record] { records.withLock { $0 } }
    func append(_ record: Record) { records.withLock { $0.append(record) } }
}

struct RecordingLogHandler: LogHandler {
    let records: RecordedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        records.append(
            RecordedLogs.Record(
                level: event.level, message: event.message.description,
                metadata: merged.mapValues { "\($0)" }))
    }
}
