import Foundation
import RevisionLog
import RevisionLogTesting
import Synchronization
import Testing

/// A MemoryBackend whose reads wait on the network, as PostgreSQL's do: one read thread, and reads block while the
/// test holds them.
final class SlowReadBackend: WrappedMemoryBackend {
    let inner = MemoryBackend()
    private let held = Mutex(false)
    private let gate = NSCondition()
    let readers = Mutex<Set<String>>([])
    let waiting = Atomic<Int>(0)

    var blockingReadThreads: Int? { 1 }

    func hold(_ holding: Bool) {
        gate.lock()
        held.withLock { $0 = holding }
        gate.broadcast()
        gate.unlock()
    }

    func read<Result>(_ body: (any BackendReader) throws -> Result) throws -> Result {
        // The kernel's name for this thread (Foundation's `Thread.current.name` is not reliable on Linux).
        let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?"
        readers.withLock { _ = $0.insert(name.trimmingCharacters(in: .newlines)) }
        gate.lock()
        if held.withLock({ $0 }) { waiting.add(1, ordering: .relaxed) }
        while held.withLock({ $0 }) { gate.wait() }
        gate.unlock()
        return try inner.read(body)
    }
    func write<Result>(_ body: (any BackendWriter) throws -> Result) throws -> Result { try inner.write(body) }
}

@Suite("Reads of a networked backend run on the store's own bounded read threads")
struct ReadOffloadTests {
    private let all = RangeRequest(range: KeyRange(key: [0], rangeEnd: [0]))

    @Test("a blocked read never blocks its caller; the queue is bounded; closing refuses later reads")
    func boundedAndOffloaded() async throws {
        let backend = SlowReadBackend()
        var configuration = RevisionLogConformance.configuration()
        configuration.maximumPendingReads = 2
        let store = try Store(backend: backend, configuration: configuration, logger: conformanceLogger())
        _ = try await store.put(PutRequest(key: Array("a".utf8), value: Array("1".utf8)))
        backend.readers.withLock { $0.removeAll() }

        backend.hold(true)
        let answers = Outcomes<Result<Int, StoreError>>()
        // The first read takes the only read thread and waits there; two more queue; the fourth is refused. Each
        // call returns at once although the backend is held: the caller's thread (an event loop) is never blocked.
        store.range(all) { answers.record($0.map(\.keyValues.count)) }
        let deadline = Date().addingTimeInterval(10)
        while backend.waiting.load(ordering: .relaxed) == 0, Date() < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        for _ in 0..<3 { store.range(all) { answers.record($0.map(\.keyValues.count)) } }
        let refused = await answers.wait(for: 1)
        #expect(refused.count == 1)
        if case .failure(let error)? = refused.first {
            #expect(error.code == .tooManyRequests && error.detail == "2 calls are already waiting for the database")
        } else {
            Issue.record("the read beyond the bound was not refused: \(refused)")
        }
        let metadata = Outcomes<StoreError.Code?>()
        store.metadata("m") { result in
            if case .failure(let error) = result { metadata.record(error.code) } else { metadata.record(nil) }
        }
        #expect(await metadata.wait(for: 1) == [.tooManyRequests], "a full queue refuses every kind of read")

        backend.hold(false)
        let answered = await answers.wait(for: 4)
        #expect(answered.count == 4)
        #expect(answered.filter { (try? $0.get()) == 1 }.count == 3, "\(answered)")
        #expect(try await store.revisions().revision == 2)
        let txn = try await store.txn(TxnRequest(success: [.range(all)]))
        #expect(txn.succeeded && txn.revision == 2)
        #expect(try await store.changes(from: 2, through: 2, limit: 10).count == 1)
        #expect(try await store.metadata("m") == nil)
        // A watcher that starts in the past catches up from the log: through the door as well.
        let hub = WatchHub(store: store)
        var request = WatchRequest(range: .fromKey([0]))
        request.startRevision = 2
        let watcher = try hub.watch(request)
        guard case .events(_, let events)? = try await watcher.next() else {
            Issue.record("the catching-up watcher got no events")
            return
        }
        #expect(events.count == 1)
        watcher.cancel()
        // Every read above ran on the pool, none on this test's thread.
        let threads = backend.readers.withLock { $0 }
        #expect(!threads.isEmpty && threads.allSatisfy { $0.hasPrefix("kelson-reads") }, "reads ran on \(threads)")

        store.close()
        let late = Outcomes<Result<Int, StoreError>>()
        store.range(all) { late.record($0.map(\.keyValues.count)) }
        #expect(throws: StoreError(.stopped)) { try late.all.first?.get() }
    }
}
