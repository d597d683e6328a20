/// Leases (etcd `lessor.go`, `v3rpc/lease.go`). Grants and revokes go through the committer, so a
/// put naming a lease sees exactly the leases committed before it; renewals and time-to-live
/// answers touch only the in-memory clocks (`Lessor`), as in etcd where keep-alives skip raft.
/// On a shared backend the expiry instants live in the backend instead (`SharedLogBackend`), so a
/// keep-alive to any process counts, and only the process holding the maintenance role expires leases.
extension Store {
    /// etcd's `MaxLeaseTTL`: larger grants fail with `.leaseTTLTooLarge`.
    public static let maximumLeaseTTL: Int64 = 9_000_000_000

    /// Grants a lease. ID 0 lets the store pick a positive ID; a TTL below the minimum is raised.
    public func grantLease(
        id: Int64, ttl: Int64, completion: @escaping @Sendable (Result<LeaseGrantResult, StoreError>) -> Void
    ) {
        if ttl > Self.maximumLeaseTTL { return completion(.failure(.leaseTTLTooLarge)) }
        let lease = LeaseRecord(id: id, ttl: max(ttl, configuration.minimumLeaseTTL))
        submit(.grantLease(lease), \.grantLease) { [lessor, sharedBackend] result in
            // Start the clock before the caller hears of the lease (a shared backend started it on insert).
            if sharedBackend == nil, case .success(let granted) = result { lessor.granted(granted.lease) }
            completion(result)
        }
    }

    /// Deletes the lease's keys in one revision, then the lease. Answers the store's revision after.
    public func revokeLease(id: Int64, completion: @escaping @Sendable (Result<Int64, StoreError>) -> Void) {
        submit(.revokeLease(id), \.revokeLease) { [lessor] result in
            if case .success = result { lessor.revoked(id) }
            completion(result)
        }
    }

    /// Restarts the lease's clock and answers its TTL, or 0 when the lease is unknown or expired.
    public func renewLease(id: Int64, completion: @escaping @Sendable (Result<Int64, StoreError>) -> Void) {
        guard let sharedBackend else { return completion(.success(lessor.renew(id))) }
        execute(
            .point, { [self] () throws(StoreError) in try backendCall { _ in try sharedBackend.renewLease(id) } ?? 0 },
            completion: completion)
    }

    /// Remaining and granted TTL, and with `keys` the attached keys (answered once the snapshot they were read from
    /// is durable); nil for an unknown lease.
    public func leaseTimeToLive(
        id: Int64, keys: Bool, completion: @escaping @Sendable (Result<LeaseTimeToLive?, StoreError>) -> Void
    ) {
        guard keys || sharedBackend != nil else {
            return completion(
                .success(lessor.remaining(id).map { LeaseTimeToLive(id: id, remaining: $0.0, granted: $0.1, keys: []) })
            )
        }
        executeDurably(
            .point, { [self] () throws(StoreError) in try leaseTimeToLiveNow(id: id, keys: keys) },
            revision: { $0.revision }, completion: { completion($0.map { $0.timeToLive }) })
    }

    private func leaseTimeToLiveNow(id: Int64, keys: Bool) throws(StoreError) -> (
        timeToLive: LeaseTimeToLive?, revision: Int64
    ) {
        let remaining: Int64
        let granted: Int64
        if let sharedBackend {
            guard let (left, ttl) = try backendCall({ _ in try sharedBackend.leaseRemaining(id) }) else {
                return (nil, 0)
            }
            (remaining, granted) = (left.components.seconds, ttl)
        } else {
            guard let (left, ttl) = lessor.remaining(id) else { return (nil, 0) }
            (remaining, granted) = (left, ttl)
        }
        guard keys else { return (LeaseTimeToLive(id: id, remaining: remaining, granted: granted, keys: []), 0) }
        let (attached, revision) = try read { (try $0.keys(attachedTo: id, limit: 0), $0.revision) }
        return (LeaseTimeToLive(id: id, remaining: remaining, granted: granted, keys: attached), revision)
    }

    /// Every lease ID, ascending.
    public func leaseIDs(completion: @escaping @Sendable (Result<[Int64], StoreError>) -> Void) {
        guard let sharedBackend else { return completion(.success(lessor.ids)) }
        execute(
            .point,
            { [self] () throws(StoreError) in
                // A lease whose expiry revoke is still on its way to this process's watchers is listed until that
                // revoke is answered, so a caller that sees it gone also sees the revoke's revision.
                let stored = try backendCall { _ in try sharedBackend.leaseIDs() }
                return Set(stored).union(revoking.withLock { $0 }).sorted()
            }, completion: completion)
    }

    /// Queues a revoke for up to `limit` expired leases and returns how many were queued. A revoke
    /// that cannot be queued is retried on a later call.
    /// On a shared backend this asks the backend (through `execute`); call it from async code with
    /// `revokeExpiredLeases(limit:) async`.
    func revokeExpiredLeasesNow(limit: Int = 1_000) -> Int {
        if let sharedBackend { return revokeExpiredSharedLeases(sharedBackend, limit: limit) }
        let expired = lessor.takeExpired(limit: limit)
        let lessor = self.lessor
        for id in expired {
            submit(.revokeLease(id), \.revokeLease) { result in
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

    /// The shared-backend form: only while this process holds the maintenance role, which it takes here when
    /// free (and then, like a new etcd leader, gives every lease its full TTL from now).
    private func revokeExpiredSharedLeases(_ backend: any SharedLogBackend, limit: Int) -> Int {
        guard committer.refreshMaintenanceRole(), let candidates = try? backend.expiredLeases(limit: limit) else {
            return 0
        }
        let expired = revoking.withLock { revoking in
            let fresh = candidates.filter { !revoking.contains($0) }
            revoking.formUnion(fresh)
            return fresh
        }
        for id in expired {
            submit(.revokeLease(id), \.revokeLease) { [self] _ in
                // Revoked, revoked by someone else, or failed (then the next pass tries again).
                _ = revoking.withLock { $0.remove(id) }
            }
        }
        return expired.count
    }

    /// Expires leases until the task is cancelled, checking every `interval` (etcd checks every
    /// 500 ms and revokes at most 1000 leases a second; this revokes at most `limit` per check).
    public func runLeaseExpiry(interval: Duration = .milliseconds(500), limit: Int = 500) async {
        while !Task.isCancelled {
            _ = try? await revokeExpiredLeases(limit: limit)
            try? await Task.sleep(for: interval)
        }
    }

    /// Queues a revoke for up to `limit` expired leases and answers how many were queued (see
    /// `revokeExpiredLeasesNow`); the backend is asked where `execute` puts it.
    @discardableResult
    public func revokeExpiredLeases(limit: Int = 1_000) async throws(StoreError) -> Int {
        try await executing(.point) { [self] () throws(StoreError) in revokeExpiredLeasesNow(limit: limit) }
    }
}
