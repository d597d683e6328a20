import EtcdAPI
import Foundation
import GRPCWire
import NIOCore
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

/// A request the driver can send from the connection's event loop, with no task per request: the path, and the
/// serialized request number `n` with its kind. Responses are checked for their status only, not decoded.
public struct UnaryStep: Sendable {
    public var path: String
    public var make: @Sendable (_ request: Int) throws -> (bytes: [UInt8], kind: String)

    public init(path: String, make: @escaping @Sendable (_ request: Int) throws -> (bytes: [UInt8], kind: String)) {
        self.path = path
        self.make = make
    }
}

/// A benchmark: optional preparation, then the same step run by every client until the stop condition.
/// Simple workloads give a `unaryStep` (cheapest for the load generator); others build a `ClientStep`.
public protocol Workload: Sendable {
    var name: String { get }
    /// Workload-specific settings for the report.
    var parameters: [String: String] { get }
    /// Operation kinds that count as requests in the throughput (nil: all).
    var countedOperations: Set<String>? { get }
    /// Runs before the clock starts (loading keys, opening watches).
    func prepare(_ context: LoadContext) async throws
    /// The request every client sends, when it is one unary call (nil: use `makeClient`).
    func unaryStep(_ context: LoadContext) throws -> UnaryStep?
    /// Builds client `index`'s step, inside that client's task.
    func makeClient(_ index: Int, _ context: LoadContext) async throws -> ClientStep
    /// Runs after the last request: extra latencies (e.g. watch deliveries) and counters.
    func finish(_ context: LoadContext) async throws -> (LatencyRecorder, [String: Int])
}

extension Workload {
    public var parameters: [String: String] { [:] }
    public var countedOperations: Set<String>? { nil }
    public func prepare(_ context: LoadContext) async throws {}
    public func unaryStep(_ context: LoadContext) throws -> UnaryStep? { nil }

    /// The async form of `unaryStep`.
    public func makeClient(_ index: Int, _ context: LoadContext) async throws -> ClientStep {
        guard let step = try unaryStep(context) else { throw BenchError("\(name) defines no client step") }
        let connection = context.connection(forClient: index)
        return { request in
            let (bytes, kind) = try step.make(request)
            _ = try await connection.unary(step.path, request: bytes, timeout: .seconds(30))
            return kind
        }
    }
    public func finish(_ context: LoadContext) async throws -> (LatencyRecorder, [String: Int]) {
        (LatencyRecorder(), [:])
    }
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

    /// The next request's number and how long to wait before sending it, or nil when the run is over.
    func take() -> (number: Int, wait: UInt64)? {
        let number = issued.wrappingAdd(1, ordering: .relaxed).oldValue
        let start = startNanoseconds
        let now = monotonicNanoseconds()
        switch stop {
        case .total(let total): if number >= total { return nil }
        case .duration(let duration):
            let (seconds, attoseconds) = duration.components
            if now - start >= UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000) { return nil }
        }
        guard rate > 0 else { return (number, 0) }
        let due = start + UInt64(number) * 1_000_000_000 / UInt64(rate)
        return (number, due > now ? due - now : 0)
    }

    /// The next request's number, after its pacing delay; nil when the run is over.
    func next() async -> Int? {
        guard let (number, wait) = take() else { return nil }
        if wait > 0 { try? await Task.sleep(nanoseconds: wait) }
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
            connections.append(
                try await GRPCClient.connect(GRPCClientConfiguration(host: endpoint.host, port: endpoint.port)))
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
        if let step = try workload.unaryStep(context) {
            budget.begin()
            let startedAt = Date()
            var recorder = LatencyRecorder()
            let clients = (0..<options.clients).map {
                LoopClient(connection: context.connection(forClient: $0), step: step, budget: budget)
            }
            for client in clients { client.start() }
            for client in clients { recorder.merge(try await client.done.futureResult.get()) }
            let seconds = Double(monotonicNanoseconds() - budget.startNanoseconds) / 1e9
            return try await report(workload, context, recorder: recorder, startedAt: startedAt, seconds: seconds)
        }
        // Clients build their steps (a lease grant, a stream) before the clock starts.
        let gate = StartGate(count: options.clients) { budget.begin() }
        let recorder = try await withThrowingTaskGroup(of: LatencyRecorder.self) { group in
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
        return try await report(workload, context, recorder: recorder, startedAt: startedAt, seconds: seconds)
    }

    private static func report(
        _ workload: any Workload, _ context: LoadContext, recorder: LatencyRecorder, startedAt: Date, seconds: Double
    ) async throws -> BenchReport {
        let options = context.options
        var recorder = recorder
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

/// One client of a `UnaryStep` workload, run entirely on its connection's event loop: each answer records its
/// latency and sends the next request, so the load generator spends no thread hop or task per request.
final class LoopClient: @unchecked Sendable {  // mutable state touched only on `connection.eventLoop`
    let done: EventLoopPromise<LatencyRecorder>
    private let connection: GRPCClient
    private let step: UnaryStep
    private let budget: RequestBudget
    private var recorder = LatencyRecorder()

    init(connection: GRPCClient, step: UnaryStep, budget: RequestBudget) {
        self.connection = connection
        self.step = step
        self.budget = budget
        done = connection.eventLoop.makePromise()
    }

    func start() { connection.eventLoop.execute { self.issue() } }

    private func issue() {
        guard let (number, wait) = budget.take() else { return done.succeed(recorder) }
        if wait == 0 { return send(number) }
        connection.eventLoop.scheduleTask(in: .nanoseconds(Int64(wait))) { self.send(number) }
    }

    private func send(_ number: Int) {
        let request: (bytes: [UInt8], kind: String)
        do {
            request = try step.make(number)
        } catch {
            recorder.recordError(describe(error))
            return issue()
        }
        let began = monotonicNanoseconds()
        connection.unary(step.path, request: request.bytes, timeout: .seconds(30)) { result in
            switch result {
            case .success: self.recorder.record(request.kind, nanoseconds: monotonicNanoseconds() - began)
            case .failure(let status): self.recorder.recordError(describe(status))
            }
            self.issue()
        }
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
