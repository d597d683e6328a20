import RevisionLog

/// `ObjectStorage` on the store in this process: every call is one store operation, answered through the store's
/// own door (no threads here), and watches come from the same `WatchHub` the etcd API uses.
public struct LocalObjectStorage: ObjectStorage {
    let store: Store
    let hub: WatchHub

    public init(store: Store, hub: WatchHub) {
        self.store = store
        self.hub = hub
    }

    public func currentRevision() async throws(StorageFailure) -> Int64 {
        try await call { store.revisions(completion: $0) }.revision
    }

    public func get(_ key: String) async throws(StorageFailure) -> StoredObject? {
        let result = try await call { store.range(RangeRequest(range: .single(Array(key.utf8))), completion: $0) }
        return result.keyValues.first.map(Self.object)
    }

    public func list(prefix: String, startKey: String?, limit: Int, revision: Int64) async throws(StorageFailure)
        -> StoredList
    {
        let end = KeyRange.prefixEnd(Array(prefix.utf8))
        var request = RangeRequest(range: .interval(start: Array((startKey ?? prefix).utf8), end: end))
        request.limit = Int64(limit)
        request.revision = revision
        let result = try await call { store.range(request, completion: $0) }
        return StoredList(
            objects: result.keyValues.map(Self.object), revision: result.revision, more: result.more,
            count: result.count)
    }

    public func create(_ key: String, value: [UInt8]) async throws(StorageFailure) -> Int64 {
        let bytes = Array(key.utf8)
        let txn = TxnRequest(
            compares: [Compare(range: .single(bytes), target: .createRevision(0), comparison: .equal)],
            success: [.put(PutRequest(key: bytes, value: value))])
        let result = try await call { store.txn(txn, completion: $0) }
        guard result.succeeded else { throw .alreadyExists }
        return result.revision
    }

    public func update(_ key: String, value: [UInt8], expectedModRevision: Int64) async throws(StorageFailure)
        -> Int64
    {
        try await swap(
            key, expectedModRevision: expectedModRevision, .put(PutRequest(key: Array(key.utf8), value: value)))
    }

    public func delete(_ key: String, expectedModRevision: Int64) async throws(StorageFailure) -> Int64 {
        try await swap(
            key, expectedModRevision: expectedModRevision, .delete(DeleteRequest(range: .single(Array(key.utf8)))))
    }

    /// One txn: if the key's mod revision is still the expected one, `operation`; otherwise read what is there, so
    /// the caller can retry against it without another round trip (kube-apiserver's GuaranteedUpdate does this).
    private func swap(_ key: String, expectedModRevision: Int64, _ operation: TxnOperation) async throws(StorageFailure)
        -> Int64
    {
        let bytes = Array(key.utf8)
        let txn = TxnRequest(
            compares: [Compare(range: .single(bytes), target: .modRevision(expectedModRevision), comparison: .equal)],
            success: [operation], failure: [.range(RangeRequest(range: .single(bytes)))])
        let result = try await call { store.txn(txn, completion: $0) }
        guard result.succeeded else {
            guard case .range(let range) = result.results.first, let current = range.keyValues.first else {
                throw .notFound
            }
            throw .conflict(current: Self.object(current))
        }
        return result.revision
    }

    public func watch(prefix: String, afterRevision: Int64) throws(StorageFailure) -> any StorageWatch {
        var request = WatchRequest(
            range: .interval(start: Array(prefix.utf8), end: KeyRange.prefixEnd(Array(prefix.utf8))))
        request.startRevision = afterRevision + 1
        request.previousKeyValues = true
        do {
            return LocalStorageWatch(watcher: try hub.watch(request))
        } catch {
            let failure = Self.failure(error)
            if case .compacted = failure { throw .compacted(compactRevision: store.compactRevision) }
            throw failure
        }
    }

    static func object(_ keyValue: KeyValue) -> StoredObject {
        StoredObject(
            key: String(decoding: keyValue.key, as: UTF8.self), value: keyValue.value,
            modRevision: keyValue.modRevision, createRevision: keyValue.createRevision)
    }

    static func failure(_ error: StoreError) -> StorageFailure {
        switch error.code {
        case .compacted: .compacted(compactRevision: 0)
        case .futureRevision: .futureRevision
        case .tooManyRequests: .tooManyRequests
        default: .unavailable(error.description)
        }
    }

    private func call<Value: Sendable>(
        _ body: (@escaping @Sendable (Result<Value, StoreError>) -> Void) -> Void
    ) async throws(StorageFailure) -> Value {
        do {
            return try await Store.awaiting(body)
        } catch {
            var failure = Self.failure(error)
            if case .compacted = failure { failure = .compacted(compactRevision: store.compactRevision) }
            throw failure
        }
    }
}

/// A store watcher seen as storage events.
final class LocalStorageWatch: StorageWatch {
    let watcher: Watcher

    init(watcher: Watcher) { self.watcher = watcher }

    func next() async throws(StorageFailure) -> [StorageEvent]? {
        while true {
            let delivery: WatchDelivery?
            do {
                delivery = try await watcher.next()
            } catch {
                throw LocalObjectStorage.failure(error)
            }
            switch delivery {
            case nil:
                return nil
            case .compacted(let compactRevision):
                throw .compacted(compactRevision: compactRevision)
            case .progress:
                continue
            case .events(_, let events):
                watcher.confirmSent()
                return events.map(Self.event)
            }
        }
    }

    func cancel() { watcher.cancel() }

    static func event(_ event: WatchEvent) -> StorageEvent {
        switch event.kind {
        case .put:
            let object = LocalObjectStorage.object(event.keyValue)
            return StorageEvent(
                kind: object.createRevision == object.modRevision ? .added : .modified, object: object,
                previous: event.previous.map(LocalObjectStorage.object))
        case .delete:
            var object = LocalObjectStorage.object(event.previous ?? event.keyValue)
            object.modRevision = event.keyValue.modRevision
            return StorageEvent(kind: .deleted, object: object, previous: nil)
        }
    }
}
