/// Maintenance of the whole store: named metadata, hashing, defragmenting and snapshots.
extension Store {
    // MARK: Metadata

    /// A value stored with `updateMetadata`, or nil.
    public func metadata(_ name: String, completion: @escaping @Sendable (Result<[UInt8]?, StoreError>) -> Void) {
        execute(.point, { [self] () throws(StoreError) in try read { try $0.metadata(name) } }, completion: completion)
    }

    /// Reads, changes and stores a named value in one committer transaction, so concurrent updates
    /// never lose each other's changes. `body` gets the stored value (nil when absent; set it to
    /// nil to remove it) and runs on the committer thread, so it must be quick. When `body`
    /// throws, nothing is stored and its error reaches the caller as `.failure` of the inner result; the outer
    /// result fails when the store could not commit.
    public func updateMetadata<Value: Sendable>(
        _ name: String, _ body: @escaping @Sendable (inout [UInt8]?) throws -> Value,
        completion: @escaping @Sendable (Result<Result<Value, any Error>, StoreError>) -> Void
    ) {
        let update: MetadataUpdate = { stored in
            var value = stored
            do {
                let result = try body(&value)
                return (value, .success(result))
            } catch {
                return (stored, .failure(error))
            }
        }
        submit(.updateMetadata(name: name, update), \.updateMetadata) { result in
            completion(
                result.map { inner in
                    inner.flatMap { value in
                        guard let value = value as? Value else {
                            return .failure(StoreError(.backendFailure, "metadata update answered \(value)"))
                        }
                        return .success(value)
                    }
                })
        }
    }

    // MARK: Hash

    /// etcd's HashKV: a CRC-32C over the key history at `revision` (0 = head) that compaction
    /// keeps: the state at the compaction point plus every change after it up to `revision`.
    /// Computed from logical content only, so equal histories hash equally on every backend,
    /// whether or not physical compaction has finished, and across restarts.
    public func hashKV(revision: Int64, completion: @escaping @Sendable (Result<KVHash, StoreError>) -> Void) {
        executeDurably(
            .whole, { [self] () throws(StoreError) in try hashKVNow(revision: revision) }, revision: \.revision,
            completion: completion)
    }

    private func hashKVNow(revision: Int64) throws(StoreError) -> KVHash {
        try read { reader in
            let compactRevision = reader.compactRevision
            if revision > 0 && revision <= compactRevision { throw StoreError.compacted }
            if revision > reader.revision { throw StoreError.futureRevision }
            let target = revision == 0 ? reader.revision : revision
            var crc = CRC32C()
            crc.update(Array("kelson-kv-v1".utf8))
            if compactRevision > 0 {
                var start: [UInt8] = [0]
                while true {
                    let page = try reader.range(.fromKey(start), at: compactRevision, limit: 1_000)
                    for keyValue in page {
                        crc.update(0)
                        crc.update(keyValue)
                    }
                    guard page.count == 1_000, let last = page.last else { break }
                    start = last.key + [0]
                }
            }
            var from = max(compactRevision + 1, 1)
            while from <= target {
                let changes = try reader.changes(from: from, through: target, limit: 1_000)
                for change in changes {
                    crc.update(change.kind == .put ? 1 : 2)
                    crc.update(change.subRevision)
                    crc.update(change.keyValue)
                }
                guard let last = changes.last else { break }
                from = last.revision + 1
            }
            return KVHash(hash: crc.value, compactRevision: compactRevision, revision: target)
        }
    }

    // MARK: Files

    /// Gives free space back to the file system; writes wait while it runs.
    public func defragment(completion: @escaping @Sendable (Result<Void, StoreError>) -> Void) {
        execute(
            .whole, { [self] () throws(StoreError) in try backendCall { try $0.defragment() } }, completion: completion)
    }

    /// Writes a consistent copy of the whole store (history, leases, metadata) to a new file, and answers once
    /// everything the copy holds is durable (a copy can catch a group whose sync is still running). Answers the
    /// revision it waited for: the copy's own revision or a later one.
    public func snapshot(to path: String, completion: @escaping @Sendable (Result<Int64, StoreError>) -> Void) {
        executeDurably(
            .whole,
            { [self] () throws(StoreError) in
                try backendCall { try $0.snapshot(to: path) }
                // Read after the copy, so at least as new as anything in it.
                return try read { $0.revision }
            }, revision: { $0 }, completion: completion)
    }
}

/// The answer to `Store.hashKV`.
public struct KVHash: Sendable, Equatable {
    public var hash: UInt32
    public var compactRevision: Int64
    /// The revision hashed (the head when 0 was asked for).
    public var revision: Int64
}

extension CRC32C {
    fileprivate mutating func update(_ keyValue: KeyValue) {
        updateField(keyValue.key)
        update(keyValue.createRevision)
        update(keyValue.modRevision)
        update(keyValue.version)
        update(keyValue.lease)
        updateField(keyValue.value)
    }
}

/// etcdutl's `snapshot restore --bump-revision N --mark-compacted`, applied to a store that is not open: the store's
/// revision jumps forward by `amount`, and with `markCompacted` the new revision becomes the compaction point. After a
/// restore, clients may hold revisions the old store reached after the snapshot; the jump puts every new revision
/// above them, and the compaction point makes a watch or read that resumes from an old revision fail with
/// `required revision has been compacted`, so the client lists again instead of silently missing events.
public enum RevisionBump {
    public static func apply(to backend: any LogBackend, by amount: Int64, markCompacted: Bool) throws {
        guard amount > 0 || markCompacted else { return }
        guard amount >= 0 else { throw StoreError(.notSupported, "the revision bump must not be negative") }
        try backend.write { writer in
            let revision = writer.revision + amount
            if amount > 0 { try writer.setRevision(revision) }
            if markCompacted && revision > writer.compactRevision { try writer.setCompactRevision(revision) }
        }
    }
}
