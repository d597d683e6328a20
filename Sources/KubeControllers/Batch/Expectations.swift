import Synchronization

/// What a controller has written and its cache may not show yet, per key: the highest revision of its own
/// writes. Until the informer's revision reaches it, the cache could still miss a pod just created, and acting
/// on it would create that pod twice (kube-controller-manager's `ControllerExpectations`, kept as a revision
/// instead of counts, since every write here answers with the revision it landed at).
final class Expectations: Sendable {
    private let revisions = Mutex<[String: Int64]>([:])

    /// Remembers a write of `key`'s at `revision`.
    func wrote(_ key: String, at revision: Int64) {
        revisions.withLock { revisions in revisions[key] = max(revisions[key] ?? 0, revision) }
    }

    /// True when a cache at `revision` shows every write remembered for `key` (and forgets them then).
    func satisfied(_ key: String, cacheRevision revision: Int64) -> Bool {
        revisions.withLock { revisions in
            guard let wanted = revisions[key] else { return true }
            if revision >= wanted {
                revisions[key] = nil
                return true
            }
            return false
        }
    }

    func forget(_ key: String) { revisions.withLock { _ = $0.removeValue(forKey: key) } }
}
