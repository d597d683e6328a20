import RevisionLog

/// Auto-compaction moves the compaction point on every few seconds, and each move starts the batch walk
/// (`LogBackend.compactBatch`) again from the beginning of the log. That walk must cost the rows still there,
/// not the history ever written: when it stepped through positions, a store under sustained writes restarted
/// it before it reached the end, and history piled up without bound.
public enum CompactionWalk {
    /// Fills `store` (fresh, on `backend`) with 400 revisions of 10 keys, compacts them at revision 301, then
    /// walks a compaction at revision 311 from the start with 250-row batches: one or two batches must do,
    /// and only the latest row of each key may remain at or below 311.
    public static func check(store: Store, backend: any LogBackend) async throws {
        for round in 0..<400 {
            let puts = (0..<10).map { key in
                TxnOperation.put(PutRequest(key: Array("walk/\(key)".utf8), value: Array("\(round)".utf8)))
            }
            _ = try await store.txn(TxnRequest(success: puts))
        }
        _ = try await store.compact(revision: 301, physical: true)
        var cursor: Int64 = 0
        var batches = 0
        while true {
            batches += 1
            guard let next = try backend.compactBatch(revision: 311, cursor: cursor, limit: 250) else { break }
            cursor = next
            if batches > 100 { break }
        }
        try expect(batches <= 2, "the walk over compacted history took \(batches) batches of 250 rows")
        let remaining = try await store.changes(from: 0, through: 311, limit: 1000)
        try expectEqual(remaining.map(\.keyValue.modRevision), Array(repeating: 311, count: 10))
    }
}
