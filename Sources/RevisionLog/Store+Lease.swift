/// Leases (etcd `lessor.go`, `v3rpc/lease.go`). Grants and revokes go through the committer, so a
/// put naming a lease sees exactly the leases committed before it; renewals and time-to-live
/// answers touch only the in-memory clocks (`Lessor`), as in etcd where keep-alives skip raft.
extension Store {
    /// etcd's `MaxLeaseTTL`: larger grants fail with `.leaseTTLTooLarge`.
    public static let maximumLeaseTTL: Int64 = 9_000_000_000

    /// Grants a lease. ID 0 lets the store pick a positive ID; a TTL below the minimum is raised.
    public func grantLease(id: Int64, ttl: Int64) async throws(StoreError) -> LeaseGrantResult {
        if ttl > Self.maximumLeaseTTL { throw StoreError.leaseTTLTooLarge }
        let lease = LeaseRecord(id: id, ttl: max(ttl, configuration.minimumLeaseTTL))
        let lessor = self.lessor
        let outcome = try await submit(
            .grantLease(lease),
            beforeReply: { result in
                // Start the clock before the caller hears of the lease.
                if case .success(.grantLease(let granted)) = result { lessor.granted(granted.lease) }
            })
        guard case .grantLease(let result) = outcome else { preconditionFailure("grant answered with \(outcome)") }
        return result
    }

    /// Deletes the lease's keys in one revision, then the lease. Returns the store's revision after.
    public func revokeLease(id: Int64) async throws(StoreError) -> Int64 {
        let lessor = self.lessor
        let outcome = try await submit(
            .revokeLease(id),
            beforeReply: { result in
                if case .success = result { lessor.revoked(id) }
            })
        guard case .revokeLease(let revision) = outcome else { preconditionFailure("revoke answered with \(outcome)") }
        return revision
    }

    /// Restarts the lease's clock and returns its TTL, or 0 when the lease is unknown or expired.
    public func renewLease(id: Int64) -> Int64 { lessor.renew(id) }

    /// Remaining and granted TTL, and with `keys` the attached keys; nil for an unknown lease.
    public func leaseTimeToLive(id: Int64, keys: Bool) throws(StoreError) -> LeaseTimeToLive? {
        guard let (remaining, granted) = lessor.remaining(id) else { return nil }
        let attached = keys ? try read { try $0.keys(attachedTo: id, limit: 0) } : []
        return LeaseTimeToLive(id: id, remaining: remaining, granted: granted, keys: attached)
    }

    /// Every lease ID, ascending.
    public var leaseIDs: [Int64] { lessor.ids }

    /// Queues a revoke for up to `limit` expired leases and returns how many were queued. A revoke
    /// that cannot be queued is retried on a later call.
    @discardableResult
    public func revokeExpiredLeases(limit: Int = 1_000) -> Int {
        let expired = lessor.takeExpired(limit: limit)
        let lessor = self.lessor
        for id in expired {
            submit(.revokeLease(id)) { result in
                switch result {
                case .success: lessor.revoked(id)
                // Someone else revoked it first.
                case .failure(let error) where error.code == .leaseNotFound: lessor.revoked(id)
                case .failure: lessor.revokeFailed(id)
                }
            }
        }
        return expired.count
    }

    /// Expires leases until the task is cancelled, checking every `interval` (etcd checks every
    /// 500 ms and revokes at most 1000 leases a second; this revokes at most `limit` per check).
    public func runLeaseExpiry(interval: Duration = .milliseconds(500), limit: Int = 500) async {
        while !Task.isCancelled {
            revokeExpiredLeases(limit: limit)
            try? await Task.sleep(for: interval)
        }
    }
}
