import RevisionLog
import Synchronization

/// Compaction (etcd semantics §3.5): the point, its errors, and what history survives.
let compactionCases: [ConformanceCase] = [
    ConformanceCase("compaction errors: twice, below the point, past the head") { store in
        for index in 0..<5 { try await put(store, "k", "\(index)") }  // revs 2...6
        try expectEqual(try await store.compact(revision: 4).revision, 6)
        try await expectRejected(store, .compacted) { try await store.compact(revision: 4) }
        try await expectRejected(store, .compacted) { try await store.compact(revision: 3) }
        try await expectRejected(store, .futureRevision) { try await store.compact(revision: 7) }
        _ = try await store.compact(revision: 6)  // the current revision may be compacted
        try expectEqual(try await store.revisions().compactRevision, 6)
        try expectEqual(store.revision, 6, "compaction adds no revision")
    },
    ConformanceCase("reads below the compaction point fail; at the point and above they succeed") { store in
        try await put(store, "a", "1")  // 2
        try await put(store, "a", "2")  // 3
        try await put(store, "b", "1")  // 4
        _ = try await store.delete(DeleteRequest(range: .single(bytes("b"))))  // 5
        try await put(store, "a", "3")  // 6
        _ = try await store.compact(revision: 4, physical: true)
        var request = RangeRequest(range: .fromKey([0]))
        request.revision = 3
        try await expectRejected(store, .compacted) { try await store.range(request) }
        request.revision = 4
        var result = try await store.range(request)
        try expectEqual(result.keyValues.map(\.value), [bytes("2"), bytes("1")])
        try expectEqual(result.keyValues.map(\.modRevision), [3, 4])
        request.revision = 5
        result = try await store.range(request)
        try expectEqual(keys(result), ["a"])
        try expectEqual(result.keyValues.first?.version, 2)
        // The generation survives compaction: the next put continues its version.
        try await put(store, "a", "4")
        try expectEqual(try await get(store, "a")?.version, 4)
        try expectEqual(try await get(store, "a")?.createRevision, 2)
        // Txn ranges below the point fail the txn.
        var old = RangeRequest(range: .single(bytes("a")))
        old.revision = 2
        try await expectRejected(store, .compacted) { try await store.txn(TxnRequest(success: [.range(old)])) }
    },
    ConformanceCase("physical compaction removes superseded history and tombstones") { store in
        for round in 0..<50 {
            for key in ["x", "y", "z"] { try await put(store, key, "\(round)") }
        }
        _ = try await store.delete(DeleteRequest(range: .single(bytes("y"))))
        let head = store.revision
        try expectEqual(try await store.changes(from: 2, through: head, limit: 1000).count, 151)
        _ = try await store.compact(revision: head, physical: true)
        // Only the latest put of each live key remains in the log.
        let remaining = try await store.changes(from: 0, through: head, limit: 1000)
        try expectEqual(remaining.map { String(decoding: $0.keyValue.key, as: UTF8.self) }, ["x", "z"])
        try expectEqual(remaining.map(\.kind), [.put, .put])
        try expectEqual(keys(try await store.range(RangeRequest(range: .fromKey([0])))), ["x", "z"])
        try expectEqual(try await get(store, "x")?.version, 50)
    },
    ConformanceCase("changes() replays the log in revision order, never splitting a revision") { store in
        try await put(store, "a", "1")
        _ = try await store.txn(
            TxnRequest(success: [
                .put(PutRequest(key: bytes("b"), value: [])),
                .put(PutRequest(key: bytes("c"), value: [])),
            ]))
        try await put(store, "a", "2")
        let all = try await store.changes(from: 2, through: 4, limit: 100)
        try expectEqual(all.map(\.revision), [2, 3, 3, 4])
        try expectEqual(all.map(\.subRevision), [0, 0, 1, 0])
        let limited = try await store.changes(from: 3, through: 4, limit: 1)
        try expectEqual(limited.map(\.revision), [3, 3])
    },
]

/// Group commit: concurrent writers each get their own revision.
let concurrencyCases: [ConformanceCase] = [
    ConformanceCase("concurrent writes get distinct, gapless revisions") { store in
        let writers = 200
        let revisions = try await withThrowingTaskGroup(of: Int64.self) { group in
            for index in 0..<writers {
                group.addTask { try await put(store, "key\(index % 20)", "\(index)").revision }
            }
            var collected: [Int64] = []
            for try await revision in group { collected.append(revision) }
            return collected
        }
        try expectEqual(revisions.sorted(), Array(2...Int64(writers + 1)))
        try expectEqual(store.revision, Int64(writers + 1))
        let all = try await store.range(RangeRequest(range: .fromKey([0])))
        try expectEqual(all.count, 20)
        try expectEqual(all.keyValues.map(\.version).reduce(0, +), Int64(writers))
    },
    ConformanceCase("commit observers see every revision in order") { store in
        let seen = Observed()
        store.observeCommits { revisions in seen.append(revisions.map(\.revision)) }
        for index in 0..<20 { try await put(store, "k", "\(index)") }
        try expectEqual(seen.values, Array(2...21))
    },
]

final class Observed: Sendable {
    private let storage = Mutex<[Int64]>([])
    func append(_ values: [Int64]) { storage.withLock { $0 += values } }
    var values: [Int64] { storage.withLock { $0 } }
}
