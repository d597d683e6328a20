import Foundation
import RevisionLog
import RevisionLogTesting
import Synchronization
import Testing

@testable import PostgresBackend

/// The one door to the backend (`Store.execute`, docs/architecture.md): on PostgreSQL no store read runs its query
/// on the caller's thread (an event loop, a cooperative thread). A second connection locks every Kelson table, so
/// every query of the store waits in PostgreSQL; each completion-form read must still return at once and answer
/// later, once the lock is gone. A read that ran on the caller's thread would stop the test there: a watchdog
/// thread then ends the lock after 20 s and the test fails, naming the call, instead of hanging.
@Suite("PostgreSQL: store reads never wait on the caller's thread")
struct DoorTests {
    @Test("every read returns at once while the tables are locked, and answers rightly once they are not")
    func readsReturnWhileTablesAreLocked() async throws {
        let database = try TestDatabase()
        defer { withExtendedLifetime(database) {} }
        // More watchers than the cooperative pool has threads: were their catch-up reads run there, they could not
        // all wait in PostgreSQL at once. Every read gets a reader connection (and read thread) of its own.
        let catchUpWatchers = ProcessInfo.processInfo.activeProcessorCount + 1
        var configuration = PostgresConfiguration(url: database.url)
        configuration.maximumReaders = catchUpWatchers + 16
        let store = try Store(
            backend: try PostgresBackend(configuration: configuration),
            configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        defer { store.close() }
        let expected = try await Expected.fill(store)
        let hub = WatchHub(store: store)
        var watchRequest = WatchRequest(range: Expected.prefix)
        watchRequest.startRevision = 1
        let watchers = try (0..<catchUpWatchers).map { _ in try hub.watch(watchRequest) }
        defer { watchers.forEach { $0.cancel() } }

        let locker = try TableLocker(url: database.url)
        let watchdog = Watchdog(seconds: 20) { locker.release() }
        try locker.lockEveryTable()
        let reads = Reads(watchers: watchers.count)
        reads.issue(on: store, watchers: watchers, expected: expected, watchdog: watchdog)
        let earlyAnswers = reads.answered
        // Every read reaches PostgreSQL and waits for the lock there, all at once.
        watchdog.calling("waiting until every read waits for the lock in PostgreSQL")
        var waiting = 0
        while !watchdog.expired {
            waiting = try locker.queriesWaiting()
            if waiting >= reads.count { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        if let stuck = watchdog.finish() {
            Issue.record("\(stuck) did not finish within 20 s while every table was locked")
        }
        #expect(reads.answeredBeforeReturning.isEmpty, "ran on the caller's thread: \(reads.answeredBeforeReturning)")
        #expect(earlyAnswers.isEmpty, "answered while every table was locked: \(earlyAnswers)")
        #expect(waiting >= reads.count, "only \(waiting) of \(reads.count) reads waited in PostgreSQL at once")
        locker.release()

        let deadline = ContinuousClock.now + .seconds(30)
        while reads.answered.count < reads.count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try reads.check(expected)
    }
}

/// What the store holds (four keys under `door/`, one of them on a lease, a metadata value), and what the reads
/// answered before the tables were locked.
private struct Expected {
    static let prefix = KeyRange(key: Array("door/".utf8), rangeEnd: KeyRange.prefixEnd(Array("door/".utf8)))
    static let oneKeyRequest = RangeRequest(range: .single(Array("door/1".utf8)))
    static let prefixRequest = RangeRequest(range: prefix)
    static let txnRequest = TxnRequest(success: [.range(oneKeyRequest), .range(prefixRequest)])
    static let leaseTTL: Int64 = 600
    var leaseID: Int64
    var oneKey: RangeResult
    var prefix: RangeResult
    var txn: TxnResult
    var revisions: StoreRevisions
    var changes: [Change]
    var hash: KVHash

    static func fill(_ store: Store) async throws -> Expected {
        func key(_ text: String) -> [UInt8] { Array(text.utf8) }
        for index in 0..<3 { _ = try await store.put(PutRequest(key: key("door/\(index)"), value: [UInt8(index)])) }
        let lease = try await store.grantLease(id: 7, ttl: leaseTTL).lease
        _ = try await store.put(PutRequest(key: key("door/leased"), value: [9], lease: lease.id))
        try await store.updateMetadata("door") { $0 = [1, 2, 3] }
        let revisions = try await store.revisions()
        let expected = Expected(
            leaseID: lease.id, oneKey: try await store.range(oneKeyRequest),
            prefix: try await store.range(prefixRequest), txn: try await store.txn(txnRequest),
            revisions: revisions,
            changes: try await store.changes(from: 1, through: revisions.revision, limit: 100),
            hash: try await store.hashKV(revision: 0))
        #expect(expected.prefix.keyValues.count == 4)
        #expect(expected.changes.count == 4)
        return expected
    }
}

/// Every completion-form read of the store and a catch-up `next()` per watcher, with where their answers land.
private final class Reads {
    let oneKey = Answer<RangeResult>()
    let prefix = Answer<RangeResult>()
    let txn = Answer<TxnResult>()
    let revisions = Answer<StoreRevisions>()
    let changes = Answer<[Change]>()
    let storageSize = Answer<StorageSize>()
    let metadata = Answer<[UInt8]?>()
    let timeToLive = Answer<LeaseTimeToLive?>()
    let leaseIDs = Answer<[Int64]>()
    let renewal = Answer<Int64>()
    let hash = Answer<KVHash>()
    let deliveries: [Answer<WatchDelivery?>]
    private var arrivals: [(call: String, arrived: () -> Bool)] = []
    /// Calls whose completion had already run when they returned: they waited for the lock on the caller's thread.
    private(set) var answeredBeforeReturning: [String] = []

    init(watchers: Int) {
        deliveries = (0..<watchers).map { _ in Answer<WatchDelivery?>() }
    }

    /// Reads issued, each a query that waits for the lock.
    var count: Int { 11 + deliveries.count }
    /// The calls answered so far.
    var answered: [String] { arrivals.filter { $0.arrived() }.map(\.call) }

    /// Issues every read in one synchronous block on the caller's thread.
    func issue(on store: Store, watchers: [Watcher], expected: Expected, watchdog: Watchdog) {
        func call<Value>(_ name: String, _ answer: Answer<Value>, _ body: (Answer<Value>) -> Void) {
            watchdog.calling(name)
            body(answer)
            if answer.arrived { answeredBeforeReturning.append(name) }
            arrivals.append((name, { answer.arrived }))
        }
        let lease = expected.leaseID
        call("range (one key)", oneKey) { store.range(Expected.oneKeyRequest, completion: $0.completion) }
        call("range (prefix)", prefix) { store.range(Expected.prefixRequest, completion: $0.completion) }
        call("txn (read-only)", txn) { store.txn(Expected.txnRequest, completion: $0.completion) }
        call("revisions", revisions) { store.revisions(completion: $0.completion) }
        call("changes", changes) {
            store.changes(from: 1, through: expected.revisions.revision, limit: 100, completion: $0.completion)
        }
        call("storageSize", storageSize) { store.storageSize(completion: $0.completion) }
        call("metadata", metadata) { store.metadata("door", completion: $0.completion) }
        call("leaseTimeToLive", timeToLive) { store.leaseTimeToLive(id: lease, keys: true, completion: $0.completion) }
        call("leaseIDs", leaseIDs) { store.leaseIDs(completion: $0.completion) }
        call("renewLease", renewal) { store.renewLease(id: lease, completion: $0.completion) }
        call("hashKV", hash) { store.hashKV(revision: 0, completion: $0.completion) }
        for (watcher, delivery) in zip(watchers, deliveries) {
            call("Watcher.next (catching up)", delivery) { delivery in
                Task {
                    do throws(StoreError) {
                        delivery.completion(.success(try await watcher.next()))
                    } catch {
                        delivery.completion(.failure(error))
                    }
                }
            }
        }
    }

    /// Every read answered, as it did before the lock.
    func check(_ expected: Expected) throws {
        #expect(arrivals.filter { !$0.arrived() }.map(\.call) == [], "never answered after the lock was released")
        #expect(try oneKey.value() == expected.oneKey)
        #expect(try prefix.value() == expected.prefix)
        #expect(try txn.value() == expected.txn)
        #expect(try revisions.value() == expected.revisions)
        #expect(try changes.value() == expected.changes)
        #expect(try storageSize.value().totalBytes > 0)
        #expect(try metadata.value() == [1, 2, 3])
        let timeToLive = try #require(try timeToLive.value())
        #expect(timeToLive.keys == [Array("door/leased".utf8)])
        #expect(timeToLive.granted == Expected.leaseTTL && timeToLive.remaining > 0)
        #expect(try leaseIDs.value() == [expected.leaseID])
        #expect(try renewal.value() == Expected.leaseTTL)
        #expect(try hash.value() == expected.hash)
        for delivery in deliveries {
            guard case .events(let revision, let events) = try delivery.value() else {
                Issue.record("a catching-up watcher delivered \(String(describing: try delivery.value()))")
                continue
            }
            #expect(revision == expected.revisions.revision)
            #expect(events.map(\.keyValue) == expected.changes.map(\.keyValue))
            #expect(events.allSatisfy { $0.kind == .put && $0.previous == nil })
        }
    }
}

/// Where one call's answer lands: filled by its completion, on whichever thread that runs.
private final class Answer<Value: Sendable>: Sendable {
    private let result = Mutex<Result<Value, StoreError>?>(nil)

    var completion: @Sendable (Result<Value, StoreError>) -> Void {
        { [self] answer in result.withLock { $0 = answer } }
    }
    var arrived: Bool { result.withLock { $0 != nil } }

    func value() throws -> Value {
        guard let answer = result.withLock({ $0 }) else { throw StoreError(.unavailable, "no answer") }
        return try answer.get()
    }
}

/// A plain connection that holds `ACCESS EXCLUSIVE` locks on every table of the store's schema in an open
/// transaction, so every query of the store waits. Used by the test's thread and, on expiry, the watchdog's.
private final class TableLocker: Sendable {
    private let connection: Mutex<PostgresConnection?>

    init(url: String) throws {
        connection = Mutex(try PostgresConnection(url: url))
    }

    func lockEveryTable() throws {
        try connection.withLock { connection in
            guard let connection else { throw StoreError.stopped }
            let tables = try connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
            let names = tables.compactMap { $0.first ?? nil }
            #expect(names == ["kelson_lease", "kelson_metadata", "kelson_state", "kv_live", "kv_log"])
            try connection.execute("BEGIN; LOCK TABLE \(names.joined(separator: ", ")) IN ACCESS EXCLUSIVE MODE")
        }
    }

    /// Sessions waiting for a lock on a table or index of the schema (the store's queries, and nothing else there).
    func queriesWaiting() throws -> Int {
        try connection.withLock { connection in
            guard let connection else { return 0 }
            let rows = try connection.execute(
                """
                SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND relation IN
                  (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace)
                """)
            return Int(rows.first?.first.flatMap { $0 } ?? "0") ?? 0
        }
    }

    /// Ends the transaction, and with it the locks; later calls do nothing.
    func release() {
        connection.withLock { connection in
            _ = try? connection?.execute("COMMIT")
            connection?.close()
            connection = nil
        }
    }
}

/// Runs `expire` on a thread of its own unless `finish` comes within `seconds`: the test's thread may be stuck in a
/// call that waits for the lock, and only the lock's end can free it.
private final class Watchdog: Sendable {
    private struct State {
        var calling = ""
        var expired: String?
    }
    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)

    init(seconds: Int, expire: @escaping @Sendable () -> Void) {
        Thread { [self] in
            guard finished.wait(timeout: .now() + .seconds(seconds)) == .timedOut else { return }
            state.withLock { $0.expired = $0.calling }
            expire()
        }.start()
    }

    /// Names what the test's thread does now, for the failure message.
    func calling(_ name: String) { state.withLock { $0.calling = name } }

    var expired: Bool { state.withLock { $0.expired != nil } }

    /// Stops the watchdog; returns what the test's thread was doing when it expired, if it did.
    func finish() -> String? {
        finished.signal()
        return state.withLock { $0.expired }
    }
}
