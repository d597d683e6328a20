import EtcdAPI
import Foundation
import GRPCWire
import Synchronization

/// `watch-latency`: `streams` × `watchersPerStream` watchers on one key, then Puts to that key at `--rate`;
/// each event's latency is the time from the start of its Put to the watcher receiving it. Each value starts
/// with the put's number so a watcher can find when it started.
public struct WatchLatencyWorkload: Workload {
    public var streams: Int
    public var watchersPerStream: Int
    /// How long `finish` waits for the last events after the last put.
    public var drainTimeout: Duration = .seconds(10)
    private let state = WatchLatencyState()

    public init(streams: Int, watchersPerStream: Int) {
        self.streams = streams
        self.watchersPerStream = watchersPerStream
    }

    public var name: String { "watch-latency" }
    public var countedOperations: Set<String>? { ["put"] }
    public var parameters: [String: String] {
        ["streams": String(streams), "watchers-per-stream": String(watchersPerStream)]
    }

    static let numberDigits = 12

    private func key(_ context: LoadContext) -> [UInt8] { context.keys.key(index: 0) }

    public func prepare(_ context: LoadContext) async throws {
        var create = Etcdserverpb_WatchRequest()
        create.createRequest.key = Data(key(context))
        let createMessage: [UInt8] = try create.serializedBytes()
        for index in 0..<streams {
            let stream = try await context.connection(forClient: index).openStream(Requests.watch)
            var responses = stream.responses.makeAsyncIterator()
            for _ in 0..<watchersPerStream { try await stream.send(createMessage) }
            var created = 0
            while created < watchersPerStream {
                guard let bytes = try await responses.next() else { throw BenchError("watch stream ended") }
                if try Etcdserverpb_WatchResponse(serializedBytes: bytes).created { created += 1 }
            }
            let state = state
            let task = Task {
                var recorder = LatencyRecorder()
                do {
                    while let bytes = try await responses.next() {
                        let received = monotonicNanoseconds()
                        let response = try Etcdserverpb_WatchResponse(serializedBytes: bytes)
                        for event in response.events {
                            let number = Int(String(decoding: event.kv.value.prefix(Self.numberDigits), as: UTF8.self))
                            if let number, let started = state.started(number) {
                                recorder.record("watch", nanoseconds: received &- started)
                            }
                            state.received()
                        }
                    }
                } catch is CancellationError {
                } catch let status as GRPCStatus where status.code == .cancelled {
                } catch {
                    recorder.recordError("watch: \(describe(error))")
                }
                return recorder
            }
            state.add(stream: stream, task: task)
        }
    }

    public func makeClient(_ index: Int, _ context: LoadContext) async throws -> ClientStep {
        let connection = context.connection(forClient: index)
        let key = key(context)
        let padding = context.value.dropFirst(Self.numberDigits)
        let state = state
        return { request in
            let number = Array(String(request).utf8)
            var value = [UInt8](repeating: UInt8(ascii: "0"), count: max(0, Self.numberDigits - number.count)) + number
            value.append(contentsOf: padding)
            state.start(request)
            let _: Etcdserverpb_PutResponse = try await context.call(connection, Requests.put, Requests.put(key, value))
            state.acknowledged()
            return "put"
        }
    }

    public func finish(_ context: LoadContext) async throws -> (LatencyRecorder, [String: Int]) {
        let expected = state.acknowledgedCount * streams * watchersPerStream
        let deadline = ContinuousClock.now + drainTimeout
        while state.receivedCount < expected, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        var recorder = LatencyRecorder()
        for (stream, task) in state.takeStreams() {
            stream.cancel()
            recorder.merge(await task.value)
        }
        return (
            recorder,
            [
                "watchers": streams * watchersPerStream, "events-expected": expected,
                "events-received": state.receivedCount,
            ]
        )
    }
}

/// Shared between the putting clients and the watch readers.
final class WatchLatencyState: Sendable {
    private struct State {
        var starts: [Int: UInt64] = [:]
        var acknowledged = 0
        var received = 0
        var streams: [(GRPCClientStream, Task<LatencyRecorder, Never>)] = []
    }

    private let state = Mutex(State())

    func start(_ number: Int) {
        let now = monotonicNanoseconds()
        state.withLock { $0.starts[number] = now }
    }

    func started(_ number: Int) -> UInt64? { state.withLock { $0.starts[number] } }
    func acknowledged() { state.withLock { $0.acknowledged += 1 } }
    func received() { state.withLock { $0.received += 1 } }
    var acknowledgedCount: Int { state.withLock { $0.acknowledged } }
    var receivedCount: Int { state.withLock { $0.received } }

    func add(stream: GRPCClientStream, task: Task<LatencyRecorder, Never>) {
        state.withLock { $0.streams.append((stream, task)) }
    }

    func takeStreams() -> [(GRPCClientStream, Task<LatencyRecorder, Never>)] {
        state.withLock { state in
            defer { state.streams = [] }
            return state.streams
        }
    }
}
