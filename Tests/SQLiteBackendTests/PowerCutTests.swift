import CSQLite
import Foundation
import Glibc
import RevisionLog
import Synchronization
import Testing

@testable import SQLiteBackend

@Suite("Simulated power cut")
struct PowerCutTests {
    @Test("writes and truncates after the last sync are undone; the synced content comes back exactly")
    func unsyncedWritesAreUndone() throws {
        let directory = try TemporaryDirectory()
        let file = try JournalledFile(directory.path + "/data")
        let synced = pattern(3_000, seed: 1)
        try file.write(synced, at: 0)
        try file.sync()
        try file.write(pattern(1_500, seed: 2), at: 1_000)  // over part of the synced bytes
        try file.write(pattern(700, seed: 3), at: 3_000)  // appended
        try file.truncate(2_000)
        try file.write(pattern(100, seed: 4), at: 5_000)  // past the end: a hole
        file.close()

        let lines = try SimulatedPowerCut.cut(directory: directory.path, tear: false, seed: 0)
        #expect(try contents(directory.path + "/data") == synced)
        #expect(lines == ["data: undid 3 writes and 1 truncates not synced (2300 bytes written), size 5100 → 3000"])
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/data.unsynced"))
        // Nothing is left to undo: a second cut changes nothing.
        #expect(try SimulatedPowerCut.cut(directory: directory.path, tear: false, seed: 0) == [])
        #expect(try contents(directory.path + "/data") == synced)
    }

    @Test("a write recorded after a sync started is not covered by it; one recorded before is")
    func writeDuringSyncStaysUnsynced() throws {
        let directory = try TemporaryDirectory()
        let file = try JournalledFile(directory.path + "/data")
        var expected = pattern(3_000, seed: 1)
        try file.write(expected, at: 0)
        try file.sync()
        let before = pattern(50, seed: 2)
        try file.write(before, at: 100)
        expected.replaceSubrange(100..<150, with: before)
        let mark = SimulatedPowerCut.syncStarting(path: file.path)
        try file.write(pattern(50, seed: 3), at: 200)  // another thread's write while fdatasync runs
        #expect(fdatasync(file.descriptor) == 0)
        SimulatedPowerCut.didSync(path: file.path, mark)
        file.close()

        _ = try SimulatedPowerCut.cut(directory: directory.path, tear: false, seed: 0)
        #expect(try contents(file.path) == expected)
    }

    /// Two syncs start together; the second to finish empties the journal. A write after that, of the same size as
    /// the one before (the journal ends at the same offset), must not count as covered by the first sync's mark.
    @Test("a mark taken before the journal was emptied covers nothing written since")
    func staleMarkCoversNothing() throws {
        let directory = try TemporaryDirectory()
        let file = try JournalledFile(directory.path + "/data")
        let synced = pattern(512, seed: 1)
        try file.write(synced, at: 0)
        let first = SimulatedPowerCut.syncStarting(path: file.path)
        let second = SimulatedPowerCut.syncStarting(path: file.path)
        #expect(fsync(file.descriptor) == 0)
        SimulatedPowerCut.didSync(path: file.path, second)
        try file.write(pattern(512, seed: 2), at: 0)
        SimulatedPowerCut.didSync(path: file.path, first)
        file.close()

        _ = try SimulatedPowerCut.cut(directory: directory.path, tear: false, seed: 0)
        #expect(try contents(file.path) == synced)
    }

