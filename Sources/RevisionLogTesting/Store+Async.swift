import RevisionLog

/// Async forms of the store's operations, for tests: the store itself has one (completion) form per operation,
/// and these are each that form through `Store.awaiting`.
extension Store {
    public func put(_ request: PutRequest) async throws(StoreError) -> PutResult {
        try await Store.awaiting { put(request, completion: $0) }
    }

    public func delete(_ request: DeleteRequest) async throws(StoreError) -> DeleteResult {
        try await Store.awaiting { delete(request, completion: $0) }
    }

    public func txn(_ request: TxnRequest) async throws(StoreError) -> TxnResult {
        try await Store.awaiting { txn(request, completion: $0) }
    }

    public func compact(revision: Int64, physical: Bool = false) async throws(StoreError) -> CompactResult {
        try await Store.awaiting { compact(revision: revision, physical: physical, completion: $0) }
    }

    public func range(_ request: RangeRequest) async throws(StoreError) -> RangeResult {
        try await Store.awaiting { range(request, completion: $0) }
    }

    public func revisions() async throws(StoreError) -> StoreRevisions {
        try await Store.awaiting { revisions(completion: $0) }
    }

    public func changes(from: Int64, through: Int64, limit: Int) async throws(StoreError) -> [Change] {
        try await Store.awaiting { changes(from: from, through: through, limit: limit, completion: $0) }
    }

    public func storageSize() async throws(StoreError) -> StorageSize {
        try await Store.awaiting { storageSize(completion: $0) }
    }

    public func metadata(_ name: String) async throws(StoreError) -> [UInt8]? {
        try await Store.awaiting { metadata(name, completion: $0) }
    }

    public func updateMetadata<Value: Sendable>(
        _ name: String, _ body: @escaping @Sendable (inout [UInt8]?) throws -> Value
    ) async throws -> Value {
        try await Store.awaiting { updateMetadata(name, body, completion: $0) }.get()
    }

    public func grantLease(id: Int64, ttl: Int64) async throws(StoreError) -> LeaseGrantResult {
        try await Store.awaiting { grantLease(id: id, ttl: ttl, completion: $0) }
    }

    public func revokeLease(id: Int64) async throws(StoreError) -> Int64 {
        try await Store.awaiting { revokeLease(id: id, completion: $0) }
    }

    public func renewLease(id: Int64) async throws(StoreError) -> Int64 {
        try await Store.awaiting { renewLease(id: id, completion: $0) }
    }

    public func leaseTimeToLive(id: Int64, keys: Bool) async throws(StoreError) -> LeaseTimeToLive? {
        try await Store.awaiting { leaseTimeToLive(id: id, keys: keys, completion: $0) }
    }

    public func leaseIDs() async throws(StoreError) -> [Int64] {
        try await Store.awaiting { leaseIDs(completion: $0) }
    }

    public func hashKV(revision: Int64) async throws(StoreError) -> KVHash {
        try await Store.awaiting { hashKV(revision: revision, completion: $0) }
    }

    public func defragment() async throws(StoreError) {
        try await Store.awaiting { defragment(completion: $0) }
    }

    public func snapshot(to path: String) async throws(StoreError) {
        _ = try await Store.awaiting { snapshot(to: path, completion: $0) }
    }
}
