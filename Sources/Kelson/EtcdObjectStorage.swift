import EtcdAPI
import EtcdClient
import Foundation
import GRPCWire
import KubeServer
import RevisionLog
import Synchronization

/// `ObjectStorage` on an external etcd (or another Kelson) through its v3 API: `kelson server
/// --datastore-endpoint http://host:2379`. The same transactions kube-apiserver's etcd3 storage sends: a range, a
/// create guarded by `create_revision == 0`, updates and deletes guarded by `mod_revision`, a prefix watch from a
/// revision with previous values.
public struct EtcdObjectStorage: ObjectStorage {
    let client: EtcdClient
    /// Bound on each unary call, as kube-apiserver bounds its etcd requests.
    static let requestTimeout: Duration = .seconds(30)

    public init(client: EtcdClient) { self.client = client }

    public static func connect(endpoint: String) async throws -> EtcdObjectStorage {
        guard let url = URL(string: endpoint), let host = url.host, let scheme = url.scheme,
            scheme == "http" || scheme == "etcd"
        else {
            throw KelsonError(
                "--datastore-endpoint \(endpoint): an etcd endpoint is http://host:port (TLS to etcd is not supported yet)"
            )
        }
        return EtcdObjectStorage(client: try await EtcdClient.connect(host: host, port: url.port ?? 2379))
    }

    public func currentRevision() async throws(StorageFailure) -> Int64 {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data("/registry/".utf8)
        request.countOnly = true
        return try await call { try await client.range(request, timeout: Self.requestTimeout) }.header.revision
    }

    public func get(_ key: String) async throws(StorageFailure) -> StoredObject? {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(key.utf8)
        let response = try await call { try await client.range(request, timeout: Self.requestTimeout) }
        return response.kvs.first.map(Self.object)
    }

    public func list(prefix: String, startKey: String?, limit: Int, revision: Int64) async throws(StorageFailure)
        -> StoredList
    {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data((startKey ?? prefix).utf8)
        request.rangeEnd = Data(KeyRange.prefixEnd(Array(prefix.utf8)))
        request.limit = Int64(limit)
        request.revision = revision
        let response = try await call { try await client.range(request, timeout: Self.requestTimeout) }
        return StoredList(
            objects: response.kvs.map(Self.object), revision: response.header.revision, more: response.more,
            count: response.count)
    }

    public func create(_ key: String, value: [UInt8]) async throws(StorageFailure) -> Int64 {
        var compare = Etcdserverpb_Compare()
        compare.key = Data(key.utf8)
        compare.target = .create
        compare.result = .equal
        compare.createRevision = 0
        var put = Etcdserverpb_RequestOp()
        put.requestPut.key = Data(key.utf8)
        put.requestPut.value = Data(value)
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [compare]
        txn.success = [put]
        let response = try await call { try await client.txn(txn, timeout: Self.requestTimeout) }
        guard response.succeeded else { throw .alreadyExists }
        return response.header.revision
    }

    public func update(_ key: String, value: [UInt8], expectedModRevision: Int64) async throws(StorageFailure)
        -> Int64
    {
        var put = Etcdserverpb_RequestOp()
        put.requestPut.key = Data(key.utf8)
        put.requestPut.value = Data(value)
        return try await swap(key, expectedModRevision: expectedModRevision, put)
    }

    public func delete(_ key: String, expectedModRevision: Int64) async throws(StorageFailure) -> Int64 {
        var delete = Etcdserverpb_RequestOp()
        delete.requestDeleteRange.key = Data(key.utf8)
        return try await swap(key, expectedModRevision: expectedModRevision, delete)
    }

    private func swap(_ key: String, expectedModRevision: Int64, _ operation: Etcdserverpb_RequestOp)
        async throws(StorageFailure) -> Int64
    {
        var compare = Etcdserverpb_Compare()
        compare.key = Data(key.utf8)
        compare.target = .mod
        compare.result = .equal
        compare.modRevision = expectedModRevision
        var read = Etcdserverpb_RequestOp()
        read.requestRange.key = Data(key.utf8)
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [compare]
        txn.success = [operation]
        txn.failure = [read]
        let response = try await call { try await client.txn(txn, timeout: Self.requestTimeout) }
        guard response.succeeded else {
            guard let current = response.responses.first?.responseRange.kvs.first else { throw .notFound }
            throw .conflict(current: Self.object(current))
        }
        return response.header.revision
    }

    public func watch(prefix: String, afterRevision: Int64) throws(StorageFailure) -> any StorageWatch {
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = Data(prefix.utf8)
        create.rangeEnd = Data(KeyRange.prefixEnd(Array(prefix.utf8)))
        create.startRevision = afterRevision + 1
        create.prevKv = true
        return EtcdStorageWatch(client: client, create: create)
    }

    static func object(_ keyValue: Mvccpb_KeyValue) -> StoredObject {
        StoredObject(
            key: String(decoding: keyValue.key, as: UTF8.self), value: Array(keyValue.value),
            modRevision: keyValue.modRevision, createRevision: keyValue.createRevision)
    }

    private func call<Value>(_ body: () async throws -> Value) async throws(StorageFailure) -> Value {
        do {
            return try await body()
        } catch let status as GRPCStatus {
            if status.message.contains("required revision has been compacted") { throw .compacted(compactRevision: 0) }
            if status.message.contains("required revision is a future revision") { throw .futureRevision }
            throw .unavailable("etcd: \(status.message)")
        } catch {
            throw .unavailable("etcd: \(error)")
        }
    }
}

/// A prefix watch on etcd, opened on first use, as storage events.
final class EtcdStorageWatch: StorageWatch {
    let client: EtcdClient
    let create: Etcdserverpb_WatchCreateRequest
    private let stream = Mutex<EtcdWatch?>(nil)
    private let cancelled = ManagedAtomicFlag()

    init(client: EtcdClient, create: Etcdserverpb_WatchCreateRequest) {
        self.client = client
        self.create = create
    }

    func next() async throws(StorageFailure) -> [StorageEvent]? {
        do {
            var current = stream.withLock { $0 }
            if current == nil {
                let opened = try await client.watch(create)
                stream.withLock { $0 = opened }
                if cancelled.isSet { opened.cancel() }
                current = opened
            }
            while let response = try await current?.next() {
                if response.compactRevision > 0 || response.canceled {
                    if response.compactRevision > 0 {
                        throw StorageFailure.compacted(compactRevision: response.compactRevision)
                    }
                    return nil
                }
                if response.created && response.events.isEmpty { continue }
                if response.events.isEmpty { continue }
                return response.events.map(Self.event)
            }
            return nil
        } catch let failure as StorageFailure {
            throw failure
        } catch {
            if cancelled.isSet { return nil }
            throw .unavailable("etcd watch: \(error)")
        }
    }

    func cancel() {
        cancelled.set()
        stream.withLock { $0 }?.cancel()
    }

    static func event(_ event: Mvccpb_Event) -> StorageEvent {
        let current = EtcdObjectStorage.object(event.kv)
        if event.type == .delete {
            var object = event.hasPrevKv ? EtcdObjectStorage.object(event.prevKv) : current
            object.modRevision = event.kv.modRevision
            return StorageEvent(kind: .deleted, object: object, previous: nil)
        }
        return StorageEvent(
            kind: current.createRevision == current.modRevision ? .added : .modified, object: current,
            previous: event.hasPrevKv ? EtcdObjectStorage.object(event.prevKv) : nil)
    }
}

/// A flag set once, read from any thread.
final class ManagedAtomicFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
