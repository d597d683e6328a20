import RevisionLog

/// The manual clock every conformance store runs on (see `RevisionLogConformance.configuration`).
func manualClock(_ store: Store) throws -> ManualLeaseClock {
    guard let clock = store.configuration.leaseClock as? ManualLeaseClock else {
        throw ConformanceFailure(message: "conformance stores need a ManualLeaseClock", location: #fileID)
    }
    return clock
}

/// Waits (bounded) until `condition` holds; expiry revokes run on the committer, after the call
/// that queued them returns.
func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
    for _ in 0..<500 {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw ConformanceFailure(message: "timed out waiting for \(what)", location: #fileID)
}

func putWithLease(_ store: Store, _ key: String, _ lease: Int64) async throws -> PutResult {
    try await store.put(PutRequest(key: bytes(key), value: bytes("v"), lease: lease))
}

/// Leases (etcd semantics §5): grant, attach, revoke, renew, time-to-live and expiry.
let leaseCases: [ConformanceCase] = [
    ConformanceCase("grant: server-picked IDs, minimum and maximum TTL, duplicate IDs") { store in
        let picked = try await store.grantLease(id: 0, ttl: 60)
        try expect(picked.lease.id > 0, "a server-picked lease ID is positive: \(picked.lease.id)")
        try expectEqual(picked.lease.ttl, 60)
        try expectEqual(picked.revision, 1, "a grant adds no revision")
        try expectEqual(try await store.grantLease(id: 7, ttl: 1).lease, LeaseRecord(id: 7, ttl: 2), "raised to 2 s")
        try expectEqual(try await store.grantLease(id: -5, ttl: 30).lease.id, -5, "client IDs may be negative")
        try await expectRejected(store, .leaseExists) { try await store.grantLease(id: 7, ttl: 10) }
        try await expectRejected(store, .leaseTTLTooLarge) { try await store.grantLease(id: 8, ttl: 9_000_000_001) }
        try expectEqual((try await store.leaseIDs()), [-5, 7, picked.lease.id].sorted())
        try expectEqual(store.revision, 1)
    },
    ConformanceCase("puts attach keys to leases; unknown leases are refused") { store in
        try await expectRejected(store, .leaseNotFound) { try await putWithLease(store, "a", 42) }
        try await expectRejected(store, .leaseNotFound) {
            try await store.txn(TxnRequest(success: [.put(PutRequest(key: bytes("a"), value: [], lease: 42))]))
        }
        _ = try await store.grantLease(id: 1, ttl: 60)
        _ = try await store.grantLease(id: 2, ttl: 60)
        _ = try await putWithLease(store, "a", 1)
        _ = try await putWithLease(store, "b", 1)
        _ = try await putWithLease(store, "c", 2)
        try expectEqual(try await get(store, "a")?.lease, 1)
        try expectEqual(try await store.leaseTimeToLive(id: 1, keys: true)?.keys, [bytes("a"), bytes("b")])
        // A later put moves the key to another lease (or to none); a delete detaches it.
        _ = try await putWithLease(store, "b", 2)
        try await put(store, "c", "no lease")
        try expectEqual(try await store.leaseTimeToLive(id: 1, keys: true)?.keys, [bytes("a")])
        try expectEqual(try await store.leaseTimeToLive(id: 2, keys: true)?.keys, [bytes("b")])
        _ = try await store.delete(DeleteRequest(range: .single(bytes("b"))))
        try expectEqual(try await store.leaseTimeToLive(id: 2, keys: true)?.keys, [])
        // ignore_lease keeps the key's lease.
        var keepLease = PutRequest(key: bytes("a"), value: bytes("new"))
        keepLease.ignoreLease = true
        _ = try await store.put(keepLease)
        try expectEqual(try await get(store, "a")?.lease, 1)
    },
    ConformanceCase("revoke deletes every attached key in one revision, then the lease") { store in
        _ = try await store.grantLease(id: 9, ttl: 60)
        for key in ["r/1", "r/2", "r/3"] { _ = try await putWithLease(store, key, 9) }
        try await put(store, "r/4", "kept")
        let before = store.revision
        try expectEqual(try await store.revokeLease(id: 9), before + 1)
        let changes = try await store.changes(from: before + 1, through: before + 1, limit: 10)
        try expectEqual(changes.map(\.kind), [.delete, .delete, .delete])
        try expectEqual(changes.map(\.subRevision), [0, 1, 2])
        try expectEqual(keys(try await store.range(RangeRequest(range: prefix("r/")))), ["r/4"])
        try expectEqual(try await store.leaseTimeToLive(id: 9, keys: false), nil)
        try expectEqual(try await store.renewLease(id: 9), 0)
        try expectEqual((try await store.leaseIDs()), [])
        try await expectRejected(store, .leaseNotFound) { try await store.revokeLease(id: 9) }
        try await expectRejected(store, .leaseNotFound) { try await putWithLease(store, "r/5", 9) }
        // A lease without keys revokes without a new revision.
        _ = try await store.grantLease(id: 10, ttl: 60)
        try expectEqual(try await store.revokeLease(id: 10), store.revision)
        try expectEqual(store.revision, before + 1)
    },
    ConformanceCase("time-to-live counts down in whole seconds; renew restarts the clock") { store in
        let clock = try manualClock(store)
        _ = try await store.grantLease(id: 5, ttl: 10)
        try expectEqual(try await store.leaseTimeToLive(id: 5, keys: false)?.remaining, 10)
        clock.advance(by: .milliseconds(3_500))
        let status = try await store.leaseTimeToLive(id: 5, keys: false)
        try expectEqual(status?.remaining, 6, "6.5 s left, truncated")
        try expectEqual(status?.granted, 10)
        try expectEqual(try await store.renewLease(id: 5), 10)
        try expectEqual(try await store.leaseTimeToLive(id: 5, keys: false)?.remaining, 10)
        try expectEqual(try await store.renewLease(id: 404), 0, "unknown lease")
        try expectEqual(try await store.leaseTimeToLive(id: 404, keys: true), nil)
    },
    ConformanceCase("expired leases are revoked with their keys, never before their TTL") { store in
        let clock = try manualClock(store)
        _ = try await store.grantLease(id: 1, ttl: 10)
        _ = try await store.grantLease(id: 2, ttl: 30)
        _ = try await putWithLease(store, "e/1", 1)
        _ = try await putWithLease(store, "e/2", 1)
        _ = try await putWithLease(store, "e/3", 2)
        clock.advance(by: .seconds(9))
        try expectEqual(try await store.revokeExpiredLeases(), 0, "nothing expires before its TTL")
        try expectEqual(try await store.renewLease(id: 1), 10)
        clock.advance(by: .seconds(9))
        try expectEqual(try await store.revokeExpiredLeases(), 0, "a renewal restarts the TTL")
        clock.advance(by: .seconds(1))
        try expectEqual(try await store.revokeExpiredLeases(), 1)
        let revision = store.revision
        try await eventually("lease 1 to be revoked") { (try await store.leaseIDs()) == [2] }
        try expectEqual(keys(try await store.range(RangeRequest(range: prefix("e/")))), ["e/3"])
        let changes = try await store.changes(from: revision, through: store.revision, limit: 10).filter {
            $0.kind == .delete
        }
        try expectEqual(Set(changes.map(\.revision)).count, 1, "both keys deleted in one revision")
        try expectEqual(try await store.renewLease(id: 1), 0)
        // An expired lease that is not yet revoked cannot be renewed.
        clock.advance(by: .seconds(20))
        try expectEqual(try await store.renewLease(id: 2), 0)
        try expectEqual(try await store.revokeExpiredLeases(), 1)
        try expectEqual(try await store.revokeExpiredLeases(), 0, "a revoke already queued is not queued twice")
        try await eventually("lease 2 to be revoked") { (try await store.leaseIDs()).isEmpty }
        try expectEqual(keys(try await store.range(RangeRequest(range: prefix("e/")))), [])
    },
]

/// Named metadata and the KV hash.
let maintenanceCases: [ConformanceCase] = [
    ConformanceCase("metadata updates are atomic; a failed update stores nothing") { store in
        struct Refused: Error {}
        try expectEqual(try await store.metadata("m"), nil)
        let first = try await store.updateMetadata("m") { value -> Int in
            value = bytes("one")
            return 1
        }
        try expectEqual(first, 1)
        try expectEqual(try await store.metadata("m"), bytes("one"))
        do {
            _ = try await store.updateMetadata("m") { value -> Int in
                value = bytes("two")
                throw Refused()
            }
            throw ConformanceFailure(message: "the update should have failed", location: #fileID)
        } catch is Refused {}
        try expectEqual(try await store.metadata("m"), bytes("one"))
        // Concurrent increments all land.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    _ = try await store.updateMetadata("counter") { value -> Bool in
                        let count = value.map { Int(String(decoding: $0, as: UTF8.self)) ?? 0 } ?? 0
                        value = bytes("\(count + 1)")
                        return true
                    }
                }
            }
            try await group.waitForAll()
        }
        try expectEqual(try await store.metadata("counter"), bytes("50"))
        _ = try await store.updateMetadata("m") { value in value = nil }
        try expectEqual(try await store.metadata("m"), nil)
        try expectEqual(store.revision, 1, "metadata is outside the revision log")
    },
    ConformanceCase("HashKV: stable for a revision, changes with history, honours compaction") { store in
        for index in 0..<20 { try await put(store, "h\(index % 4)", "\(index)") }
        _ = try await store.delete(DeleteRequest(range: .single(bytes("h1"))))
        let at10 = try await store.hashKV(revision: 10)
        try expectEqual(at10.revision, 10)
        let head = try await store.hashKV(revision: 0)
        try expectEqual(head.revision, store.revision)
        try expect(head.hash != at10.hash, "different histories hash differently")
        try await put(store, "h9", "x")
        try expectEqual(try await store.hashKV(revision: 10), at10, "later writes do not change an earlier hash")
        try expectEqual(try await store.hashKV(revision: head.revision), head)
        try await expectRejected(store, .futureRevision) { try await store.hashKV(revision: store.revision + 1) }
        // Logical compaction alone and finished physical compaction hash the same.
        _ = try await store.compact(revision: 12)
        let logical = try await store.hashKV(revision: 0)
        try expectEqual(logical.compactRevision, 12)
        _ = try await store.compact(revision: 13, physical: true)
        try await expectRejected(store, .compacted) { try await store.hashKV(revision: 13) }
        try await expectRejected(store, .compacted) { try await store.hashKV(revision: 5) }
        try expect(try await store.hashKV(revision: 0).hash != logical.hash, "a new compaction point changes the hash")
    },
    ConformanceCase("CRC-32C check value") { _ in
        var crc = CRC32C()
        crc.update(Array("123456789".utf8))
        try expectEqual(crc.value, 0xE306_9283)
    },
]
