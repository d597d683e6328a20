import EtcdAPI
import EtcdClient
import Foundation
import GRPCWire
import RevisionLog
import SwiftProtobuf

/// Drives Kubernetes-like traffic at an etcd API server with concurrent clients (Kelson's own gRPC client) and
/// records every operation for `LinearizabilityChecker`, plus one `prev_kv` watch over the whole key space for
/// `WatchValidator`:
/// - gets of one key (kube-apiserver's quorum reads);
/// - creates: `Txn` if `mod_revision(key) == 0` then put;
/// - guarded updates and deletes: `Txn` if `mod_revision(key) == X` then put / delete, with X the mod revision this
///   client last saw for the key (so some compares fail, as stale updates do in Kubernetes);
/// - blind puts and plain deletes, now and then;
/// - paginated lists of the whole prefix, a few keys per page, as kube-apiserver lists and its reflectors relist
///   (the next page from the last key + `\0` at the first page's revision).
///
/// A call that fails (timeout, lost connection, server gone) is recorded without a response: its outcome is unknown.
public struct TrafficRecorder: Sendable {
    public var clients = 6
    public var keys = 8
    public var operationsPerClient = 250
    /// When set, clients run until it has passed instead of for `operationsPerClient` operations.
    public var duration: Duration?
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
        /// How often the watch lost its stream and resumed.
        public var watchResumptions: Int
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
        // A last read of every key, after everything else: an acknowledged write that was lost shows up here.
        var finalReads: [Operation] = []
        let reader = try await Self.reconnect(host: host, port: port)
        for key in 0..<keys {
            let request = Operation.Request.get(key: prefix + "pod-\(key)")
            let invoked = Self.nanoseconds(clock: clock, since: origin)
            let (response, returned) = try await Self.perform(
                request, on: reader, timeout: callTimeout, now: { Self.nanoseconds(clock: clock, since: origin) })
            finalReads.append(
                Operation(client: clients, request: request, invoked: invoked, returned: returned, response: response))
        }
        await reader.close()
        let committed = Self.committedWrites(operations)
        // The final reads saw the store's last revision: the watch must get that far.
        var lastRevision = committed.map(\.revision).max() ?? startRevision
        for read in finalReads {
            if case .get(_, _, let revision)? = read.response { lastRevision = max(lastRevision, revision) }
        }
        let responses = try await watcher.finish(through: lastRevision, timeout: .seconds(15))
        let watch = WatchRecord(prefix: prefix, startRevision: startRevision + 1, prevKV: true, responses: responses)
        return Recording(
            history: History(operations + finalReads), watch: watch, committed: committed,
            startRevision: startRevision, watchResumptions: watcher.resumptions)
    }

    private func runClient(
        _ client: Int, host: String, port: Int, clock: ContinuousClock, origin: ContinuousClock.Instant
    ) async throws -> [Operation] {
        var connection = try await EtcdClient.connect(host: host, port: port)
        var seen: [String: Int64] = [:]
        var operations: [Operation] = []
        var generator = SystemRandomNumberGenerator()
        func nanoseconds() -> UInt64 { Self.nanoseconds(clock: clock, since: origin) }
        let deadline = duration.map { origin + $0 }
        var index = 0
        while deadline.map({ clock.now < $0 }) ?? (index < operationsPerClient) {
            defer { index += 1 }
            let key = prefix + "pod-\(Int.random(in: 0..<keys, using: &generator))"
            let value = "c\(client)-\(index)"
            let roll = Int.random(in: 0..<100, using: &generator)
            let request: Operation.Request
            switch roll {
            case 0..<30: request = .get(key: key)
            case 30..<35: request = .list(prefix: prefix, limit: Int64.random(in: 1...4, using: &generator))
            case 35..<55: request = .create(key: key, value: value)
            case 55..<80: request = .update(key: key, modRevision: seen[key] ?? 0, value: value)
            case 80..<90: request = .delete(key: key, modRevision: seen[key] ?? 0)
            case 90..<96: request = .put(key: key, value: value)
            default: request = .delete(key: key, modRevision: nil)
            }
            let invoked = nanoseconds()
            do {
                let (response, returned) = try await Self.perform(
                    request, on: connection, timeout: callTimeout, now: nanoseconds)
                operations.append(
                    Operation(
                        client: client, request: request, invoked: invoked, returned: returned, response: response))
                switch response {
                case .get(_, let modRevision, _): seen[key] = modRevision
                case .list(_, let pages):
                    for keyValue in pages.flatMap(\.keyValues) { seen[keyValue.key] = keyValue.modRevision }
                default: break
                }
            } catch {
                // A read that failed changed nothing; a write that failed may or may not have happened.
                switch request {
                case .get, .list: break
                default:
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

    static func nanoseconds(clock: ContinuousClock, since origin: ContinuousClock.Instant) -> UInt64 {
        let elapsed = clock.now - origin
        return UInt64(elapsed.components.seconds) * 1_000_000_000
            + UInt64(elapsed.components.attoseconds / 1_000_000_000)
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

    /// Runs `request`: its response, and when it returned by `now` (for a list, when its first page did).
    static func perform(
        _ request: Operation.Request, on client: EtcdClient, timeout: Duration, now: () -> UInt64
    ) async throws -> (Operation.Response, returned: UInt64) {
        let response: Operation.Response
        switch request {
        case .get(let key):
            var range = Etcdserverpb_RangeRequest()
            range.key = Data(key.utf8)
            let answer = try await client.range(range, timeout: timeout)
            let keyValue = answer.kvs.first
            response = .get(
                value: keyValue.map { String(decoding: $0.value, as: UTF8.self) },
                modRevision: keyValue?.modRevision ?? 0,
                revision: answer.header.revision)
        case .put(let key, let value):
            var put = Etcdserverpb_PutRequest()
            put.key = Data(key.utf8)
            put.value = Data(value.utf8)
            response = .put(revision: try await client.put(put, timeout: timeout).header.revision)
        case .create(let key, let value):
            response = try await guarded(client, key: key, modRevision: 0, then: .put(value), timeout: timeout)
        case .update(let key, let modRevision, let value):
            response = try await guarded(
                client, key: key, modRevision: modRevision, then: .put(value), timeout: timeout)
        case .delete(let key, let modRevision?):
            response = try await guarded(client, key: key, modRevision: modRevision, then: .delete, timeout: timeout)
        case .delete(let key, nil):
            var delete = Etcdserverpb_DeleteRangeRequest()
            delete.key = Data(key.utf8)
            let answer = try await client.deleteRange(delete, timeout: timeout)
            response = .delete(deleted: answer.deleted, revision: answer.header.revision)
        case .list(let prefix, let limit):
            return try await list(prefix: prefix, limit: limit, on: client, timeout: timeout, now: now)
        }
        return (response, now())
    }

    /// Pages a list may take before the recorder stops following it (eight keys, one per page, take eight).
    static let maximumListPages = 1_000

    /// A list the way kube-apiserver pages one: `limit` keys per Range over the prefix, the first at the latest
    /// revision, each next one from the last key returned + `\0` at the first page's revision, until a page says
    /// there is no more. A server that keeps saying `more` gets a list the model refuses (its last page says more).
    private static func list(
        prefix: String, limit: Int64, on client: EtcdClient, timeout: Duration, now: () -> UInt64
    ) async throws -> (Operation.Response, returned: UInt64) {
        var range = Etcdserverpb_RangeRequest()
        range.key = Data(prefix.utf8)
        range.rangeEnd = Data(KeyRange.prefixEnd(Array(prefix.utf8)))
        range.limit = limit
        var pages: [Operation.Page] = []
        var firstReturned: UInt64 = 0
        while pages.count < maximumListPages {
            let answer = try await client.range(range, timeout: timeout)
            if pages.isEmpty {
                firstReturned = now()
                range.revision = answer.header.revision
            }
            let keyValues = answer.kvs.map {
                Operation.KeyValue(
                    key: String(decoding: $0.key, as: UTF8.self), value: String(decoding: $0.value, as: UTF8.self),
                    modRevision: $0.modRevision)
            }
            pages.append(
                Operation.Page(
                    keyValues: keyValues, more: answer.more, count: answer.count, headerRevision: answer.header.revision
                ))
            guard answer.more, let last = answer.kvs.last else { break }
            range.key = last.key + [0]
        }
        return (.list(revision: range.revision, pages: pages), firstReturned)
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
