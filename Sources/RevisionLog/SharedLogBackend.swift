/// A backend that several Kelson processes write at once (PostgreSQL). The core then:
/// - takes the revision and compaction point from each write transaction (`BackendWriter.revision`), never from
///   memory, because another process may have committed since;
/// - publishes to watchers through a `LogFollower`, which reads other processes' revisions from the log, in
///   revision order, when `watchExternalChanges` wakes it (and on a slow poll as a safety net);
/// - runs lease expiry and physical compaction only while `holdsMaintenanceRole()` is true;
/// - keeps lease expiry instants in the backend (the `…Lease…` methods), so a keep-alive sent to any process
///   counts.
///
/// Lease times are the backend's clock plus how far the store's `LeaseClock` is from the real monotonic clock
/// (zero for `SystemLeaseClock`; tests move a `ManualLeaseClock`), given once with `useLeaseClock`.
public protocol SharedLogBackend: LogBackend {
    /// Calls `commits` (on a backend thread) whenever another process may have committed, and `metadata` whenever
    /// another process may have changed a metadata value (`BackendWriter.setMetadata`): each at once on that
    /// process's notification, and both on the slow poll and after a lost notification channel is back. Called
    /// once, before the store starts.
    func watchExternalChanges(commits: @escaping @Sendable () -> Void, metadata: @escaping @Sendable () -> Void)
    /// True while this process holds the maintenance role; takes it when no process holds it. Cheap enough to
    /// call every half second.
    func holdsMaintenanceRole() -> Bool
    /// The clock lease times follow (see above). Called once, before the store starts.
    func useLeaseClock(_ clock: any LeaseClock)
    /// Restarts the clock of a lease that has not expired; its TTL, or nil when it is unknown or expired.
    func renewLease(_ id: Int64) throws -> Int64?
    /// Time left (never negative) and granted TTL; nil for an unknown lease.
    func leaseRemaining(_ id: Int64) throws -> (remaining: Duration, ttl: Int64)?
    /// Up to `limit` expired leases, in ID order.
    func expiredLeases(limit: Int) throws -> [Int64]
    /// Every lease ID, in order.
    func leaseIDs() throws -> [Int64]
    /// Gives every lease at least its full TTL from now (etcd does this when a new leader takes over expiry).
    func restartLeaseClocks() throws
    /// The log follower's read: `BackendReader.changesWithPrevious` and the head revision, from one snapshot. It
    /// runs for every batch of other processes' commits, so a backend answers it in as few round trips as it can.
    func followerRead(from: Int64, through: Int64, limit: Int) throws -> (changes: [Change], head: Int64)
}

extension SharedLogBackend {
    public func followerRead(from: Int64, through: Int64, limit: Int) throws -> (changes: [Change], head: Int64) {
        try read { reader in
            (try reader.changesWithPrevious(from: from, through: through, limit: limit), reader.revision)
        }
    }
}
