import CSQLite
import Foundation
import RevisionLog
import RevisionLogTesting
import SQLiteBackend
import Testing

/// Leases across restarts, schema migration, hashing across backends, defragment and snapshots.
@Suite("SQLite leases, hash, defragment and snapshot")
struct SQLiteMaintenanceTests {
    private func openStore(path: String, clock: any LeaseClock = ManualLeaseClock()) throws -> Store {
        let backend = try SQLiteBackend(configuration: SQLiteConfiguration(path: path))
        var configuration = StoreConfiguration()
        configuration.leaseClock = clock
        return try Store(backend: backend, configuration: configuration, logger: conformanceLogger())
    }

    /// The same history on any store: puts, a txn, a lease revoke, deletes and a compaction.
    private func writeHistory(_ store: Store) async throws {
        _ = try await store.grantLease(id: 77, ttl: 100)
        for index in 0..<200 {
            _ = try await store.put(
                PutRequest(
                    key: Array("key/\(index % 37)".utf8), value: Array("value \(index)".utf8),
                    lease: index % 5 == 0 ? 77 : 0))
        }
        _ = try await store.txn(
            TxnRequest(success: [
                .put(PutRequest(key: Array("t".utf8), value: [1, 2, 3])),
                .delete(DeleteRequest(range: .single(Array("key/3".utf8)))),
            ]))
        _ = try await store.revokeLease(id: 77)
        _ = try await store.delete(
            DeleteRequest(range: .interval(start: Array("key/2".utf8), end: Array("key/3".utf8))))
        _ = try await store.compact(revision: 150)
        for index in 0..<20 { _ = try await store.put(PutRequest(key: Array("after/\(index)".utf8), value: [])) }
    }

    @Test("leases survive a restart with their full TTL; attached keys stay attached")
    func leasesPersist() async throws {
        let directory = try TemporaryDirectory()
        let clock = ManualLeaseClock()
        var store = try openStore(path: directory.databasePath, clock: clock)
        _ = try await store.grantLease(id: 11, ttl: 30)
        _ = try await store.grantLease(id: 12, ttl: 60)
        _ = try await store.put(PutRequest(key: Array("a".utf8), value: [], lease: 11))
        clock.advance(by: .seconds(25))
        #expect(try await store.leaseTimeToLive(id: 11, keys: false)?.remaining == 5)
        store.close()

        let restarted = ManualLeaseClock()
        store = try openStore(path: directory.databasePath, clock: restarted)
        defer { store.close() }
        #expect((try await store.leaseIDs()) == [11, 12])
        let status = try await store.leaseTimeToLive(id: 11, keys: true)
        #expect(status?.remaining == 30, "a restart gives the full TTL again, like etcd")
        #expect(status?.keys == [Array("a".utf8)])
        restarted.advance(by: .seconds(31))
        #expect(try await store.revokeExpiredLeases() == 1)
        for _ in 0..<500 where (try await store.leaseIDs()) != [12] { try await Task.sleep(for: .milliseconds(10)) }
        #expect((try await store.leaseIDs()) == [12])
        #expect(try await store.range(RangeRequest(range: .single(Array("a".utf8)))).count == 0)
    }

