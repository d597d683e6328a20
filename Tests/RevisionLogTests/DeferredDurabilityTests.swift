import Foundation
import RevisionLog
import RevisionLogTesting
import Synchronization
import Testing

/// A MemoryBackend that defers durability: commits are visible at once, and `sync()` blocks until the test
/// lets it through (or fails, when told to).
final class HeldSyncBackend: WrappedMemoryBackend {
    let inner = MemoryBackend()
    private let gate = DispatchSemaphore(value: 0)
    let committedWrites = Atomic<Int>(0)
    let syncs = Atomic<Int>(0)
    let failSyncs = Atomic<Bool>(false)

    var defersDurability: Bool { true }

    func sync() throws {
        gate.wait()
        syncs.add(1, ordering: .relaxed)
        if failSyncs.load(ordering: .relaxed) { throw StoreError(.backendFailure, "injected: disk gone") }
    }

    /// Lets `count` syncs through.
    func release(_ count: Int = 1) { for _ in 0..<count { gate.signal() } }

    func read<Result>(_ body: (any BackendReader) throws -> Result) throws -> Result { try inner.read(body) }
    func write<Result>(_ body: (any BackendWriter) throws -> Result) throws -> Result {
        defer { committedWrites.add(1, ordering: .relaxed) }
        return try inner.write(body)
    }
}

/// Records when a callback ran.
final class Outcomes<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func record(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }

    /// Waits (polling) until `count` values arrived or `seconds` passed.
    func wait(for count: Int, seconds: Double = 10) async -> [Value] {
        let deadline = Date().addingTimeInterval(seconds)
        while all.count < count, Date() < deadline { try? await Task.sleep(for: .milliseconds(5)) }
        return all
    }
}

@Suite("Deferred durability: nothing acknowledged, published or answered before sync")
struct DeferredDurabilityTests {
    private func key(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("a committed but unsynced write is neither acknowledged, nor seen by watchers, nor returned by a read")
    func heldUntilSynced() async throws {
        let backend = HeldSyncBackend()
        let store = try Store(
            backend: backend, configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        defer {
            backend.release(100)
            store.close()
        }
        let hub = WatchHub(store: store)
        let watcher = try hub.watch(WatchRequest(range: KeyRange(key: key("a"), rangeEnd: [])))
        let delivered = Outcomes<WatchDelivery>()
        let watching = Task {
            while let delivery = try? await watcher.next() { delivered.record(delivery) }
        }
        defer { watching.cancel(); watcher.cancel() }

        let puts = Outcomes<Result<PutResult, StoreError>>()
        store.put(PutRequest(key: key("a"), value: key("1"))) { puts.record($0) }
        let deadline = Date().addingTimeInterval(10)
        while backend.committedWrites.load(ordering: .relaxed) < 1, Date() < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(backend.committedWrites.load(ordering: .relaxed) == 1, "the put reached the backend")

        // The backend's snapshot already holds the write; the store's answers wait for the sync.
        let snapshot = try backend.inner.read { reader in
            (try reader.range(KeyRange(key: key("a"), rangeEnd: []), at: 0, limit: 0), reader.revision)
        }
        #expect(snapshot.0.map(\.value) == [key("1")] && snapshot.1 == 2)
        let reads = Outcomes<Result<Int64, StoreError>>()
        store.range(RangeRequest(range: KeyRange(key: key("a"), rangeEnd: []))) { reads.record($0.map(\.revision)) }
        store.txn(TxnRequest(success: [.range(RangeRequest(range: KeyRange(key: key("a"), rangeEnd: [])))])) {
            reads.record($0.map(\.revision))
        }

        try await Task.sleep(for: .milliseconds(300))
        #expect(puts.all.isEmpty, "acknowledged before the sync")
        #expect(reads.all.isEmpty, "answered a read of an unsynced write")
        #expect(delivered.all.isEmpty, "published to a watcher before the sync")
        #expect(store.revision == 1)

        backend.release()
        let acknowledged = await puts.wait(for: 1)
        #expect(acknowledged.count == 1 && (try? acknowledged[0].get().revision) == 2, "\(acknowledged)")
        let answered = await reads.wait(for: 2)
        #expect(answered.count == 2 && answered.allSatisfy { (try? $0.get()) == 2 }, "\(answered)")
        let events = await delivered.wait(for: 1)
        #expect(events.count == 1, "\(events)")
        #expect(store.revision == 2)
    }

    @Test("a failed sync fails its writes and every later write")
    func failedSync() async throws {
        let backend = HeldSyncBackend()
        backend.failSyncs.store(true, ordering: .relaxed)
        backend.release(100)
        let store = try Store(
            backend: backend, configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        defer { store.close() }
        await #expect(throws: StoreError.self) { try await store.put(PutRequest(key: key("a"), value: key("1"))) }
        do {
            _ = try await store.put(PutRequest(key: key("b"), value: key("2")))
            Issue.record("a write after a failed sync was acknowledged")
        } catch {
            #expect(error.code == .backendFailure, "\(error)")
            #expect("\(error)".contains("fsync failed"), "\(error)")
        }
        #expect(store.revision == 1, "a failed sync published nothing")
    }

    @Test("lease time-to-live with keys and HashKV answer only once what they read is durable")
    func leaseKeysAndHashWaitForDurability() async throws {
        let backend = HeldSyncBackend()
        let store = try Store(
            backend: backend, configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        defer {
            backend.release(100)
            store.close()
        }
        let grants = Outcomes<Result<LeaseGrantResult, StoreError>>()
        store.grantLease(id: 7, ttl: 60) { grants.record($0) }
        backend.release()
        #expect(await grants.wait(for: 1).count == 1)
        // Committed, not yet durable: attached to lease 7 at revision 2.
        let puts = Outcomes<Result<PutResult, StoreError>>()
        store.put(PutRequest(key: key("a"), value: key("1"), lease: 7)) { puts.record($0) }
        let deadline = Date().addingTimeInterval(10)
        while backend.committedWrites.load(ordering: .relaxed) < 2, Date() < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        let timeToLive = Outcomes<Result<[[UInt8]], StoreError>>()
        store.leaseTimeToLive(id: 7, keys: true) { timeToLive.record($0.map { $0?.keys ?? [] }) }
        let hashes = Outcomes<Result<Int64, StoreError>>()
        store.hashKV(revision: 0) { hashes.record($0.map(\.revision)) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(timeToLive.all.isEmpty, "time-to-live answered with a key whose put is not durable")
        #expect(hashes.all.isEmpty, "HashKV answered over a revision that is not durable")

        backend.release()
        #expect(await puts.wait(for: 1).count == 1)
        let keys = await timeToLive.wait(for: 1)
        #expect(keys.count == 1 && (try? keys[0].get()) == [key("a")], "\(keys)")
        let hashed = await hashes.wait(for: 1)
        #expect(hashed.count == 1 && (try? hashed[0].get()) == 2, "\(hashed)")
    }
}
