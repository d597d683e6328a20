import EtcdAPI
import EtcdClient
import Foundation
import GRPCWire
import SwiftProtobuf
import Synchronization

/// Drives Kubernetes-like traffic at an etcd API server with concurrent clients (Kelson's own gRPC client) and
/// records every operation for `LinearizabilityChecker`, plus one `prev_kv` watch over the whole key space for
/// `WatchValidator`:
/// - gets of one key (kube-apiserver's quorum reads);
/// - creates: `Txn` if `mod_revision(key) == 0` then put;
/// - guarded updates and deletes: `Txn` if `mod_revision(key) == X` then put / delete, with X the mod revision this
///   client last saw for the key (so some compares fail, as stale updates do in Kubernetes);
/// - blind puts and plain deletes, now and then.
///
/// A call that fails (timeout, lost connection, server gone) is recorded without a response: its outcome is unknown.
public struct TrafficRecorder: Sendable {
    public var clients = 6
    public var keys = 8
    public var operationsPerClient = 250
    public var prefix = "/registry/pods/default/"
    public var callTimeout: Duration = .seconds(5)

    public init() {}

    public struct Recording: Sendable {
        public var history: History
        public var watch: WatchRecord
        /// Writes with a known outcome that changed a key, for the watch's reliability check.
        public var committed: [CommittedWrite]
        /// The revision the store had when the traffic started (the model's initial revision).
        public var startRevision: Int64
    }

    /// Runs the traffic against `host:port`, which must start with no keys under `prefix`.
    public func run(host: String, port: Int) async throws -> Recording {
        let probe = try await EtcdClient.connect(host: host, port: port)
        var head = Etcdserverpb_RangeRequest()
        head.key = Data("kelson-robustness-probe".utf8)
        let startRevision = try await probe.range(head, timeout: callTimeout).header.revision
        await probe.close()

        let clock = ContinuousClock()
        let origin = clock.now
        let watcher = try await WatchCollector.start(
            host: host, port: port, prefix: prefix, startRevision: startRevision + 1)
        let operations = try await withThrowingTaskGroup(of: [Operation].self) { group in
            for client in 0..<clients {
                group.addTask { try await runClient(client, host: host, port: port, clock: clock, origin: origin) }
            }
            var all: [Operation] = []
            for try await operations in group { all += operations }
            return all
        }
        let committed = Self.committedWrites(operations)
        let lastRevision = committed.map(\.revision).max() ?? startRevision
        let responses = try await watcher.finish(through: lastRevision, timeout: .seconds(15))
        let watch = WatchRecord(prefix: prefix, startRevision: startRevision + 1, prevKV: true, responses: responses)
        return Recording(
            history: History(operations), watch: watch, committed: committed, startRevision: startRevision)
    }

    private func runClient(
        _ client: Int, host: String, port: Int, clock: ContinuousClock, origin: ContinuousClock.Instant
    ) async throws -> [Operation] {
        var connection = try await EtcdClient.connect(host: host, port: port)
        var seen: [String: Int64] = [:]
        var operations: [Operation] = []
        var generator = SystemRandomNumberGenerator()
        func nanoseconds() -> UInt64 {
            let elapsed = clock.now - origin
            return UInt64(elapsed.components.seconds) * 1_000_000_000
                + UInt64(elapsed.components.attoseconds / 1_000_000_000)
        }
        for index in 0..<operationsPerClient {
            let key = prefix + "pod-\(Int.random(in: 0..<keys, using: &generator))"
            let value = "c\(client)-\(index)"
            let roll = Int.random(in: 0..<100, using: &generator)
            let request: Operation.Request
            switch roll {
            case 0..<35: request = .get(key: key)
            case 35..<55: request = .create(key: key, value: value)
            case 55..<80: request = .update(key: key, modRevision: seen[key] ?? 0, value: value)
            case 80..<90: request = .delete(key: key, modRevision: seen[key] ?? 0)
            case 90..<96: request = .put(key: key, value: value)
            default: request = .delete(key: key, modRevision: nil)
            }
            let invoked = nanoseconds()
            do {
                let response = try await Self.perform(request, on: connection, timeout: callTimeout)
                operations.append(
                    Operation(
                        client: client, request: request, invoked: invoked, returned: nanoseconds(),
                        response: response))
                if case .get(_, let modRevision, _) = response { seen[key] = modRevision }
            } catch {
                // A read that failed changed nothing; a write that failed may or may not have happened.
                if case .get = request {
                } else {
                    operations.append(
                        Operation(client: client, request: request, invoked: invoked, returned: nil, response: nil))
                }
                // The connection may be gone (a restarted server): open a new one for what follows.
                await connection.close()
                connection = try await Self.reconnect(host: host, port: port)
            }
        }
        await connection.close()
        return operations
    }

