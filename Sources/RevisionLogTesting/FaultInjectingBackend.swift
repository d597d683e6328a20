import Foundation
import RevisionLog
import Synchronization

/// A disk that misbehaves on command: wraps a real backend (a SQLite file in the tests) and fails or delays its
/// writes, fsyncs and compaction batches, so tests can show the store reports errors and never acknowledges,
/// publishes or answers anything that is not durable.
///
/// Faults come from a queue per operation (`inject`), consumed one per call, or at random (`injectRandomly`,
/// seeded, so a failing run can be repeated). Reads are never faulted: they are how the tests look.
public final class FaultInjectingBackend: LogBackend {
    /// What a fault interferes with.
    public enum Operation: String, Hashable, Sendable, CaseIterable {
        /// `write`: one committed group (for a backend that does not defer durability, commit and fsync).
        case write
        /// `sync`: the fsync of a backend that defers durability.
        case sync
        /// `compactBatch`: one batch of physical compaction.
        case compaction
    }

    public enum Fault: Sendable, Equatable {
        /// Fails before the backend is called, as a disk refusing the write (ENOSPC, EIO on write): nothing is
        /// stored.
        case failBefore
        /// Lets the backend do the work, waits `delay`, then fails: the data may well be on disk, but its fsync
        /// reported an error, so nobody knows whether it is durable.
        case failAfter(delay: Duration = .zero)
        /// Waits, then lets the call through: a slow disk.
        case delay(Duration)
    }

    /// Random faults: each call of `operations` draws one of them with these probabilities (else none).
    public struct RandomFaults: Sendable {
        public var seed: UInt64
        public var operations: Set<Operation> = [.write, .sync, .compaction]
        public var failBefore = 0.0
        public var failAfter = 0.0
        public var delay = 0.0
        public var maximumDelay: Duration = .milliseconds(20)

        public init(seed: UInt64) { self.seed = seed }
    }

    private struct State {
        var queued: [Operation: [Fault]] = [:]
        var random: RandomFaults?
        var generator = SplitMix64(seed: 0)
        var injected: [String: Int] = [:]
    }

    private let inner: any LogBackend
    private let state = Mutex(State())

    public init(wrapping inner: any LogBackend) { self.inner = inner }

    /// Queues `fault` for the next `count` calls of `operation` (after any already queued).
    public func inject(_ fault: Fault, on operation: Operation, count: Int = 1) {
        state.withLock { $0.queued[operation, default: []] += Array(repeating: fault, count: count) }
    }

    /// Draws faults at random from now on (nil: stop). Queued faults still come first.
    public func injectRandomly(_ random: RandomFaults?) {
        state.withLock { state in
            state.random = random
            state.generator = SplitMix64(seed: random?.seed ?? 0)
        }
    }

    /// How many faults of each kind were injected so far, by name ("write failBefore", "sync delay", …).
    public var injected: [String: Int] { state.withLock { $0.injected } }

    private func nextFault(_ operation: Operation) -> Fault? {
        state.withLock { state in
            var fault: Fault?
            if var queue = state.queued[operation], !queue.isEmpty {
                fault = queue.removeFirst()
                state.queued[operation] = queue
            } else if let random = state.random, random.operations.contains(operation) {
                let draw = state.generator.nextUnit()
                if draw < random.failBefore {
                    fault = .failBefore
                } else if draw < random.failBefore + random.failAfter {
                    fault = .failAfter()
                } else if draw < random.failBefore + random.failAfter + random.delay {
                    let nanoseconds =
                        random.maximumDelay.components.seconds * 1_000_000_000
                        + random.maximumDelay.components.attoseconds / 1_000_000_000
                    fault = .delay(.nanoseconds(Int64(state.generator.nextUnit() * Double(nanoseconds))))
                }
            }
            if let fault { state.injected["\(operation.rawValue) \(Self.name(of: fault))", default: 0] += 1 }
            return fault
        }
    }

    private static func name(of fault: Fault) -> String {
        switch fault {
        case .failBefore: "failBefore"
        case .failAfter: "failAfter"
        case .delay: "delay"
        }
    }

    /// Runs `body` (the real call) under the next fault of `operation`.
    private func faulted<Result>(_ operation: Operation, _ body: () throws -> Result) throws -> Result {
        switch nextFault(operation) {
        case nil:
            return try body()
        case .failBefore:
            throw StoreError(.backendFailure, "injected: the disk refused the \(operation.rawValue)")
        case .failAfter(let delay):
            _ = try body()
            Self.sleep(delay)
            throw StoreError(.backendFailure, "injected: fsync failed after the \(operation.rawValue)")
        case .delay(let delay):
            Self.sleep(delay)
            return try body()
        }
    }

    private static func sleep(_ duration: Duration) {
        guard duration > .zero else { return }
        let (seconds, attoseconds) = duration.components
        Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
    }

    // MARK: LogBackend

    public var defersDurability: Bool { inner.defersDurability }

    public func read<Result>(_ body: (any BackendReader) throws -> Result) throws -> Result { try inner.read(body) }

    public func write<Result>(_ body: (any BackendWriter) throws -> Result) throws -> Result {
        try faulted(.write) { try inner.write(body) }
    }

    public func write<Result>(prefetching keys: [[UInt8]], _ body: (any BackendWriter) throws -> Result) throws
        -> Result
    {
        try faulted(.write) { try inner.write(prefetching: keys, body) }
    }

    public func sync() throws { try faulted(.sync) { try inner.sync() } }

    public func compactBatch(revision: Int64, cursor: Int64, limit: Int) throws -> Int64? {
        try faulted(.compaction) { try inner.compactBatch(revision: revision, cursor: cursor, limit: limit) }
    }

    public func storageSize() throws -> StorageSize { try inner.storageSize() }
    public func defragment() throws { try inner.defragment() }
    public func snapshot(to path: String) throws { try inner.snapshot(to: path) }
    public func close() { inner.close() }
}

/// A small seeded generator (SplitMix64): the same seed gives the same faults.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in [0, 1).
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