    @Test("a version-1 database is migrated in place and keeps its data")
    func migratesFromVersion1() async throws {
        let directory = try TemporaryDirectory()
        var store = try openStore(path: directory.databasePath)
        _ = try await store.put(PutRequest(key: Array("old".utf8), value: Array("data".utf8)))
        store.close()
        // Turn the file back into what Kelson with schema version 1 wrote.
        var handle: OpaquePointer?
        sqlite3_open_v2(directory.databasePath, &handle, SQLITE_OPEN_READWRITE, nil)
        let downgrade = """
            DROP INDEX kv_live_by_lease; DROP TABLE lease; DROP TABLE kelson_metadata;
            ALTER TABLE kelson_state DROP COLUMN log_sequence;
            CREATE TABLE kv_live_v1 (key BLOB PRIMARY KEY, create_revision INTEGER NOT NULL,
              mod_revision INTEGER NOT NULL, version INTEGER NOT NULL, lease INTEGER NOT NULL, value BLOB NOT NULL)
              WITHOUT ROWID;
            INSERT INTO kv_live_v1 SELECT k.key, k.create_revision, k.mod_revision, k.version, k.lease, l.value
              FROM kv_live k JOIN kv_log l ON l.id = k.log_id;
            DROP TABLE kv_live; ALTER TABLE kv_live_v1 RENAME TO kv_live;
            PRAGMA user_version = 1;
            """
        #expect(sqlite3_exec(handle, downgrade, nil, nil, nil) == SQLITE_OK)
        sqlite3_close_v2(handle)

        store = try openStore(path: directory.databasePath)
        defer { store.close() }
        #expect(
            try await store.range(RangeRequest(range: .single(Array("old".utf8)))).keyValues.first?.value
                == Array("data".utf8))
        _ = try await store.grantLease(id: 1, ttl: 10)
        _ = try await store.put(PutRequest(key: Array("new".utf8), value: [], lease: 1))
        #expect(try await store.leaseTimeToLive(id: 1, keys: true)?.keys == [Array("new".utf8)])
    }

    @Test("HashKV is equal across backends and restarts for equal histories")
    func hashAcrossBackends() async throws {
        let directory = try TemporaryDirectory()
        let sqlite = try openStore(path: directory.databasePath)
        let memory = try Store(
            backend: MemoryBackend(), configuration: RevisionLogConformance.configuration(), logger: conformanceLogger()
        )
        defer { memory.close() }
        try await writeHistory(sqlite)
        try await writeHistory(memory)
        let revisions: [Int64] = [0, 151, 170, memory.revision]
        var memoryHashes: [KVHash] = []
        var sqliteHashes: [KVHash] = []
        for revision in revisions {
            memoryHashes.append(try await memory.hashKV(revision: revision))
            sqliteHashes.append(try await sqlite.hashKV(revision: revision))
        }
        #expect(sqliteHashes == memoryHashes)
        // Physical compaction and a restart change nothing.
        _ = try await sqlite.compact(revision: 160, physical: true)
        _ = try await memory.compact(revision: 160, physical: true)
        let afterCompaction = try await memory.hashKV(revision: 0)
        #expect(try await sqlite.hashKV(revision: 0) == afterCompaction)
        sqlite.close()
        let reopened = try openStore(path: directory.databasePath)
        defer { reopened.close() }
        #expect(try await reopened.hashKV(revision: 0) == afterCompaction)
        let memoryAt170 = try await memory.hashKV(revision: 170)
        #expect(try await reopened.hashKV(revision: 170) == memoryAt170)
    }

    @Test("defragment gives freed pages back to the file system")
    func defragmentShrinksTheFile() async throws {
        let directory = try TemporaryDirectory()
        let store = try openStore(path: directory.databasePath)
        defer { store.close() }
        let value = [UInt8](repeating: 0x61, count: 4_000)
        for index in 0..<2_000 { _ = try await store.put(PutRequest(key: Array("big/\(index)".utf8), value: value)) }
        _ = try await store.delete(DeleteRequest(range: .fromKey(Array("big/".utf8))))
        _ = try await store.compact(revision: store.revision, physical: true)
        let before = try await store.storageSize()
        let hash = try await store.hashKV(revision: 0)
        try await store.defragment()
        let after = try await store.storageSize()
        #expect(after.totalBytes * 4 < before.totalBytes, "before \(before), after \(after)")
        #expect(after.totalBytes == after.inUseBytes, "no free pages left: \(after)")
        #expect(try await store.hashKV(revision: 0) == hash)
        _ = try await store.put(PutRequest(key: Array("still".utf8), value: Array("writable".utf8)))
    }

    @Test("a snapshot is a consistent, self-contained copy that opens as a store")
    func snapshotOpensAsAStore() async throws {
        let directory = try TemporaryDirectory()
        let store = try openStore(path: directory.databasePath)
        try await writeHistory(store)
        _ = try await store.grantLease(id: 5, ttl: 50)
        _ = try await store.updateMetadata("note") { $0 = Array("kept".utf8) }
        let snapshotPath = directory.path + "/copy.db"
        // Writers keep going while the snapshot is taken.
        let writer = Task {
            for index in 0..<200 { _ = try await store.put(PutRequest(key: Array("busy/\(index)".utf8), value: [])) }
        }
        try await store.snapshot(to: snapshotPath)
        try await writer.value
        await #expect(throws: StoreError.self) { try await store.snapshot(to: snapshotPath) }
        store.close()

        let copy = try openStore(path: snapshotPath)
        defer { copy.close() }
        let revision = copy.revision
        let original = try openStore(path: directory.databasePath)
        defer { original.close() }
        let originalHash = try await original.hashKV(revision: revision)
        #expect(try await copy.hashKV(revision: revision) == originalHash)
        #expect((try await copy.leaseIDs()) == [5])
        #expect(try await copy.metadata("note") == Array("kept".utf8))
        #expect(
            try await copy.range(RangeRequest(range: .interval(start: Array("busy/".utf8), end: Array("busy0".utf8))))
                .count
                == revision - (original.revision - 200))
    }
}
