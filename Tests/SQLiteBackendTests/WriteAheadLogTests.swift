import Foundation
import Glibc
import RevisionLog
import RevisionLogTesting
import Synchronization
import Testing

@testable import SQLiteBackend

/// Counts what reaches the disk: the highest revision each log write carried, and for each completed fdatasync the
/// highest revision among the writes that returned before it began. A put may be answered only once a completed sync
/// covered it.
final class SyncCountingIO: LogFileIO {
    private struct State {
        var written: [String: Int64] = [:]
        var synced: Int64 = 0
        var syncs = 0
    }
    private let state = Mutex(State())
    private let system = SystemLogIO()

    func write(_ descriptor: Int32, path: String, bytes: UnsafeRawBufferPointer, at offset: Int64) throws(StoreError) {
        try system.write(descriptor, path: path, bytes: bytes, at: offset)
        // A record's revision: the largest revision any of its changes (or its setRevision) carries.
        guard path.hasSuffix(".seg"), case .valid(_, let operations, _) = LogReader.record(in: Array(bytes), at: 0)
        else { return }
        let revision = operations.reduce(Int64(0)) { highest, operation in
            switch operation {
            case .setRevision(let revision): max(highest, revision)
            case .append(let change): max(highest, change.revision)
            default: highest
            }
        }
        state.withLock { $0.written[path] = max($0.written[path] ?? 0, revision) }
    }

    func sync(_ descriptor: Int32, path: String) throws(StoreError) {
        let covered = state.withLock { $0.written[path] ?? 0 }
        try system.sync(descriptor, path: path)
        state.withLock { state in
            state.synced = max(state.synced, covered)
            state.syncs += 1
        }
    }

    var syncedRevision: Int64 { state.withLock { $0.synced } }
    var syncs: Int { state.withLock { $0.syncs } }
}

/// Lines collected from several threads.
final class Lines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

