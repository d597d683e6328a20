import CSQLite
import Foundation
import RevisionLog
import RevisionLogTesting
import SQLiteBackend
import Testing

/// Behaviour specific to the SQLite file: reopening, schema versions, durability settings.
@Suite("SQLite storage")
struct SQLiteStorageTests {
    private func openStore(_ directory: TemporaryDirectory, clock: any LeaseClock = SystemLeaseClock()) throws -> Store
    {
        try openStore(path: directory.databasePath, clock: clock)
    }

    private func openStore(path: String, clock: any LeaseClock = SystemLeaseClock()) throws -> Store {
        let backend = try SQLiteBackend(configuration: SQLiteConfiguration(path: path))
        var configuration = StoreConfiguration()
        configuration.leaseClock = clock
        return try Store(backend: backend, configuration: configuration, logger: conformanceLogger())
    }

    @Test("reopening the file keeps every key, revision and the compaction point")
    func reopenKeepsState() async throws {
        let directory = try TemporaryDirectory()
        var store = try openStore(directory)
        for index in 0..<50 {
            _ = try await store.put(PutRequest(key: Array("k\(index % 10)".utf8), value: Array("v\(index)".utf8)))
        }
        _ = try await store.compact(revision: 30, physical: true)
        let before = try await store.range(RangeRequest(range: .fromKey([0])))
        store.close()

        store = try openStore(directory)
        defer { store.close() }
        let after = try await store.range(RangeRequest(range: .fromKey([0])))
        #expect(after == before)
        #expect(try await store.revisions().revision == 51)
        #expect(try await store.revisions().compactRevision == 30)
        let next = try await store.put(PutRequest(key: Array("k0".utf8), value: []))
        #expect(next.revision == 52)
        var old = RangeRequest(range: .single(Array("k0".utf8)))
        old.revision = 29
        await #expect(throws: StoreError.compacted) { try await store.range(old) }
    }

    @Test("the file uses WAL mode and a versioned schema")
    func fileSettings() throws {
        let directory = try TemporaryDirectory()
        let store = try openStore(directory)
        defer { store.close() }
        var handle: OpaquePointer?
        #expect(sqlite3_open_v2(directory.databasePath, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK)
        defer { sqlite3_close_v2(handle) }
        #expect(queryText(handle, "PRAGMA journal_mode") == "wal")
        #expect(queryText(handle, "PRAGMA user_version") == "4")
        #expect(queryText(handle, "SELECT revision || ',' || compact_revision FROM kelson_state") == "1,-1")
    }

    @Test("one backend per file: a second open is refused until the first closes")
    func secondOpenRefused() throws {
        let directory = try TemporaryDirectory()
        let first = try SQLiteBackend(configuration: SQLiteConfiguration(path: directory.databasePath))
        do {
            _ = try SQLiteBackend(configuration: SQLiteConfiguration(path: directory.databasePath))
            Issue.record("a second backend opened a file the first still has open")
        } catch let error as StoreError {
            #expect(error.detail.contains("is in use by another Kelson process"), "\(error)")
        }
        #expect(throws: StoreError.self) { try OfflineDefragment.run(path: directory.databasePath) }
        first.close()
        try SQLiteBackend(configuration: SQLiteConfiguration(path: directory.databasePath)).close()
        _ = try OfflineDefragment.run(path: directory.databasePath)
    }

    @Test("a database from a newer Kelson is refused, not modified")
    func newerSchemaRefused() throws {
        let directory = try TemporaryDirectory()
        try openStore(directory).close()
        var handle: OpaquePointer?
        sqlite3_open_v2(directory.databasePath, &handle, SQLITE_OPEN_READWRITE, nil)
        sqlite3_exec(handle, "PRAGMA user_version = 99", nil, nil, nil)
        sqlite3_close_v2(handle)
        do {
            _ = try SQLiteBackend(configuration: SQLiteConfiguration(path: directory.databasePath))
            Issue.record("opening a version-99 database should fail")
        } catch let error as StoreError {
            #expect(error.code == .corrupt)
            #expect(error.detail.contains("schema version 99"))
        }
    }

    /// 16 writers put 1 KiB values as fast as the store commits, with a 1 MiB checkpoint threshold.
    @Test("under sustained writes the WAL stays near the checkpoint threshold: the writer catches up itself")
    func walStaysBounded() async throws {
        let directory = try TemporaryDirectory()
        var backendConfiguration = SQLiteConfiguration(path: directory.databasePath)
        backendConfiguration.checkpointThresholdPages = 256
        // Commits as often as without the log's batching: the writer's catch-up runs between two commits.
        backendConfiguration.batchMaximumOperations = 16
        let store = try Store(
            backend: try SQLiteBackend(configuration: backendConfiguration), configuration: StoreConfiguration(),
            logger: conformanceLogger())
        defer { store.close() }
        let walPath = directory.databasePath + "-wal"
        // Each writer samples the WAL's length after every put it made.
        let largest = try await withThrowingTaskGroup(of: Int.self) { group in
            for writer in 0..<16 {
                group.addTask {
                    var largest = 0
                    for round in 0..<400 {
                        let value = [UInt8](repeating: UInt8(round % 251), count: 1024)
                        _ = try await store.put(PutRequest(key: Array("w\(writer)/\(round % 20)".utf8), value: value))
                        let size = (try? FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int) ?? 0
                        largest = max(largest, size)
                    }
                    return largest
                }
            }
            return try await group.reduce(0, max)
        }
        // The catch-up point is 288 pages; what the groups committed while the background pass finished comes on
        // top. Without the writer's own catch-up the WAL never restarted here and grew past 50 MB.
        let bound = 8 * Int(backendConfiguration.checkpointThresholdPages) * (4096 + 24)
        #expect(largest > 0 && largest < bound, "the WAL reached \(largest) bytes (bound \(bound))")
    }

    @Test("head reads are served from the live index, not from history")
    func headReadsIgnoreHistory() async throws {
        let directory = try TemporaryDirectory()
        let store = try openStore(directory)
        defer { store.close() }
        for round in 0..<200 {
            _ = try await store.txn(
                TxnRequest(
                    success: (0..<5).map { key in
                        .put(PutRequest(key: Array("h\(key)".utf8), value: Array("\(round)".utf8)))
                    }))
        }
        // A read through the store commits SQLite's open batch (what another connection to the file can see).
        _ = try await store.range(RangeRequest(range: .single(Array("h0".utf8))))
        var handle: OpaquePointer?
        sqlite3_open_v2(directory.databasePath, &handle, SQLITE_OPEN_READONLY, nil)
        defer { sqlite3_close_v2(handle) }
        #expect(queryText(handle, "SELECT count(*) FROM kv_log") == "1000")
        #expect(queryText(handle, "SELECT count(*) FROM kv_live") == "5")
        // The query plan of a head range touches kv_live only.
        let plan = queryText(
            handle, "EXPLAIN QUERY PLAN SELECT key FROM kv_live WHERE key >= x'68' AND key < x'69' ORDER BY key",
            column: 3)
        #expect(plan?.contains("kv_live") == true)
        let result = try await store.range(RangeRequest(range: .interval(start: Array("h".utf8), end: Array("i".utf8))))
        #expect(result.count == 5)
        #expect(result.keyValues.allSatisfy { $0.version == 200 })
    }

    private func queryText(_ handle: OpaquePointer?, _ sql: String, column: Int32 = 0) -> String? {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { return nil }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW, let text = sqlite3_column_text(statement, column) else {
            return nil
        }
        return String(cString: text)
    }
}
