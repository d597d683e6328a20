import Foundation
import RevisionLog
import RevisionLogTesting
import Synchronization
import Testing

/// A database several processes share (a `SharedLogBackend` that defers durability, as PostgreSQL) which can crash:
/// its commits are visible at once and durable only once a sync returns, and a crash (`crashOnNextSync`) fails that
/// sync and drops every transaction no sync covered, so the next commit gets the same revision again. Syncs wait for
/// the test (`release`); so do reads on a thread marked `heldReader` (`releaseHeldRead`), after their snapshot.
final class ForgetfulSharedBackend: WrappedMemoryBackend, SharedLogBackend, @unchecked Sendable {
    static let heldReader = "kelson-test-held-reader"
    typealias Operation = (any BackendWriter) throws -> Void

    // Guarded by `lock`.
    private let lock = NSLock()
    private var database = MemoryBackend()
    /// Transactions a sync covered, and those committed since, as the writes that replay them.
    private var durable: [[Operation]] = []
    private var unsynced: [[Operation]] = []

    private let syncGate = DispatchSemaphore(value: 0)
    private let readGate = DispatchSemaphore(value: 0)
    private let crashes = Atomic<Bool>(false)
    let committedWrites = Atomic<Int>(0)
    let heldReads = Atomic<Int>(0)

    var inner: MemoryBackend { lock.withLock { database } }
    var defersDurability: Bool { true }

    /// Lets `count` syncs through.
    func release(_ count: Int = 1) { for _ in 0..<count { syncGate.signal() } }
    /// The next sync fails, and what no sync covered is gone.
    func crashOnNextSync() { crashes.store(true, ordering: .relaxed) }
    func releaseHeldRead() { readGate.signal() }

    func sync() throws {
        let covered = lock.withLock { unsynced.count }
        syncGate.wait()
        try lock.withLock {
            guard !crashes.exchange(false, ordering: .relaxed) else {
                let restarted = MemoryBackend()
                for transaction in durable {
                    try restarted.write { writer in for operation in transaction { try operation(writer) } }
                }
                database = restarted
                unsynced = []
                throw StoreError(.unavailable, "injected: the database crashed before flushing")
            }
            durable += unsynced.prefix(covered)
            unsynced.removeFirst(covered)
        }
    }

    func read<Result>(_ body: (any BackendReader) throws -> Result) throws -> Result {
        let result = try inner.read(body)
        if Thread.current.threadDictionary[Self.heldReader] != nil {
            heldReads.add(1, ordering: .relaxed)
            readGate.wait()
        }
        return result
    }

    func write<Result>(_ body: (any BackendWriter) throws -> Result) throws -> Result {
        try lock.withLock {
            let recorder = RecordingWriter()
            let result = try database.write { writer in
                recorder.inner = writer
                return try body(recorder)
            }
            unsynced.append(recorder.operations)
            committedWrites.add(1, ordering: .relaxed)
            return result
        }
    }

    // One process: it always holds the maintenance role; no leases are used here.
    func watchExternalChanges(commits: @escaping @Sendable () -> Void, metadata: @escaping @Sendable () -> Void) {}
    func holdsMaintenanceRole() -> Bool { true }
    func useLeaseClock(_ clock: any LeaseClock) {}
    func renewLease(_ id: Int64) throws -> Int64? { nil }
    func leaseRemaining(_ id: Int64) throws -> (remaining: Duration, ttl: Int64)? { nil }
    func expiredLeases(limit: Int) throws -> [Int64] { [] }
    func leaseIDs() throws -> [Int64] { try read { try $0.leases().map(\.id) } }
    func restartLeaseClocks() throws {}
}

/// Passes a write transaction through and records its changes, so they can be replayed after a crash.
private final class RecordingWriter: BackendWriter {
    var inner: (any BackendWriter)!
    var operations: [ForgetfulSharedBackend.Operation] = []

    var revision: Int64 { inner.revision }
    var compactRevision: Int64 { inner.compactRevision }
    var compactedThrough: Int64 { inner.compactedThrough }
    func get(_ key: [UInt8], at revision: Int64) throws -> KeyValue? { try inner.get(key, at: revision) }
    func range(_ range: KeyRange, at revision: Int64, limit: Int) throws -> [KeyValue] {
        try inner.range(range, at: revision, limit: limit)
    }
    func count(_ range: KeyRange, at revision: Int64) throws -> Int64 { try inner.count(range, at: revision) }
    func changes(from: Int64, through: Int64, limit: Int) throws -> [Change] {
        try inner.changes(from: from, through: through, limit: limit)
    }
    func leases() throws -> [LeaseRecord] { try inner.leases() }
    func lease(_ id: Int64) throws -> LeaseRecord? { try inner.lease(id) }
    func keys(attachedTo lease: Int64, limit: Int) throws -> [[UInt8]] {
        try inner.keys(attachedTo: lease, limit: limit)
    }
    func metadata(_ name: String) throws -> [UInt8]? { try inner.metadata(name) }

