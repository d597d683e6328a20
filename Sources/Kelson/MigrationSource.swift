import RevisionLog

/// Everything a migration source reports before its keys.
struct MigrationSourceHeader {
    /// The revision the snapshot is at (the destination's revision once copied).
    var revision: Int64
    /// Live keys in the snapshot (for progress).
    var keyCount: Int64
    var leases: [LeaseRecord]
    /// Things the user should know, e.g. a lease that expired while it was being read.
    var warnings: [String] = []
}

/// Where `kelson migrate` reads from: one consistent snapshot of a store's live state.
protocol MigrationSource {
    /// Reads the live state of one snapshot: `header` first, then every live key in ascending key order,
    /// in pages of at most `pageSize` keys.
    func read(
        pageSize: Int, header: (MigrationSourceHeader) throws -> Void, page: ([KeyValue]) throws -> Void
    ) async throws
    func close() async
}

/// A Kelson store (SQLite or PostgreSQL), read in one backend read transaction, so every page comes from
/// the same snapshot even while a server keeps writing to it.
struct BackendMigrationSource: MigrationSource {
    let backend: any LogBackend

    func read(
        pageSize: Int, header: (MigrationSourceHeader) throws -> Void, page: ([KeyValue]) throws -> Void
    ) async throws {
        try backend.read { reader in
            try header(
                MigrationSourceHeader(
                    revision: reader.revision, keyCount: try reader.count(.fromKey([]), at: 0),
                    leases: try reader.leases()))
            try StoreImport.forEachLiveKey(reader, pageSize: pageSize, page)
        }
    }

    func close() async { backend.close() }
}
