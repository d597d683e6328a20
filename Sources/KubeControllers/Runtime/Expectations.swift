import Foundation
import KubeServer
import Synchronization

/// What a controller has written and must see in its cache before it counts again, so that a slow watch never
/// makes it create or delete twice (client-go's ControllerExpectations, by revision instead of by count): after
/// creating, the cache must have reached the revision of the last create; after deleting, the deleted uids must be
/// gone or terminating in it. After `timeout` the controller trusts the cache anyway, as upstream does.
final class Expectations: Sendable {
    struct Pending {
        var revision: Int64 = 0
        var deleted: Set<String> = []
        var since: ContinuousClock.Instant
    }

    let timeout: Duration
    private let pending = Mutex<[String: Pending]>([:])

    init(timeout: Duration = .seconds(300)) { self.timeout = timeout }

    /// A write of `key`'s (a create, or a graceful delete that answered the object) landed at `revision`.
    func expectCreated(_ key: String, revision: Int64) {
        pending.withLock { pending in
            var entry = pending[key] ?? Pending(since: .now)
            entry.revision = max(entry.revision, revision)
            entry.since = .now
            pending[key] = entry
        }
    }

    func expectDeleted(_ key: String, uid: String) {
        pending.withLock { pending in
            var entry = pending[key] ?? Pending(since: .now)
            entry.deleted.insert(uid)
            entry.since = .now
            pending[key] = entry
        }
    }

    /// True when `cache` reflects every write recorded for `key` (and forgets them then).
    /// `present(uid)` tells whether a deleted object still shows in the cache as not terminating.
    func satisfied(_ key: String, cache: Informer, present: (String) -> Bool) -> Bool {
        pending.withLock { pending in
            guard var entry = pending[key] else { return true }
            if ContinuousClock.now - entry.since > timeout {
                pending[key] = nil
                return true
            }
            entry.deleted = entry.deleted.filter(present)
            let done = cache.revision >= entry.revision && entry.deleted.isEmpty
            pending[key] = done ? nil : entry
            return done
        }
    }

    func forget(_ key: String) { pending.withLock { _ = $0.removeValue(forKey: key) } }
}
