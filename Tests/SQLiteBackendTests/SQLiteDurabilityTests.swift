import Foundation
import Testing

@testable import SQLiteBackend

/// What the SQLite backend does so that the files themselves, not only their contents, survive a power cut.
@Suite("SQLite files survive a power cut")
struct SQLiteDurabilityTests {
    @Test("a new store fsyncs its directory once kelson.db and kelson.db-wal exist, and so does every reopen")
    func directorySynchronizedAfterCreation() throws {
        let directory = try TemporaryDirectory()
        let first = try SQLiteBackend(configuration: SQLiteConfiguration(path: directory.databasePath))
        // The fsync ran at the end of the open, so it covered both names.
        #expect(FileManager.default.fileExists(atPath: directory.databasePath + "-wal"))
        #expect(first.synchronizedDirectory == directory.path)
        first.close()
        // A clean close removed the WAL; the next open creates it again, a new directory entry.
        #expect(!FileManager.default.fileExists(atPath: directory.databasePath + "-wal"))
        let second = try SQLiteBackend(configuration: SQLiteConfiguration(path: directory.databasePath))
        defer { second.close() }
        #expect(FileManager.default.fileExists(atPath: directory.databasePath + "-wal"))
        #expect(second.synchronizedDirectory == directory.path)
    }

    @Test("a store that is not durable (tests, benchmarks) skips the fsync")
    func notDurableSkipsIt() throws {
        let directory = try TemporaryDirectory()
        var configuration = SQLiteConfiguration(path: directory.databasePath)
        configuration.durable = false
        let backend = try SQLiteBackend(configuration: configuration)
        defer { backend.close() }
        #expect(backend.synchronizedDirectory == nil)
    }
}
