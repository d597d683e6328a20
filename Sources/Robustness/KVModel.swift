/// The sequential specification the checker holds histories to: etcd's key-value store as a map from key to
/// (value, mod revision) plus one global revision that every successful write moves up by one.
public struct KVModel: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var value: String
        public var modRevision: Int64
    }

    public var revision: Int64
    public var keys: [String: Entry]

    /// A new store: revision 1, no keys (etcd's and Kelson's start).
    public init(revision: Int64 = 1, keys: [String: Entry] = [:]) {
        self.revision = revision
        self.keys = keys
    }

    /// Applies `request` and checks `response` against what the model answers; nil when they disagree. With no
    /// response (an unknown outcome), the request takes effect and nothing is checked.
    public func step(_ request: Operation.Request, _ response: Operation.Response?) -> KVModel? {
        var next = self
        switch request {
        case .get(let key):
            let entry = keys[key]
            guard let response else { return self }
            return response == .get(value: entry?.value, modRevision: entry?.modRevision ?? 0, revision: revision)
                ? self : nil
        case .put(let key, let value):
            next.write(key, value)
            if let response, response != .put(revision: next.revision) { return nil }
        case .create(let key, let value):
            let holds = keys[key] == nil
            if holds { next.write(key, value) }
            if let response, response != .txn(succeeded: holds, revision: next.revision) { return nil }
        case .update(let key, let modRevision, let value):
            let holds = (keys[key]?.modRevision ?? 0) == modRevision
            if holds { next.write(key, value) }
            if let response, response != .txn(succeeded: holds, revision: next.revision) { return nil }
        case .delete(let key, let modRevision?):
            let holds = (keys[key]?.modRevision ?? 0) == modRevision
            // A guarded delete of an absent key (mod revision 0) holds but deletes nothing: no new revision.
            if holds && keys[key] != nil { next.remove(key) }
            if let response, response != .txn(succeeded: holds, revision: next.revision) { return nil }
        case .delete(let key, nil):
            let exists = keys[key] != nil
            if exists { next.remove(key) }
            if let response, response != .delete(deleted: exists ? 1 : 0, revision: next.revision) { return nil }
        case .list(let prefix, let limit):
            guard let response else { return self }
            return answers(prefix: prefix, limit: limit, response) ? self : nil
        }
        return next
    }

    /// The keys under `prefix` in etcd's order (bytewise), as a list at this model's revision returns them.
    public func list(prefix: String) -> [Operation.KeyValue] {
        keys.filter { $0.key.hasPrefix(prefix) }
            .map { Operation.KeyValue(key: $0.key, value: $0.value.value, modRevision: $0.value.modRevision) }
            .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    /// Whether `response` is a paginated list of this state: read at this revision, each page the next `limit`
    /// keys with etcd's `count` (keys left in the range) and `more`, the last page saying there is no more, and
    /// every later page's header at or past the revision it read (etcd's header carries the current revision).
    private func answers(prefix: String, limit: Int64, _ response: Operation.Response) -> Bool {
        guard case .list(let listed, let pages) = response, listed == revision, let first = pages.first,
            first.headerRevision == revision, pages.last?.more == false
        else { return false }
        var left = list(prefix: prefix)[...]
        for page in pages {
            let expected = limit > 0 ? left.prefix(Int(limit)) : left
            guard page.count == Int64(left.count), page.keyValues.elementsEqual(expected),
                page.more == (left.count > expected.count), page.headerRevision >= revision
            else { return false }
            left = left.dropFirst(expected.count)
        }
        return left.isEmpty
    }

    private mutating func write(_ key: String, _ value: String) {
        revision += 1
        keys[key] = Entry(value: value, modRevision: revision)
    }

    private mutating func remove(_ key: String) {
        revision += 1
        keys[key] = nil
    }
}
