// Micro-benchmarks of Kelson's core: the commit path, reads at the head and in history, and watch
// fan-out, all on the SQLite backend. What is gated is the allocation count (mallocCountTotal);
// wall time is printed for information only. See README.md for the commands.

import Benchmark
import Foundation
import Logging
import RevisionLog
import SQLiteBackend
import Synchronization

/// Operations per measured iteration: every benchmark loops `benchmark.scaledIterations`
/// (0..<1000) and the output shows counts per operation (the `*` columns).
var scalingFactor: BenchmarkScalingFactor { .kilo }

/// How far an allocation count may drift from the committed threshold before `thresholds check`
/// fails, in allocations per operation. Measured counts are raw per iteration (1000 operations),
/// so the tolerance is scaled the same way: one extra allocation per operation (+1000 per
/// iteration) fails the check, run-to-run noise (a few allocations per iteration) does not.
func allocationTolerance(perOperation: Double) -> BenchmarkThresholds {
    BenchmarkThresholds(absolute: [.p90: Int(perOperation * Double(scalingFactor.rawValue))])
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.mallocCountTotal, .wallClock, .throughput],
        warmupIterations: 3,
        scalingFactor: scalingFactor,
        maxDuration: .seconds(3),
        maxIterations: 25,
        thresholds: [
            .mallocCountTotal: allocationTolerance(perOperation: 0.5),
            // Informational: never fail a check on timing.
            .wallClock: .none,
            .throughput: .none,
        ]
    )

    // 1. Commit path: one put through the store's committer into SQLite (durable = false, so the
    //    fsync per commit does not dominate; allocations are the same either way).
    let put = Slot<Fixture>()
    Benchmark("Put") { benchmark in
        let fixture = put.value
        let value = fixture.value
        for index in benchmark.scaledIterations {
            blackHole(try await fixture.store.put(PutRequest(key: fixture.keys[index], value: value)))
        }
    } setup: {
        put.value = try Fixture()
    } teardown: {
        put.take()?.close()
    }

    // 2. Range at the head over a store of 1,000 keys: a single-key get, and a 100-key prefix list.
    let head = Slot<Fixture>()
    Benchmark("RangeHeadGet") { benchmark in
        let fixture = head.value
        for index in benchmark.scaledIterations {
            blackHole(try await fixture.store.range(RangeRequest(range: .single(fixture.keys[index]))))
        }
    } setup: {
        head.value = try await Fixture.populated()
    } teardown: {
        head.take()?.close()
    }

    let list = Slot<Fixture>()
    Benchmark("RangeHeadPrefix100") { benchmark in
        let fixture = list.value
        let request = RangeRequest(range: Fixture.prefix100)
        for _ in benchmark.scaledIterations {
            blackHole(try await fixture.store.range(request))
        }
    } setup: {
        let fixture = try await Fixture.populated()
        let result = try await fixture.store.range(RangeRequest(range: Fixture.prefix100))
        guard result.keyValues.count == 100 else {
            throw BenchmarkSetupError("prefix list found \(result.keyValues.count) keys, expected 100")
        }
        list.value = fixture
    } teardown: {
        list.take()?.close()
    }

    // 3. Range in history: one key updated 1,000 times, read at the revision of its 500th update.
    let history = Slot<(fixture: Fixture, revision: Int64)>()
    Benchmark("RangeHistoryGet") { benchmark in
        let (fixture, revision) = history.value
        var request = RangeRequest(range: .single(Fixture.historyKey))
        request.revision = revision
        for _ in benchmark.scaledIterations {
            blackHole(try await fixture.store.range(request))
        }
    } setup: {
        let fixture = try await Fixture.populated()
        var revisions: [Int64] = []
        for update in 0..<1_000 {
            let value = Array("update \(update)".utf8)
            revisions.append(try await fixture.store.put(PutRequest(key: Fixture.historyKey, value: value)).revision)
        }
        var request = RangeRequest(range: .single(Fixture.historyKey))
        request.revision = revisions[499]
        let result = try await fixture.store.range(request)
        guard result.keyValues.first?.value == Array("update 499".utf8) else {
            throw BenchmarkSetupError("history read returned \(result.keyValues)")
        }
        history.value = (fixture, revisions[499])
    } teardown: {
        history.take()?.fixture.close()
    }

    // 4. Watch fan-out: one put delivered to 100 watchers of its key; one operation is the put plus
    //    the 100 `next()` calls that hand the event out.
    let fanOut = Slot<(fixture: Fixture, hub: WatchHub, watchers: [Watcher])>()
    // Deliveries race the committer (a watcher sometimes takes a batch while it is still being filled), so the
    // count moves by a couple of allocations per put between runs; 3 per put (0.03 per delivery) still catches
    // any allocation added per delivery.
    var fanOutConfiguration = Benchmark.defaultConfiguration
    fanOutConfiguration.thresholds = [
        .mallocCountTotal: allocationTolerance(perOperation: 3), .wallClock: .none, .throughput: .none,
    ]
    Benchmark("WatchFanOut100", configuration: fanOutConfiguration) { benchmark in
        let (fixture, _, watchers) = fanOut.value
        let value = fixture.value
        for _ in benchmark.scaledIterations {
            blackHole(try await fixture.store.put(PutRequest(key: Fixture.watchedKey, value: value)))
            for watcher in watchers {
                guard case .events(_, let events)? = try await watcher.next(), events.count == 1 else {
                    throw BenchmarkSetupError("a watcher did not get exactly one event")
                }
                blackHole(events)
            }
        }
    } setup: {
        let fixture = try Fixture()
        let hub = WatchHub(store: fixture.store)
        let watchers = try (0..<100).map { _ in try hub.watch(WatchRequest(range: .single(Fixture.watchedKey))) }
        fanOut.value = (fixture, hub, watchers)
    } teardown: {
        if let (fixture, _, watchers) = fanOut.take() {
            for watcher in watchers { watcher.cancel() }
            fixture.close()
        }
    }

    // 5. The committer's cost of watchers that do not match (issue 17): a put to an unwatched key, with 100,000
    //    watchers of other single keys (indexed by key: they cost nothing), and with 1,000 watchers of other
    //    prefixes (checked one by one). Compare the wall time per put with "Put".
    for (name, count, prefixes) in [
        ("PutWith100kKeyWatchersElsewhere", 100_000, false),
        ("PutWith1kPrefixWatchersElsewhere", 1_000, true),
    ] {
        let crowd = Slot<(fixture: Fixture, watchers: [Watcher])>()
        Benchmark(name) { benchmark in
            let fixture = crowd.value.fixture
            let value = fixture.value
            for index in benchmark.scaledIterations {
                blackHole(try await fixture.store.put(PutRequest(key: fixture.keys[index], value: value)))
            }
        } setup: {
            let fixture = try Fixture()
            var limits = WatchLimits()
            limits.watchersMaximum = count
            let hub = WatchHub(store: fixture.store, limits: limits)
            let watchers = try (0..<count).map { index in
                let key = Array("elsewhere/\(index)".utf8)
                return try hub.watch(
                    WatchRequest(range: prefixes ? .interval(start: key, end: KeyRange.prefixEnd(key)) : .single(key)))
            }
            crowd.value = (fixture, watchers)
        } teardown: {
            if let (fixture, watchers) = crowd.take() {
                for watcher in watchers { watcher.cancel() }
                fixture.close()
            }
        }
    }
}