    /// A process killed inside the journal's write(2) leaves a short last entry; the next process (started without
    /// a cut) continues the journal after the last whole entry, and its unsynced entries stay unsynced.
    @Test("a journal left by a killed process is continued: its short last entry is dropped, its entries kept")
    func journalOfAKilledProcessIsContinued() throws {
        let directory = try TemporaryDirectory()
        let synced = pattern(2_000, seed: 1)
        let first = try JournalledFile(directory.path + "/data")
        try first.write(synced, at: 0)
        try first.sync()
        try first.write(pattern(500, seed: 2), at: 1_000)
        first.close()
        PowerCutJournals.closeAll(inDirectory: directory.path)  // the process ends
        // A write entry saying 1000 saved bytes follow, of which 10 were written.
        let journal = try FileHandle(forWritingTo: URL(fileURLWithPath: directory.path + "/data.unsynced"))
        try journal.seekToEnd()
        let fields: [UInt64] = [1, 0, 1_000, 2_000, 1_000]
        try journal.write(
            contentsOf: fields.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) } + pattern(10, seed: 9))
        try journal.close()

        let second = try JournalledFile(directory.path + "/data")
        try second.write(pattern(300, seed: 3), at: 1_900)
        second.close()
        let lines = try SimulatedPowerCut.cut(directory: directory.path, tear: false, seed: 0)
        #expect(try contents(second.path) == synced)
        #expect(lines == ["data: undid 2 writes and 0 truncates not synced (800 bytes written), size 2200 → 2000"])
    }

    @Test("an appender and a syncer on two threads: the cut keeps what a finished sync covered, and no more")
    func concurrentAppendAndSync() throws {
        let directory = try TemporaryDirectory()
        let file = try JournalledFile(directory.path + "/log")
        let recordBytes = 100
        let records = 2_000
        let appended = Atomic<Int>(0)
        let syncedAtLeast = Atomic<Int>(0)  // the size before the last finished sync's mark
        let done = DispatchGroup()
        let failures = Mutex<[String]>([])
        runThread(done) {
            for index in 0..<records {
                do {
                    try file.write(pattern(recordBytes, seed: UInt8(index % 251)), at: Int64(index * recordBytes))
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
                appended.store(index + 1, ordering: .releasing)
            }
        }
        runThread(done) {
            // Stops 100 records before the end, so the last records are never synced.
            while appended.load(ordering: .acquiring) < records - 100 {
                let size = appended.load(ordering: .acquiring) * recordBytes
                let mark = SimulatedPowerCut.syncStarting(path: file.path)
                guard fdatasync(file.descriptor) == 0 else { return failures.withLock { $0.append("fdatasync") } }
                SimulatedPowerCut.didSync(path: file.path, mark)
                syncedAtLeast.store(size, ordering: .relaxed)
            }
        }
        done.wait()
        file.close()
        #expect(failures.withLock { $0 } == [])

        _ = try SimulatedPowerCut.cut(directory: directory.path, tear: false, seed: 0)
        let survivor = try contents(file.path)
        let written = (0..<records).flatMap { pattern(recordBytes, seed: UInt8($0 % 251)) }
        #expect(survivor.count >= syncedAtLeast.load(ordering: .relaxed))
        #expect(survivor.count < records * recordBytes)
        #expect(survivor.count % recordBytes == 0)
        #expect(survivor == Array(written.prefix(survivor.count)))
    }

    @Test("a torn write keeps its new data up to a 512-byte boundary of the file; older unsynced writes are undone")
    func tornWriteKeepsWholeSectors() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/data"
        let synced = pattern(4_096, seed: 1)
        var kept = Set<String>()
        // An aligned write inside the file, and an unaligned one that grows it.
        for (offset, newest) in [(512, pattern(2_048, seed: 2)), (3_900, pattern(1_000, seed: 3))] {
            let end = offset + newest.count
            let ends = [offset] + Array(stride(from: (offset / 512 + 1) * 512, to: end, by: 512)) + [end]
            for seed in UInt64(0)..<24 {
                let file = try JournalledFile(path)
                try file.write(synced, at: 0)
                try file.sync()
                try file.write(pattern(300, seed: 4), at: 3_000)  // older, unsynced: always undone
                try file.write(newest, at: Int64(offset))
                file.close()

                _ = try SimulatedPowerCut.cut(directory: directory.path, tear: true, seed: seed)
                let torn = try contents(path)
                let match = ends.first { applying(Array(newest.prefix($0 - offset)), at: offset, to: synced) == torn }
                #expect(match != nil, "seed \(seed), offset \(offset): not the synced bytes with a prefix applied")
                if let match { kept.insert("\(offset)+\(match - offset)") }
                try FileManager.default.removeItem(atPath: path)
            }
        }
        // 5 possible lengths for the aligned write, 4 for the other (0, to 4096, to 4608, all): most are seen.
        #expect(kept.count >= 7, "torn lengths seen: \(kept.sorted())")
    }

    @Test(
        "SQLite through the VFS: commits under synchronous=OFF are lost, under FULL all survive; the database is sound",
        arguments: [("OFF", false), ("FULL", false), ("FULL", true)])
    func sqliteThroughTheVFS(synchronous: String, tear: Bool) throws {
        SimulatedPowerCut.registerVFS()
        let directory = try TemporaryDirectory()
        let path = directory.databasePath
        let writer = try SQLiteConnection(path: path, readOnly: false, vfs: SimulatedPowerCut.vfsName)
        try writer.execute(
            """
            PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 100;
            CREATE TABLE t (id INTEGER PRIMARY KEY, value BLOB); PRAGMA wal_checkpoint(TRUNCATE);
            PRAGMA synchronous = \(synchronous)
            """)
        let transactions = 40
        for transaction in 0..<transactions {  // ~1.2 MB: several automatic checkpoints and WAL restarts
            try writer.execute(
                "BEGIN; "
                    + (0..<10).map { "INSERT INTO t VALUES (\(transaction * 10 + $0), randomblob(3000));" }
                    .joined() + " COMMIT")
        }
        // A last commit that is never synced: with `tear`, its newest write is the one torn.
        try writer.execute("PRAGMA synchronous = OFF; INSERT INTO t VALUES (-1, randomblob(5000))")
        try closeLikeAKill(writer, path: path)
        #expect(FileManager.default.fileExists(atPath: path + "-wal"), "the WAL must be left as a kill leaves it")

        let lines = try SimulatedPowerCut.cut(directory: directory.path, tear: tear, seed: 7)
        #expect(lines.count == 2, "\(lines)")
        #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
        let reopened = try SQLiteConnection(path: path, readOnly: false)
        #expect(try reopened.text("PRAGMA integrity_check") == "ok", "\(lines)")
        let rows = try reopened.integer("SELECT count(*) FROM t") ?? -1
        #expect(rows == (synchronous == "FULL" ? Int64(transactions * 10) : 0), "\(lines)")
        #expect(try reopened.integer("SELECT count(*) FROM t WHERE id = -1") == 0)
        reopened.close()
    }

    /// Closes `writer` without the checkpoint and WAL deletion of a last close, which a killed process never does:
    /// a read-only connection that has read holds the database open, so the writer is not the last; closing last,
    /// it cannot checkpoint either.
    private func closeLikeAKill(_ writer: SQLiteConnection, path: String) throws {
        let reader = try SQLiteConnection(path: path, readOnly: true)
        _ = try reader.integer("SELECT count(*) FROM t")
        writer.close()
        reader.close()
    }
}

