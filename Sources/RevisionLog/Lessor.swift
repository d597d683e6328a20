import Synchronization

/// When each lease expires (etcd's lessor). The backend records which leases exist; the expiry
/// instants live only here, so a restart gives every lease its full TTL again (etcd does the
/// same: without its alpha checkpoint feature a restart or leader change resets remaining TTLs).
/// A lease is never expired earlier than its TTL after the last grant or renewal.
final class Lessor: Sendable {
    private struct Entry {
        var ttl: Int64
        var expiry: ContinuousClock.Instant
        /// An expiry revoke is queued; do not queue another.
        var revoking = false
    }

    let clock: any LeaseClock
    private let entries: Mutex<[Int64: Entry]>

    init(clock: any LeaseClock, leases: [LeaseRecord]) {
        self.clock = clock
        let now = clock.now()
        entries = Mutex(
            Dictionary(uniqueKeysWithValues: leases.map { ($0.id, Entry(ttl: $0.ttl, expiry: now + .seconds($0.ttl))) })
        )
    }

    func granted(_ lease: LeaseRecord) {
        let expiry = clock.now() + .seconds(lease.ttl)
        entries.withLock { $0[lease.id] = Entry(ttl: lease.ttl, expiry: expiry) }
    }

    func revoked(_ id: Int64) { _ = entries.withLock { $0.removeValue(forKey: id) } }

    /// Restarts the lease's clock; its TTL, or 0 when it is unknown or already expired (etcd's
    /// KeepAlive answers an expired lease with TTL 0 once the revoke is through).
    func renew(_ id: Int64) -> Int64 {
        let now = clock.now()
        return entries.withLock { entries in
            guard var entry = entries[id], entry.expiry > now else { return 0 }
            entry.expiry = now + .seconds(entry.ttl)
            entries[id] = entry
            return entry.ttl
        }
    }

    /// Remaining whole seconds (truncated, at least 0) and the granted TTL.
    func remaining(_ id: Int64) -> (remaining: Int64, granted: Int64)? {
        let now = clock.now()
        return entries.withLock { entries in
            guard let entry = entries[id] else { return nil }
            let left = max(entry.expiry - now, .zero)
            return (left.components.seconds, entry.ttl)
        }
    }

    var ids: [Int64] { entries.withLock { $0.keys.sorted() } }

    /// Up to `limit` expired leases not already being revoked, marked as being revoked.
    func takeExpired(limit: Int) -> [Int64] {
        let now = clock.now()
        return entries.withLock { entries in
            var expired: [Int64] = []
            for (id, entry) in entries where !entry.revoking && entry.expiry <= now {
                expired.append(id)
                if expired.count >= limit { break }
            }
            for id in expired { entries[id]?.revoking = true }
            return expired.sorted()
        }
    }

    /// An expiry revoke failed (e.g. the queue was full); try again on the next pass.
    func revokeFailed(_ id: Int64) { entries.withLock { $0[id]?.revoking = false } }
}
