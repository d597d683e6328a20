import Foundation
import RevisionLog
import RevisionLogTesting
import SQLiteBackend
import Synchronization
import Testing

/// A real SQLite file under a disk that fails and stalls on command (`FaultInjectingBackend`): the store reports
/// errors, never acknowledges, publishes or answers what is not known durable, and a restart on the same file
/// finds every acknowledged write.
@Suite("Disk faults under a SQLite store")
struct FaultInjectionTests {
    private func open(_ directory: TemporaryDirectory) throws -> (Store, FaultInjectingBackend) {
        let backend = FaultInjectingBackend(
            wrapping: try SQLiteBackend(configuration: SQLiteConfiguration(path: directory.databasePath)))
        return (try Store(backend: backend, logger: conformanceLogger()), backend)
    }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    private func get(_ store: Store, _ key: String, at revision: Int64 = 0) async throws -> String? {
        var request = RangeRequest(range: .single(bytes(key)))
        request.revision = revision
        return try await store.range(request).keyValues.first.map { String(decoding: $0.value, as: UTF8.self) }
    }

    /// A read through the path clients use (it waits until what it saw is durable); a read still waiting after
    /// 10 s fails as hung.
    private func clientGet(_ store: Store, _ key: String) async -> Result<RangeResult, StoreError> {
        let answer = Answer()
        store.range(RangeRequest(range: .single(bytes(key)))) { answer.set($0) }
        for _ in 0..<1_000 {
            if let result = answer.get() { return result }
            try? await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("a read hung: it was never answered")
        return .failure(StoreError(.stopped, "hung"))
    }

    private func put(_ store: Store, _ key: String, _ value: String) async -> Result<PutResult, StoreError> {
        await withCheckedContinuation { continuation in
            store.put(PutRequest(key: bytes(key), value: bytes(value))) { continuation.resume(returning: $0) }
        }
    }

    /// The revision of every change in the log, in log order. These tests write only single-key puts, so a sound
    /// log reads 2, 3, …, head: one change per revision, none missing, none twice.
    private func logRevisions(_ store: Store) async throws -> [Int64] {
        let head = try await store.revisions().revision
        return try await store.changes(from: 2, through: head, limit: 1_000_000).map(\.revision)
    }

    @Test("a write the disk refuses fails alone; the next ones take the next revisions and watchers see no gap")
    func refusedWrite() async throws {
        let directory = try TemporaryDirectory()
        let (store, backend) = try open(directory)
        let hub = WatchHub(store: store)
        var watch = WatchRequest(range: .fromKey([0]))
        watch.startRevision = 2
        let watcher = try hub.watch(watch)

        #expect(try await store.put(PutRequest(key: bytes("a"), value: bytes("1"))).revision == 2)
        backend.inject(.failBefore, on: .write)
        await #expect(throws: StoreError.self) { try await store.put(PutRequest(key: bytes("b"), value: bytes("x"))) }
        #expect(backend.injected == ["write failBefore": 1])
        #expect(try await store.put(PutRequest(key: bytes("c"), value: bytes("3"))).revision == 3)
        #expect(try await get(store, "b") == nil)

        var seen: [Int64] = []
        while seen.count < 2, let delivery = try await watcher.next() {
            if case .events(_, let events) = delivery { seen += events.map(\.keyValue.modRevision) }
        }
        #expect(seen == [2, 3])
        watcher.cancel()
        store.close()

        let (reopened, _) = try open(directory)
        defer { reopened.close() }
        #expect(try await get(reopened, "a") == "1")
        #expect(try await get(reopened, "b") == nil)
        #expect(try await get(reopened, "c") == "3")
        #expect(try await logRevisions(reopened) == [2, 3])
    }

    @Test("a write whose fsync fails is not acknowledged; the store then refuses writes and reads until restarted")
    func failedFsync() async throws {
        let directory = try TemporaryDirectory()
        let (store, backend) = try open(directory)
        #expect(try await store.put(PutRequest(key: bytes("a"), value: bytes("1"))).revision == 2)

        // The group commits, and while its "fsync" hangs for 300 ms a client reads the key: the read's snapshot
        // already holds the write, so it must wait, and then fail with the store, never answer "2".
        backend.inject(.failAfter(delay: .milliseconds(300)), on: .write)
        async let failedPut = put(store, "a", "2")
        try await Task.sleep(for: .milliseconds(100))
        let readDuringSync = await clientGet(store, "a")
        let putResult = await failedPut
        #expect(throws: StoreError.self) { try putResult.get() }
        #expect(throws: StoreError.self) { try readDuringSync.get() }

        // From now on nothing is written or answered.
        let refused = await put(store, "b", "1")
        guard case .failure(let error) = refused else {
            Issue.record("a write after a failed fsync was accepted: \(refused)")
            return
        }
        #expect(error.code == .backendFailure)
        #expect(error.detail.contains("refuses writes and reads until restarted"))
        await #expect(throws: StoreError.self) { try await get(store, "a") }
        if case .success(let answer) = await clientGet(store, "a") {
            Issue.record("a read after a failed fsync was answered: \(answer)")
        }
        store.close()

        // A restart recovers from what is on disk: the acknowledged write is there; the failed one may or may not
        // be (its outcome is unknown to the client), but the log has no gap and no duplicate, and writing goes on.
        let (reopened, _) = try open(directory)
        defer { reopened.close() }
        let head = try await reopened.revisions().revision
        #expect(head == 2 || head == 3)
        #expect(try await get(reopened, "a", at: 2) == "1")
        #expect(try await logRevisions(reopened) == Array(2...head))
        #expect(try await get(reopened, "b") == nil)
        #expect(try await reopened.put(PutRequest(key: bytes("b"), value: bytes("1"))).revision == head + 1)
    }

    @Test("slow disks delay acknowledgements but lose nothing; compaction batches that fail are retried")
    func slowDiskAndCompaction() async throws {
        let directory = try TemporaryDirectory()
        let (store, backend) = try open(directory)
        backend.inject(.delay(.milliseconds(50)), on: .write, count: 5)
        for index in 0..<20 {
            _ = try await store.put(PutRequest(key: bytes("k\(index % 4)"), value: bytes("v\(index)")))
        }
        backend.inject(.failBefore, on: .compaction, count: 3)
        _ = try await store.compact(revision: 15, physical: true)
        #expect(backend.injected == ["write delay": 5, "compaction failBefore": 3])
        store.close()

        let (reopened, _) = try open(directory)
        defer { reopened.close() }
        for key in 0..<4 { #expect(try await get(reopened, "k\(key)") == "v\(16 + key)") }
        #expect(try await reopened.revisions().compactRevision == 15)
    }

    /// Eight writers against random refusals, stalls and (rarely) failed fsyncs, until 400 writes were tried or a
    /// failed fsync stopped the store; then a restart on the same file must hold every acknowledged write at the
    /// revision it was acknowledged with, with a log that has no gap. Several seeds, so both endings happen.
    @Test(
        "random disk faults under concurrent writers: every acknowledged write survives a restart",
        arguments: [1, 2, 3, 4] as [UInt64])
    func randomFaults(seed: UInt64) async throws {
        let directory = try TemporaryDirectory()
        let (store, backend) = try open(directory)
        var random = FaultInjectingBackend.RandomFaults(seed: seed)
        random.failBefore = 0.05
        random.failAfter = 0.01
        random.delay = 0.10
        backend.injectRandomly(random)

        let acknowledged = Acknowledged()
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for index in 0..<50 {
                        let (key, value) = ("k\((writer * 7 + index) % 12)", "w\(writer)-\(index)")
                        do {
                            let result = try await store.put(PutRequest(key: Array(key.utf8), value: Array(value.utf8)))
                            acknowledged.writes.withLock { $0.append((key, value, result.revision)) }
                        } catch {
                            acknowledged.failures.add(1, ordering: .relaxed)
                        }
                    }
                }
            }
        }
        // A store that did not stop must be healthy: with the faults off, the next write succeeds.
        let stopped = store.failure != nil
        backend.injectRandomly(nil)
        if !stopped, case .failure(let error) = await put(store, "healthy", "1") {
            Issue.record("the store neither stopped nor recovered: \(error)")
        }
        store.close()
        let acked = acknowledged.writes.withLock { $0 }
        let failures = acknowledged.failures.load(ordering: .relaxed)
        #expect(acked.count + failures == 400)
        #expect(Set(acked.map(\.revision)).count == acked.count, "two acknowledgements share a revision")
        if !stopped && backend.injected["write failBefore"] == nil { #expect(failures == 0) }

        let (reopened, _) = try open(directory)
        defer { reopened.close() }
        let head = try await reopened.revisions().revision
        #expect(try await logRevisions(reopened) == (head >= 2 ? Array(2...head) : []))
        for write in acked {
            #expect(write.revision <= head)
            let found = try await get(reopened, write.key, at: write.revision)
            #expect(
                found == write.value,
                "\(write.key)=\(write.value) acknowledged at \(write.revision), found \(found ?? "nothing")")
        }
        #expect(try await reopened.put(PutRequest(key: bytes("after"), value: [])).revision == head + 1)
    }
}

/// What the writers of `randomFaults` were told (a class: a `Mutex` cannot be captured by the tasks).
private final class Acknowledged: Sendable {
    let writes = Mutex<[(key: String, value: String, revision: Int64)]>([])
    let failures = Atomic<Int>(0)
}

/// A read's answer, set on whichever thread answers it.
private final class Answer: Sendable {
    private let result = Mutex<Result<RangeResult, StoreError>?>(nil)
    func set(_ value: Result<RangeResult, StoreError>) { result.withLock { $0 = value } }
    func get() -> Result<RangeResult, StoreError>? { result.withLock { $0 } }
}