extension SQLiteConnection {
    /// The first column of the first row of `sql`, as text.
    fileprivate func text(_ sql: String) throws -> String? {
        let statement = try statement(sql)
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return String(decoding: statement.bytes(0), as: UTF8.self)
    }
}

/// A file written through the journal as the lead's log writer will: record, then the real call.
private final class JournalledFile: Sendable {
    let path: String
    let descriptor: Int32

    init(_ path: String) throws {
        self.path = path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StoreError(.backendFailure, "cannot open \(path)") }
    }

    func write(_ bytes: [UInt8], at offset: Int64) throws {
        try SimulatedPowerCut.willWrite(descriptor: descriptor, path: path, offset: offset, length: bytes.count)
        guard bytes.withUnsafeBytes({ pwrite(descriptor, $0.baseAddress, $0.count, off_t(offset)) }) == bytes.count
        else { throw StoreError(.backendFailure, "pwrite") }
    }

    func truncate(_ size: Int64) throws {
        try SimulatedPowerCut.willTruncate(descriptor: descriptor, path: path, size: size)
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw StoreError(.backendFailure, "ftruncate") }
    }

    func sync() throws {
        let mark = SimulatedPowerCut.syncStarting(path: path)
        guard fsync(descriptor) == 0 else { throw StoreError(.backendFailure, "fsync") }
        SimulatedPowerCut.didSync(path: path, mark)
    }

    func close() { Glibc.close(descriptor) }
}

private func runThread(_ group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
    group.enter()
    Thread {
        body()
        group.leave()
    }.start()
}

/// `base` with `bytes` written at `offset` (growing it as a write past its end would).
private func applying(_ bytes: [UInt8], at offset: Int, to base: [UInt8]) -> [UInt8] {
    var result = base
    if offset + bytes.count > result.count {
        result += [UInt8](repeating: 0, count: offset + bytes.count - result.count)
    }
    result.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
    return result
}

/// Bytes that differ from one seed to the next and along the buffer.
private func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &* 97 &+ 1) }
}

private func contents(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}
