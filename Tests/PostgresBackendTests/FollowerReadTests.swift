import RevisionLog
import RevisionLogTesting
import Testing

@testable import PostgresBackend

/// `PostgresBackend.followerRead` (one pipelined round trip, binary rows) must answer exactly what the generic
/// read does: `changesWithPrevious` and the head revision from one snapshot.
@Suite("PostgreSQL follower read")
struct FollowerReadTests {
    @Test("equals changesWithPrevious for creates, updates, deletes, re-creates, multi-change revisions and limits")
    func matchesGenericRead() async throws {
        let database = try TestDatabase()
        defer { withExtendedLifetime(database) {} }
        let backend = try PostgresBackend(configuration: PostgresConfiguration(url: database.url))
        let store = try Store(
            backend: backend, configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        defer { store.close() }
        func key(_ text: String) -> [UInt8] { Array(text.utf8) }
        _ = try await store.put(PutRequest(key: key("a"), value: key("1")))
        _ = try await store.put(PutRequest(key: key("a"), value: key("2")))
        _ = try await store.put(PutRequest(key: key("b"), value: [0, 255, 0]))
        _ = try await store.delete(DeleteRequest(range: KeyRange(key: key("a"), rangeEnd: [])))
        _ = try await store.put(PutRequest(key: key("a"), value: key("3")))
        _ = try await store.txn(
            TxnRequest(success: [
                .put(PutRequest(key: key("a"), value: key("4"))), .put(PutRequest(key: key("c"), value: [])),
                .delete(DeleteRequest(range: KeyRange(key: key("b"), rangeEnd: []))),
            ]))
        _ = try await store.put(PutRequest(key: key("c"), value: key("5")))
        let head = store.revision
        #expect(head == 8)

        var compared = 0
        for from in Int64(1)...head + 1 {
            for through in [from, from + 2, head, Int64.max] where through >= from {
                for limit in [1, 2, 3, 1_000] {
                    let fast = try backend.followerRead(from: from, through: through, limit: limit)
                    let generic = try backend.read { reader in
                        (try reader.changesWithPrevious(from: from, through: through, limit: limit), reader.revision)
                    }
                    #expect(fast.changes == generic.0, "from \(from) through \(through) limit \(limit)")
                    #expect(fast.head == generic.1)
                    compared += 1
                }
            }
        }
        // The multi-change revision comes whole even past the limit, with each change's previous value.
        let txnRevision = try backend.followerRead(from: 7, through: 7, limit: 1).changes
        #expect(txnRevision.count == 3)
        #expect(txnRevision.map { $0.previous?.value } == [key("3"), nil, [0, 255, 0]])
        #expect(compared > 50)
    }
}
