import EtcdAPI
import Foundation
import GRPCWire
import RevisionLog
import Synchronization

/// `kubernetes`: what kube-apiserver sends for one resource type. The key space holds `--key-space-size`
/// objects under `--key-prefix`; each client owns the objects whose index ≡ its own modulo the client count
/// and remembers their mod revisions, as the API server's cache does. Each request is one of:
/// - create (whenever the chosen object is absent): Txn(mod_revision == 0 → Put, else Get)
/// - update: Txn(mod_revision == last → Put, else Get)
/// - delete (10%): Txn(mod_revision == last → Delete, else Get)
/// - list (5% of requests): a paginated list of the prefix, `--page-size` keys a page, all pages at the
///   revision of the first (what a LIST without resourceVersion does through etcd).
/// Meanwhile `--watchers` streams watch the prefix with progress notifications and request progress every
/// second (as the API server's watch cache does); their event counts are reported.
public struct KubernetesWorkload: Workload {
    public var watchers: Int
    public var pageSize: Int64
    private let state = KubernetesState()

    public init(watchers: Int, pageSize: Int64) {
        self.watchers = watchers
        self.pageSize = pageSize
    }

    public var name: String { "kubernetes" }
    public var parameters: [String: String] { ["watchers": String(watchers), "page-size": String(pageSize)] }

    public func prepare(_ context: LoadContext) async throws {
        let prefix = context.keys.prefix
        var create = Etcdserverpb_WatchRequest()
        create.createRequest.key = Data(prefix)
        create.createRequest.rangeEnd = Data(KeyRange.prefixEnd(prefix))
        create.createRequest.progressNotify = true
        var progress = Etcdserverpb_WatchRequest()
        progress.progressRequest = Etcdserverpb_WatchProgressRequest()
        let createMessage: [UInt8] = try create.serializedBytes()
        let progressMessage: [UInt8] = try progress.serializedBytes()
        for index in 0..<watchers {
            let stream = try await context.connection(forClient: index).openStream(Requests.watch)
            var responses = stream.responses.makeAsyncIterator()
            try await stream.send(createMessage)
            guard let first = try await responses.next(), try Etcdserverpb_WatchResponse(serializedBytes: first).created
            else { throw BenchError("the watch was not created") }
            let state = state
            let reader = Task {
                do {
                    while let bytes = try await responses.next() {
                        let response = try Etcdserverpb_WatchResponse(serializedBytes: bytes)
                        if response.events.isEmpty { state.count("progress-notifications") }
                        state.count("watch-events", response.events.count)
                    }
                } catch {
                    if !Task.isCancelled, (error as? GRPCStatus)?.code != .cancelled {
                        state.count("watch-failures")
                    }
                }
            }
            let ticker = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    try? await stream.send(progressMessage)
                }
            }
            state.add(stream: stream, tasks: [reader, ticker])
        }
    }

    public func makeClient(_ index: Int, _ context: LoadContext) async throws -> ClientStep {
        let clients = context.options.clients
        guard context.keys.space >= clients else {
            throw BenchError("kubernetes needs --key-space-size (\(context.keys.space)) ≥ --clients (\(clients))")
        }
        let connection = context.connection(forClient: index)
        let prefix = context.keys.prefix
        let prefixEnd = KeyRange.prefixEnd(prefix)
        let serializable = context.options.serializable
        let pageSize = pageSize
        let state = state
        // Owned objects and their mod revisions (0: absent).
        let owned = Array(stride(from: index, to: context.keys.space, by: clients))
        var revisions = [Int64](repeating: 0, count: owned.count)

        func list() async throws {
            var start = prefix
            var revision: Int64 = 0
            while true {
                let page: Etcdserverpb_RangeResponse = try await context.call(
                    connection, Requests.range,
                    Requests.range(
                        start, end: prefixEnd, limit: pageSize, revision: revision, serializable: serializable))
                revision = page.header.revision
                guard page.more, let last = page.kvs.last else { return }
                start = Array(last.key) + [0]
            }
        }

        return { _ in
            let roll = Int.random(in: 0..<100)
            if roll < 5 {
                try await list()
                return "list"
            }
            let slot = Int.random(in: 0..<owned.count)
            let key = context.keys.key(index: owned[slot])
            let operation: Etcdserverpb_RequestOp
            let kind: String
            if revisions[slot] == 0 {
                (operation, kind) = (Requests.operation(Requests.put(key, context.value)), "create")
            } else if roll < 15 {
                (operation, kind) = (Requests.operation(delete: key), "delete")
            } else {
                (operation, kind) = (Requests.operation(Requests.put(key, context.value)), "update")
            }
            let txn = Requests.guarded(key, modRevision: revisions[slot], then: operation)
            let answer: Etcdserverpb_TxnResponse = try await context.call(connection, Requests.txn, txn)
            if answer.succeeded {
                revisions[slot] = kind == "delete" ? 0 : answer.header.revision
                state.count("writes")
            } else {
                // Someone else changed it: take what the Get in the failure branch saw.
                revisions[slot] = answer.responses.first?.responseRange.kvs.first?.modRevision ?? 0
                state.count("conflicts")
            }
            return kind
        }
    }

    public func finish(_ context: LoadContext) async throws -> (LatencyRecorder, [String: Int]) {
        // Let the watchers catch up with the last writes before counting.
        let deadline = ContinuousClock.now + .seconds(10)
        while state.counter("watch-events") < state.counter("writes") * watchers, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        for (stream, tasks) in state.takeStreams() {
            stream.cancel()
            for task in tasks {
                task.cancel()
                await task.value
            }
        }
        var counters = state.counters
        counters["watchers"] = watchers
        return (LatencyRecorder(), counters)
    }
}

final class KubernetesState: Sendable {
    private struct State {
        var counters: [String: Int] = [:]
        var streams: [(GRPCClientStream, [Task<Void, Never>])] = []
    }

    private let state = Mutex(State())

    func count(_ name: String, _ amount: Int = 1) { state.withLock { $0.counters[name, default: 0] += amount } }
    func counter(_ name: String) -> Int { state.withLock { $0.counters[name] ?? 0 } }
    var counters: [String: Int] { state.withLock { $0.counters } }

    func add(stream: GRPCClientStream, tasks: [Task<Void, Never>]) {
        state.withLock { $0.streams.append((stream, tasks)) }
    }

    func takeStreams() -> [(GRPCClientStream, [Task<Void, Never>])] {
        state.withLock { state in
            defer { state.streams = [] }
            return state.streams
        }
    }
}
