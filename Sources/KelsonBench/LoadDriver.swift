import EtcdAPI
import Foundation
import GRPCWire
import SwiftProtobuf
import Synchronization

/// Runs one request of a client and names its kind ("put", "read", …). Made inside the client's own task and
/// only called there.
public typealias ClientStep = (_ request: Int) async throws -> String

/// What a workload gets to work with: the connections and the parsed options.
public struct LoadContext: Sendable {
    public let options: LoadOptions
    public let endpoints: [Endpoint]
    public let connections: [GRPCClient]
    public let keys: KeyGenerator
    public let value: [UInt8]

    /// The connection client `index` uses (clients are spread round-robin).
    public func connection(forClient index: Int) -> GRPCClient { connections[index % connections.count] }

    /// One unary etcd call on `connection`.
    public func call<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ connection: GRPCClient, _ path: String, _ request: Request, as: Response.Type = Response.self
    ) async throws -> Response {
        let answer = try await connection.unary(path, request: try request.serializedBytes(), timeout: .seconds(30))
        return try Response(serializedBytes: answer)
    }
}

/// A benchmark: optional preparation, then the same step run by every client until the stop condition.
public protocol Workload: Sendable {
    var name: String { get }
    /// Workload-specific settings for the report.
    var parameters: [String: String] { get }
    /// Operation kinds that count as requests in the throughput (nil: all).
    var countedOperations: Set<String>? { get }
    /// Runs before the clock starts (loading keys, opening watches).
    func prepare(_ context: LoadContext) async throws
    /// Builds client `index`'s step, inside that client's task.
    func makeClient(_ index: Int, _ context: LoadContext) async throws -> ClientStep
    /// Runs after the last request: extra latencies (e.g. watch deliveries) and counters.
    func finish(_ context: LoadContext) async throws -> (LatencyRecorder, [String: Int])
}

extension Workload {
    public var parameters: [String: String] { [:] }
    public var countedOperations: Set<String>? { nil }
    public func prepare(_ context: LoadContext) async throws {}
    public func finish(_ context: LoadContext) async throws -> (LatencyRecorder, [String: Int]) { (LatencyRecorder(), [:]) }
}

/// Hands out request numbers: stops at the total or the deadline, and paces starts to `rate` per second.
final class RequestBudget: Sendable {
    private let stop: StopCondition
    private let rate: Int
    private let start = Atomic<UInt64>(0)
    private let issued = Atomic<Int>(0)

    init(stop: StopCondition, rate: Int) {
        self.stop = stop
        self.rate = rate
    }

    /// Starts the clock: pacing and `--duration` count from here.
    func begin() { start.store(monotonicNanoseconds(), ordering: .releasing) }

    var startNanoseconds: UInt64 { start.load(ordering: .acquiring) }

    /// The next request's number, or nil when the run is over.
    func next() async -> Int? {
        let number = issued.wrappingAdd(1, ordering: .relaxed).oldValue
        let start = startNanoseconds
        switch stop {
        case .total(let total): if number >= total { return nil }
        case .duration(let duration):
            let (seconds, attoseconds) = duration.components
            if monotonicNanoseconds() - start >= UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000) {
                return nil
            }
        }
        if rate > 0 {
            let due = start + UInt64(number) * 1_000_000_000 / UInt64(rate)
            let now = monotonicNanoseconds()
            if due > now { try? await Task.sleep(nanoseconds: due - now) }
        }
        return number
    }
}

public enum LoadDriver {
    /// Connects, prepares, runs every client to the stop condition, and reports.
    public static func run(_ workload: any Workload, options: LoadOptions) async throws -> BenchReport {
        let endpoints = try options.parsedEndpoints()
        var connections: [GRPCClient] = []
        for index in 0..<options.conns {
            let endpoint = endpoints[index % endpoints.count]
            connections.append(try await GRPCClient.connect(GRPCClientConfiguration(host: endpoint.host, port: endpoint.port)))
        }
        let context = LoadContext(
            options: options, endpoints: endpoints, connections: connections, keys: try options.keys(),
            value: benchValue(size: options.valueSize))
        do {
            let report = try await measure(workload, context)
            for connection in connections { await connection.close() }
            return report
        } catch {
            for connection in connections { await connection.close() }
            throw error
        }
    }

    private static func measure(_ workload: any Workload, _ context: LoadContext) async throws -> BenchReport {
        let options = context.options
        try await workload.prepare(context)
        let budget = RequestBudget(stop: try options.stopCondition(), rate: options.rate ?? 0)
        // Clients build their steps (a lease grant, a stream) before the clock starts.
        let gate = StartGate(count: options.clients) { budget.begin() }
        var recorder = try await withThrowingTaskGroup(of: LatencyRecorder.self) { group in
            for index in 0..<options.clients {
                group.addTask {
                    let step: ClientStep
                    do {
                        step = try await workload.makeClient(index, context)
                    } catch {
                        await gate.arrive()
                        throw error
                    }
                    await gate.arrive()
                    var recorder = LatencyRecorder()
                    while !Task.isCancelled, let request = await budget.next() {
                        let began = monotonicNanoseconds()
                        do {
                            let kind = try await step(request)
                            recorder.record(kind, nanoseconds: monotonicNanoseconds() - began)
                        } catch {
                            recorder.recordError(describe(error))
                        }
                    }
                    return recorder
                }
            }
            var merged = LatencyRecorder()
            for try await recorder in group { merged.merge(recorder) }
            return merged
        }
        let startedAt = Date(timeIntervalSinceNow: -Double(monotonicNanoseconds() - budget.startNanoseconds) / 1e9)
        let seconds = Double(monotonicNanoseconds() - budget.startNanoseconds) / 1e9
        let (extra, counters) = try await workload.finish(context)
        recorder.merge(extra)
        var parameters = workload.parameters
        parameters["key-size"] = String(options.keySize)
        parameters["val-size"] = String(options.valueSize)
        parameters["key-space-size"] = String(options.keySpaceSize)
        if options.sequentialKeys { parameters["sequential-keys"] = "true" }
        if !options.keyPrefix.isEmpty { parameters["key-prefix"] = options.keyPrefix }
        if let rate = options.rate { parameters["rate"] = String(rate) }
        parameters["consistency"] = options.consistency
        return BenchReport(
            workload: workload.name, options: options, endpoints: context.endpoints, parameters: parameters,
            startedAt: startedAt, seconds: seconds, recorder: recorder, counters: counters,
            countedOperations: workload.countedOperations)
    }
}

/// Lets every client finish its setup before any starts its requests; the last to arrive runs `onOpen`.
final class StartGate: Sendable {
    private struct State {
        var remaining: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>
    private let onOpen: @Sendable () -> Void

    init(count: Int, onOpen: @escaping @Sendable () -> Void) {
        state = Mutex(State(remaining: count))
        self.onOpen = onOpen
    }

    func arrive() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiters: [CheckedContinuation<Void, Never>]? = state.withLock { state in
                state.remaining -= 1
                state.waiters.append(continuation)
                guard state.remaining == 0 else { return nil }
                defer { state.waiters = [] }
                return state.waiters
            }
            if let waiters {
                onOpen()
                for waiter in waiters { waiter.resume() }
            }
        }
    }
}

/// A failure as the report lists it: the gRPC status as etcdctl prints it, or the error's description.
func describe(_ error: any Error) -> String {
    if let status = error as? GRPCStatus { return "\(status.code): \(status.message)" }
    return String(describing: error)
}