    private func record(_ operation: @escaping ForgetfulSharedBackend.Operation) throws {
        try operation(inner)
        operations.append(operation)
    }
    func append(_ change: Change) throws { try record { try $0.append(change) } }
    func setRevision(_ revision: Int64) throws { try record { try $0.setRevision(revision) } }
    func setCompactRevision(_ revision: Int64) throws { try record { try $0.setCompactRevision(revision) } }
    func setCompactedThrough(_ revision: Int64) throws { try record { try $0.setCompactedThrough(revision) } }
    func putLease(_ lease: LeaseRecord) throws { try record { try $0.putLease(lease) } }
    func deleteLease(_ id: Int64) throws { try record { try $0.deleteLease(id) } }
    func setMetadata(_ name: String, _ value: [UInt8]?) throws { try record { try $0.setMetadata(name, value) } }
}

/// On a shared backend a failed sync is not final (`Syncer`): the store goes on, and the database may have lost the
/// revisions it did not flush and give their numbers to the next commits. A read whose snapshot saw such a revision
/// must fail, not answer with the lost value once the number is durable again.
@Suite("Reads of a revision a failed sync lost")
struct LostRevisionTests {
    private func key(_ text: String) -> [UInt8] { Array(text.utf8) }
    private var getK: RangeRequest { RangeRequest(range: KeyRange(key: key("k"), rangeEnd: [])) }

    /// Waits (polling) until `condition` holds, for at most 10 s.
    private func wait(until condition: () -> Bool) async {
        let deadline = Date().addingTimeInterval(10)
        while !condition(), Date() < deadline { try? await Task.sleep(for: .milliseconds(1)) }
    }

    /// Commits `k = lost` (revision 2, not synced), runs `read` (which must take its snapshot then), crashes the
    /// database at the sync, then commits `k = new`, which becomes revision 2 and is synced and published.
    private func loseRevisionTwo(
        _ backend: ForgetfulSharedBackend, _ store: Store, read: () async -> Void
    ) async throws {
        let lost = Outcomes<Result<PutResult, StoreError>>()
        store.put(PutRequest(key: key("k"), value: key("lost"))) { lost.record($0) }
        await wait { backend.committedWrites.load(ordering: .relaxed) == 1 }
        try #require(backend.committedWrites.load(ordering: .relaxed) == 1, "the put reached the backend")
        await read()

        backend.crashOnNextSync()
        backend.release()
        let failed = await lost.wait(for: 1)
        #expect(failed.count == 1 && (try? failed[0].get()) == nil, "the lost write was acknowledged: \(failed)")

        let new = Outcomes<Result<PutResult, StoreError>>()
        store.put(PutRequest(key: key("k"), value: key("new"))) { new.record($0) }
        backend.release()
        let acknowledged = await new.wait(for: 1)
        try #require(
            acknowledged.count == 1 && (try? acknowledged[0].get().revision) == 2,
            "the database gave the lost revision to the next write: \(acknowledged)")
        #expect(store.revision == 2)
    }

    @Test("a read waiting for a revision fails when a failed sync lost it")
    func waitingReadFails() async throws {
        let backend = ForgetfulSharedBackend()
        let store = try Store(
            backend: backend, configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        defer {
            backend.release(100)
            store.close()
        }
        let reads = Outcomes<Result<RangeResult, StoreError>>()
        try await loseRevisionTwo(backend, store) {
            // A one-key read runs on this thread: when `range` returns, it has its snapshot and waits.
            store.range(getK) { reads.record($0) }
            #expect(reads.all.isEmpty, "answered a read of an unsynced write")
        }
        // Publishing the new revision 2 released every read still waiting for revision 2.
        let answered = reads.all
        #expect(answered.count == 1, "\(answered)")
        switch answered.first {
        case .success(let result)?: Issue.record("a read answered with a lost write: \(result.keyValues)")
        case .failure(let error)?: #expect(error.code == .unavailable, "\(error)")
        case nil: break
        }
    }

    @Test("a read under way when a sync fails does not answer with a revision the failure may have lost")
    func readUnderWayFails() async throws {
        let backend = ForgetfulSharedBackend()
        let store = try Store(
            backend: backend, configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        defer {
            backend.release(100)
            backend.releaseHeldRead()
            store.close()
        }
        let reads = Outcomes<Result<RangeResult, StoreError>>()
        try await loseRevisionTwo(backend, store) {
            // The read takes its snapshot (revision 2) and stops before it asks what is durable.
            let reader = Thread {
                Thread.current.threadDictionary[ForgetfulSharedBackend.heldReader] = true
                store.range(getK) { reads.record($0) }
            }
            reader.start()
            await wait { backend.heldReads.load(ordering: .relaxed) == 1 }
            #expect(backend.heldReads.load(ordering: .relaxed) == 1, "the read took its snapshot")
        }
        // Revision 2 is durable now, but it is not what the read saw.
        backend.releaseHeldRead()
        let answered = await reads.wait(for: 1)
        #expect(answered.count == 1, "\(answered)")
        switch answered.first {
        case .success(let result)?: Issue.record("a read answered with a lost write: \(result.keyValues)")
        case .failure(let error)?: #expect(error.code == .unavailable, "\(error)")
        case nil: break
        }
    }
}