@Suite("Kelson's write-ahead log")
struct WriteAheadLogTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// `holdBatches`: SQLite commits nothing until a read needs it, so a crash leaves every write in the log only.
    private func open(
        _ directory: TemporaryDirectory, io: any LogFileIO = SystemLogIO(), holdBatches: Bool = false
    ) throws -> (Store, SQLiteBackend) {
        var configuration = SQLiteConfiguration(path: directory.databasePath)
        configuration.logIO = io
        if holdBatches { configuration.batchMaximumDuration = .seconds(3_600) }
        configuration.logger = conformanceLogger()
        let backend = try SQLiteBackend(configuration: configuration)
        return (try Store(backend: backend, logger: conformanceLogger()), backend)
    }

    private func value(_ store: Store, _ key: String) async throws -> String? {
        try await store.range(RangeRequest(range: .single(bytes(key)))).keyValues.first.map {
            String(decoding: $0.value, as: UTF8.self)
        }
    }

    @Test("every acknowledged put was covered by a completed fdatasync of the log before its answer")
    func acknowledgedMeansSynced() async throws {
        let directory = try TemporaryDirectory()
        let io = SyncCountingIO()
        let (store, _) = try open(directory, io: io)
        defer { store.close() }
        let uncovered = Lines()
        let puts = 64 * 20
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<64 {
                group.addTask {
                    for index in 0..<20 {
                        let answered: Result<PutResult, StoreError> = await withCheckedContinuation { continuation in
                            store.put(PutRequest(key: Array("k\(client)-\(index)".utf8), value: [1])) { result in
                                // Checked in the completion itself: the moment the client is answered.
                                if case .success(let put) = result, put.revision > io.syncedRevision {
                                    uncovered.append("revision \(put.revision) answered, synced \(io.syncedRevision)")
                                }
                                continuation.resume(returning: result)
                            }
                        }
                        if case .failure(let error) = answered { Issue.record("put failed: \(error)") }
                    }
                }
            }
        }
        #expect(uncovered.all.isEmpty, "\(uncovered.all.prefix(5))")
        // Group commit: fewer syncs than puts, but at least one.
        #expect(io.syncs > 0 && io.syncs < puts, "\(io.syncs) syncs for \(puts) puts")
        #expect(io.syncedRevision == Int64(puts) + 1)
    }

    @Test("a clean close folds the log into the database and removes it; the file alone is the store")
    func cleanCloseLeavesOneFile() async throws {
        let directory = try TemporaryDirectory()
        var (store, _) = try open(directory)
        for index in 0..<100 { _ = try await store.put(PutRequest(key: bytes("k\(index)"), value: bytes("v\(index)"))) }
        store.close()
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names == ["kelson.db"], "\(names)")
        (store, _) = try open(directory)
        defer { store.close() }
        #expect(try await value(store, "k99") == "v99")
        #expect(try await store.revisions().revision == 101)
    }

    @Test("after a crash the log's records SQLite had not taken in are replayed, once")
    func crashReplaysTheTail() async throws {
        let directory = try TemporaryDirectory()
        var (store, backend) = try open(directory, holdBatches: true)
        for index in 0..<300 {
            _ = try await store.put(PutRequest(key: bytes("k\(index % 50)"), value: bytes("v\(index)")))
        }
        let lease = try await store.grantLease(id: 7, ttl: 60)
        var leased = PutRequest(key: bytes("leased"), value: bytes("x"))
        leased.lease = lease.lease.id
        _ = try await store.put(leased)
        _ = try await store.compact(revision: 200)
        backend.abandon()
        store.close()
        #expect(FileManager.default.fileExists(atPath: directory.databasePath + "-log"), "the crash left the log")
        (store, backend) = try open(directory)
        defer { store.close() }
        #expect(try await store.revisions().revision == 302)
        #expect(try await value(store, "k49") == "v299")
        #expect(try await store.leaseTimeToLive(id: 7, keys: true)?.keys == [bytes("leased")])
        var old = RangeRequest(range: .single(bytes("k0")))
        old.revision = 150
        await #expect(throws: StoreError.compacted) { try await store.range(old) }
        // Every revision once in the log: 2 … 302, none twice.
        let revisions = try await store.changes(from: 201, through: 302, limit: 10_000).map(\.revision)
        #expect(revisions == Array(201...302))
    }

    @Test("a torn record at the end of the log is cut off; the writes before it are all there")
    func tornTailIsCut() async throws {
        let directory = try TemporaryDirectory()
        var (store, backend) = try open(directory, holdBatches: true)
        for index in 0..<20 { _ = try await store.put(PutRequest(key: bytes("k\(index)"), value: bytes("v\(index)"))) }
        let segment = try #require(
            LogReader(directory: backend.log!.directory, logger: conformanceLogger()).segments().last)
        let end = try Self.endOfRecords(segment.path)
        backend.abandon()
        store.close()
        // The last record torn: its second half never reached the disk.
        try Self.overwrite(
            segment.path, at: end.lastStart + (end.end - end.lastStart) / 2, with: [UInt8](repeating: 0, count: 64))
        (store, backend) = try open(directory)
        defer { store.close() }
        // The last put (revision 21) is gone with its torn record, the 19 before it are there.
        #expect(try await store.revisions().revision == 20)
        #expect(try await value(store, "k18") == "v18")
        #expect(try await value(store, "k19") == nil)
    }

    @Test("a power cut just after the log moved on: the old segment's torn tail is cut, the empty new one ignored")
    func tornTailBeforeAnEmptySegment() async throws {
        let directory = try TemporaryDirectory()
        var configuration = SQLiteConfiguration(path: directory.databasePath)
        configuration.logSegmentSize = 64 << 10
        configuration.batchMaximumDuration = .seconds(3_600)
        configuration.batchMaximumOperations = 1_000_000
        configuration.logger = conformanceLogger()
        var backend = try SQLiteBackend(configuration: configuration)
        var store = try Store(backend: backend, logger: conformanceLogger())
        var index = 0
        while LogReader(directory: backend.log!.directory, logger: conformanceLogger()).segments().count < 3 {
            _ = try await store.put(PutRequest(key: bytes("k\(index)"), value: [UInt8](repeating: 1, count: 500)))
            index += 1
        }
        let segments = LogReader(directory: backend.log!.directory, logger: conformanceLogger()).segments()
        backend.abandon()
        store.close()
        // What a power cut can leave: the new segment never got its header or records to the disk, and the previous
        // one's last record is torn.
        let last = segments[segments.count - 1].path
        try Self.overwrite(last, at: 0, with: [UInt8](repeating: 0, count: Int(fileSize(last))))
        let previous = segments[segments.count - 2].path
        let end = try Self.endOfRecords(previous)
        try Self.overwrite(previous, at: end.lastStart + 20, with: [UInt8](repeating: 0xEE, count: 8))
        var lost = 0
        let torn = try LogReader.record(
            in: [UInt8](try Data(contentsOf: URL(fileURLWithPath: last))), at: WriteAheadLog.segmentHeaderSize)
        if case .end = torn { lost = 1 }
        #expect(lost == 1, "the new segment reads as empty")
        backend = try SQLiteBackend(configuration: configuration)
        store = try Store(backend: backend, logger: conformanceLogger())
        defer { store.close() }
        // Every put before the torn record is there; the torn one and the new segment's are gone.
        let revision = try await store.revisions().revision
        #expect(revision > 2 && revision < Int64(index) + 1, "revision \(revision) after \(index) puts")
        #expect(try await value(store, "k0") != nil)
    }

    @Test("a corrupt record before the tail stops start-up with the file and offset")
    func corruptionBeforeTheTailRefusesToStart() async throws {
        let directory = try TemporaryDirectory()
        let (store, backend) = try open(directory, holdBatches: true)
        for index in 0..<20 { _ = try await store.put(PutRequest(key: bytes("k\(index)"), value: bytes("v\(index)"))) }
        let segment = try #require(
            LogReader(directory: backend.log!.directory, logger: conformanceLogger()).segments().last)
        let firstRecord = WriteAheadLog.segmentHeaderSize
        backend.abandon()
        store.close()
        // A flipped byte in the payload of the first record: 19 good records follow it.
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: segment.path))
        try file.seek(toOffset: UInt64(firstRecord + WriteAheadLog.recordHeaderSize + 3))
        let byte = try #require(try file.read(upToCount: 1)).first!
        try file.close()
        try Self.overwrite(segment.path, at: firstRecord + WriteAheadLog.recordHeaderSize + 3, with: [byte ^ 0xFF])
        do {
            let (reopened, _) = try open(directory)
            reopened.close()
            Issue.record("a store with a corrupt log record before its tail opened")
        } catch {
            let text = "\(error)"
            #expect(text.contains(segment.path) && text.contains("offset \(firstRecord)"), "\(text)")
        }
    }

    @Test("segments SQLite holds durably are deleted; the log stays bounded under writes")
    func segmentsAreTrimmed() async throws {
        let directory = try TemporaryDirectory()
        var configuration = SQLiteConfiguration(path: directory.databasePath)
        configuration.logSegmentSize = 64 << 10
        configuration.logger = conformanceLogger()
        let backend = try SQLiteBackend(configuration: configuration)
        let store = try Store(backend: backend, logger: conformanceLogger())
        defer { store.close() }
        let value = [UInt8](repeating: 7, count: 1_000)
        for index in 0..<2_000 { _ = try await store.put(PutRequest(key: bytes("k\(index % 100)"), value: value)) }
        // 2 MB of records went through 64 KiB segments; trimming runs beside the writes, so allow it a moment.
        var segments = Int.max
        for _ in 0..<100 {
            segments = LogReader(directory: backend.log!.directory, logger: conformanceLogger()).segments().count
            if segments <= 3 { break }
            _ = try await store.put(PutRequest(key: bytes("tick"), value: value))
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(segments <= 3, "\(segments) segments left")
    }

    /// Where the records of a segment end, and where the last one starts.
    static func endOfRecords(_ path: String) throws -> (lastStart: Int, end: Int) {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var offset = WriteAheadLog.segmentHeaderSize
        var last = offset
        while case .valid(_, _, let next) = LogReader.record(in: bytes, at: offset) {
            last = offset
            offset = next
        }
        return (last, offset)
    }

    static func overwrite(_ path: String, at offset: Int, with bytes: [UInt8]) throws {
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? file.close() }
        try file.seek(toOffset: UInt64(offset))
        try file.write(contentsOf: Data(bytes))
    }
}