    private static func reconnect(host: String, port: Int) async throws -> EtcdClient {
        var lastError: (any Error)?
        for _ in 0..<100 {
            do {
                return try await EtcdClient.connect(host: host, port: port)
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw lastError!
    }

    static func perform(_ request: Operation.Request, on client: EtcdClient, timeout: Duration) async throws
        -> Operation.Response
    {
        switch request {
        case .get(let key):
            var range = Etcdserverpb_RangeRequest()
            range.key = Data(key.utf8)
            let response = try await client.range(range, timeout: timeout)
            let keyValue = response.kvs.first
            return .get(
                value: keyValue.map { String(decoding: $0.value, as: UTF8.self) },
                modRevision: keyValue?.modRevision ?? 0,
                revision: response.header.revision)
        case .put(let key, let value):
            var put = Etcdserverpb_PutRequest()
            put.key = Data(key.utf8)
            put.value = Data(value.utf8)
            return .put(revision: try await client.put(put, timeout: timeout).header.revision)
        case .create(let key, let value):
            return try await guarded(client, key: key, modRevision: 0, then: .put(value), timeout: timeout)
        case .update(let key, let modRevision, let value):
            return try await guarded(client, key: key, modRevision: modRevision, then: .put(value), timeout: timeout)
        case .delete(let key, let modRevision?):
            return try await guarded(client, key: key, modRevision: modRevision, then: .delete, timeout: timeout)
        case .delete(let key, nil):
            var delete = Etcdserverpb_DeleteRangeRequest()
            delete.key = Data(key.utf8)
            let response = try await client.deleteRange(delete, timeout: timeout)
            return .delete(deleted: response.deleted, revision: response.header.revision)
        }
    }

    private enum Then {
        case put(String)
        case delete
    }

    private static func guarded(
        _ client: EtcdClient, key: String, modRevision: Int64, then: Then, timeout: Duration
    ) async throws -> Operation.Response {
        var compare = Etcdserverpb_Compare()
        compare.key = Data(key.utf8)
        compare.target = .mod
        compare.result = .equal
        compare.modRevision = modRevision
        var operation = Etcdserverpb_RequestOp()
        switch then {
        case .put(let value):
            var put = Etcdserverpb_PutRequest()
            put.key = Data(key.utf8)
            put.value = Data(value.utf8)
            operation.requestPut = put
        case .delete:
            var delete = Etcdserverpb_DeleteRangeRequest()
            delete.key = Data(key.utf8)
            operation.requestDeleteRange = delete
        }
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [compare]
        txn.success = [operation]
        let response = try await client.txn(txn, timeout: timeout)
        return .txn(succeeded: response.succeeded, revision: response.header.revision)
    }

    /// Writes whose response shows they changed a key, with their revisions.
    static func committedWrites(_ operations: [Operation]) -> [CommittedWrite] {
        var writes: [CommittedWrite] = []
        for operation in operations {
            switch (operation.request, operation.response) {
            case (.put(let key, _), .put(let revision)?),
                (.create(let key, _), .txn(true, let revision)?),
                (.update(let key, _, _), .txn(true, let revision)?):
                writes.append(CommittedWrite(key: key, revision: revision, deleted: false))
            case (.delete(let key, let modRevision?), .txn(true, let revision)?) where modRevision > 0:
                writes.append(CommittedWrite(key: key, revision: revision, deleted: true))
            case (.delete(let key, nil), .delete(1, let revision)?):
                writes.append(CommittedWrite(key: key, revision: revision, deleted: true))
            default: break
            }
        }
        return writes
    }
}

/// One `prev_kv` watch over a prefix, collecting every response's events until told to finish.
final class WatchCollector: Sendable {
    private let stream: GRPCClientStream
    private let client: GRPCClient
    /// A class around the Mutex, so the reading task can share it.
    private final class Collected: Sendable {
        let state = Mutex<(responses: [[WatchRecord.Event]], last: Int64, failure: String?)>(([], 0, nil))
    }
    private let collected = Collected()
    private let reader: Task<Void, Never>

    private init(client: GRPCClient, stream: GRPCClientStream) {
        self.client = client
        self.stream = stream
        let collected = collected
        reader = Task {
            do {
                for try await message in stream.responses {
                    let response = try Etcdserverpb_WatchResponse(serializedBytes: message)
                    let events = response.events.map(WatchCollector.event)
                    collected.state.withLock { state in
                        if !events.isEmpty { state.responses.append(events) }
                        state.last = max(state.last, events.last?.modRevision ?? 0)
                    }
                }
            } catch {
                collected.state.withLock { $0.failure = "\(error)" }
            }
        }
    }

    static func start(host: String, port: Int, prefix: String, startRevision: Int64) async throws -> WatchCollector {
        let client = try await GRPCClient.connect(GRPCClientConfiguration(host: host, port: port))
        let stream = try await client.openStream("/etcdserverpb.Watch/Watch")
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = Data(prefix.utf8)
        var end = Array(prefix.utf8)
        end[end.count - 1] += 1
        create.rangeEnd = Data(end)
        create.startRevision = startRevision
        create.prevKv = true
        var request = Etcdserverpb_WatchRequest()
        request.createRequest = create
        try await stream.send(try request.serializedBytes())
        return WatchCollector(client: client, stream: stream)
    }

    /// Waits (bounded) until the watch delivered `revision`, then closes it and returns what it got.
    func finish(through revision: Int64, timeout: Duration) async throws -> [[WatchRecord.Event]] {
        let deadline = ContinuousClock.now + timeout
        while collected.state.withLock({ $0.last < revision && $0.failure == nil }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        stream.cancel()
        _ = await reader.value
        await client.close()
        return collected.state.withLock { $0.responses }
    }

    private static func event(_ event: Mvccpb_Event) -> WatchRecord.Event {
        let keyValue = event.kv
        let previous =
            event.hasPrevKv
            ? (value: String(decoding: event.prevKv.value, as: UTF8.self), modRevision: event.prevKv.modRevision) : nil
        return WatchRecord.Event(
            kind: event.type == .delete ? .delete : .put, key: String(decoding: keyValue.key, as: UTF8.self),
            value: String(decoding: keyValue.value, as: UTF8.self), createRevision: keyValue.createRevision,
            modRevision: keyValue.modRevision, version: keyValue.version, previous: previous)
    }
}
