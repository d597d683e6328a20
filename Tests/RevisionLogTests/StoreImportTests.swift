import RevisionLog
import RevisionLogTesting
import Testing

/// `StoreImport` on a MemoryBackend: what a store filled by an import serves, and what the import refuses.
/// (`IntegrationTests/MigrateTests` run it on SQLite and PostgreSQL through `kelson migrate`.)
@Suite("StoreImport")
struct StoreImportTests {
    private func keyValue(_ key: String, create: Int64, mod: Int64, version: Int64, lease: Int64 = 0) -> KeyValue {
        KeyValue(
            key: Array(key.utf8), createRevision: create, modRevision: mod, version: version,
            value: Array("\(key)@\(mod)".utf8), lease: lease)
    }

    @Test("an imported store keeps revisions and versions, starts compacted at the source revision, and takes writes")
    func importedStore() async throws {
        let backend = MemoryBackend()
        // Two keys share mod revision 7 (one txn), written across transactions of two keys.
        let live = [
            keyValue("c", create: 3, mod: 4, version: 2),
            keyValue("a", create: 2, mod: 7, version: 3, lease: 42),
            keyValue("b", create: 7, mod: 7, version: 1),
            keyValue("d", create: 9, mod: 9, version: 1),
        ]
        var importer = try StoreImport(
            into: backend, revision: 10, leases: [LeaseRecord(id: 42, ttl: 60)],
            limits: StoreImport.Limits(maximumKeys: 2))
        for keyValue in live { try importer.add(keyValue) }
        try importer.finish()
        #expect(importer.keysWritten == 4)
        let digest = try backend.read { try LiveStateDigest.compute($0, pageSize: 3) }
        var expected = LiveStateDigest()
        expected.add(leases: [LeaseRecord(id: 42, ttl: 60)])
        for keyValue in live.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) { expected.add(keyValue) }
        #expect(digest == expected && digest.keys == 4 && digest.leases == 1)

        let store = try Store(
            backend: backend, configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        defer { store.close() }
        let revisions = try await store.revisions()
        let (revision, compactRevision) = (revisions.revision, revisions.compactRevision)
        #expect(revision == 10 && compactRevision == 10)
        let all = try await store.range(RangeRequest(range: .fromKey([0]))).keyValues
        #expect(all == live.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }))
        let revision7 = try await store.changes(from: 7, through: 7, limit: 10)
        #expect(
            revision7.map(\.subRevision) == [0, 1]
                && revision7.map(\.keyValue.key) == [Array("a".utf8), Array("b".utf8)])
        var old = RangeRequest(range: .fromKey([0]))
        old.revision = 9
        await #expect(throws: StoreError(.compacted)) { try await store.range(old) }
        old.revision = 10
        #expect(try await store.range(old).keyValues.count == 4)
        #expect(try await store.leaseTimeToLive(id: 42, keys: true)?.keys == [Array("a".utf8)])
        let put = try await store.put(PutRequest(key: Array("a".utf8), value: Array("new".utf8)))
        #expect(put.revision == 11)
        let a = try await store.range(RangeRequest(range: .single(Array("a".utf8)))).keyValues.first
        #expect(a?.createRevision == 2 && a?.version == 4)
    }

    @Test("a store that holds anything is refused and left as it was")
    func refusesNonEmpty() async throws {
        let backend = MemoryBackend()
        let store = try Store(backend: backend, logger: conformanceLogger())
        defer { store.close() }  // closing the store closes the backend
        _ = try await store.put(PutRequest(key: Array("x".utf8), value: Array("1".utf8)))
        #expect(throws: StoreError(.notEmpty)) { try StoreImport.requireEmpty(backend) }
        #expect(throws: StoreError(.notEmpty)) { try StoreImport(into: backend, revision: 5, leases: []) }
        let state = try backend.read { [$0.revision, $0.compactRevision] }
        #expect(state == [2, -1])

        let leased = MemoryBackend()
        try leased.write { try $0.putLease(LeaseRecord(id: 1, ttl: 10)) }
        #expect(throws: StoreError(.notEmpty)) { try StoreImport.requireEmpty(leased) }
    }

    @Test("keys out of (mod revision, key) order or past the source revision are refused")
    func refusesBadOrder() throws {
        var importer = try StoreImport(into: MemoryBackend(), revision: 5, leases: [])
        try importer.add(keyValue("b", create: 3, mod: 3, version: 1))
        #expect(throws: StoreError(.corrupt)) { try importer.add(keyValue("a", create: 3, mod: 3, version: 1)) }
        #expect(throws: StoreError(.corrupt)) { try importer.add(keyValue("z", create: 2, mod: 2, version: 1)) }
        #expect(throws: StoreError(.corrupt)) { try importer.add(keyValue("z", create: 6, mod: 6, version: 1)) }
        #expect(throws: StoreError(.corrupt)) { try importer.add(keyValue("z", create: 4, mod: 3, version: 0)) }
    }

    @Test("an unfinished import keeps the store from opening, and a new import from starting")
    func unfinished() throws {
        let backend = MemoryBackend()
        var importer = try StoreImport(
            into: backend, revision: 5, leases: [], limits: StoreImport.Limits(maximumKeys: 1))
        try importer.add(keyValue("a", create: 2, mod: 2, version: 1))
        #expect(throws: StoreError(.corrupt)) { try Store(backend: backend, logger: conformanceLogger()) }
        #expect(throws: StoreError(.notEmpty)) { try StoreImport.requireEmpty(backend) }
    }
}