/// The store's completion calls as async ones (the store has one form per operation; `Store.awaiting` bridges).
extension Store {
    func put(_ request: PutRequest) async throws -> PutResult {
        try await Store.awaiting { put(request, completion: $0) }
    }
    func range(_ request: RangeRequest) async throws -> RangeResult {
        try await Store.awaiting { range(request, completion: $0) }
    }
}

/// A store on SQLite in a fresh temporary directory, with the keys and value the benchmarks use.
final class Fixture: Sendable {
    /// 1,000 keys `k/0000` … `k/0999`.
    let keys: [[UInt8]] = (0..<1_000).map { index in
        let digits = String(index)
        return Array(("k/" + String(repeating: "0", count: 4 - digits.count) + digits).utf8)
    }
    /// A 100-byte value.
    let value = [UInt8](repeating: 0x61, count: 100)
    /// `k/01…`: keys `k/0100` … `k/0199`.
    static let prefix100 = KeyRange.interval(start: Array("k/01".utf8), end: KeyRange.prefixEnd(Array("k/01".utf8)))
    static let historyKey = Array("history".utf8)
    static let watchedKey = Array("watched".utf8)

    let directory: String
    let store: Store

    init() throws {
        directory = NSTemporaryDirectory() + "kelson-benchmark-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = SQLiteConfiguration(path: directory + "/kelson.db")
        configuration.durable = false
        var logger = Logger(label: "kelson.benchmarks")
        logger.logLevel = .warning
        store = try Store(backend: try SQLiteBackend(configuration: configuration), logger: logger)
    }

    /// A fixture whose store holds all of `keys`.
    static func populated() async throws -> Fixture {
        let fixture = try Fixture()
        for key in fixture.keys {
            _ = try await fixture.store.put(PutRequest(key: key, value: fixture.value))
        }
        return fixture
    }

    func close() {
        store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Holds a benchmark's setup state between its setup, measured closure and teardown.
final class Slot<Value: Sendable>: Sendable {
    private let storage = Mutex<Value?>(nil)
    var value: Value {
        get { storage.withLock { $0! } }
        set { storage.withLock { $0 = newValue } }
    }
    func take() -> Value? {
        storage.withLock { value in
            defer { value = nil }; return value
        }
    }
}

struct BenchmarkSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
