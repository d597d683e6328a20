import RevisionLog

/// Reads (and, on the writer connection, writes) inside one SQLite transaction.
/// SQL for each range shape is fixed text, so every statement is prepared once per connection.
final class SQLiteView: BackendWriter {
    let connection: SQLiteConnection
    let revision: Int64
    let compactRevision: Int64
    let compactedThrough: Int64

    /// Loads the state row; call inside an open transaction so it belongs to the same snapshot.
    init(connection: SQLiteConnection) throws(StoreError) {
        self.connection = connection
        let statement = try connection.statement(
            "SELECT revision, compact_revision, compacted_through FROM kelson_state WHERE id = 1")
        guard try statement.step() else { throw StoreError(.corrupt, "kelson_state has no row") }
        revision = statement.int64(0)
        compactRevision = statement.int64(1)
        compactedThrough = statement.int64(2)
    }

    /// Head rows: kv_live joined, by rowid, to the log row holding the value (driven from kv_live, in key order).
    private static let liveColumns = "k.key, k.create_revision, k.mod_revision, k.version, l.value, k.lease"
    private static let liveTables = "kv_live k CROSS JOIN kv_log l ON l.id = k.log_id"
    private static let logColumns = "l.key, l.create_revision, l.revision, l.version, l.value, l.lease"

    func get(_ key: [UInt8], at revision: Int64) throws -> KeyValue? {
        if revision == 0 {
            let statement = try connection.statement(
                "SELECT \(Self.liveColumns) FROM \(Self.liveTables) WHERE k.key = ?1")
            statement.bind(1, key)
            return try statement.step() ? Self.keyValue(statement) : nil
        }
        let statement = try connection.statement(
            """
            SELECT \(Self.logColumns), l.deleted FROM kv_log l WHERE l.key = ?1 AND l.revision <= ?2
            ORDER BY l.revision DESC, l.id DESC LIMIT 1
            """)
        statement.bind(1, key)
        statement.bind(2, revision)
        guard try statement.step(), statement.int64(6) == 0 else { return nil }
        return Self.keyValue(statement)
    }

    func range(_ range: KeyRange, at revision: Int64, limit: Int) throws -> [KeyValue] {
        if case .single(let key) = range { return try get(key, at: revision).map { [$0] } ?? [] }
        let bounded = range.end != nil
        let keyCondition = bounded ? "key >= ?1 AND key < ?2" : "key >= ?1"
        let statement: Statement
        if revision == 0 {
            statement = try connection.statement(
                """
                SELECT \(Self.liveColumns) FROM \(Self.liveTables)
                WHERE \(keyCondition.replacingOccurrences(of: "key", with: "k.key")) ORDER BY k.key LIMIT ?4
                """)
        } else {
            statement = try connection.statement(
                "\(Self.keysAt(bounded: bounded)) SELECT \(Self.logColumns) \(Self.latestAt) WHERE l.deleted = 0 LIMIT ?4"
            )
            statement.bind(3, revision)
        }
        bind(range, to: statement)
        statement.bind(4, limit > 0 ? Int64(limit) : -1)
        var result: [KeyValue] = []
        while try statement.step() { result.append(Self.keyValue(statement)) }
        return result
    }

    /// The distinct keys of the log in `?1 <= key (< ?2)`, ascending, by a skip scan of `kv_log_by_key`: one index
    /// seek per key, so a read in the past costs O(keys in range), not O(history in range) (a GROUP BY over the
    /// range read every version of every key: a paginated list's later pages, read at the first page's revision,
    /// slowed down with every update). The CTE runs as a co-routine in its queue's (ascending) order, so a LIMIT
    /// stops it early; its last row is NULL, which `latestAt` drops.
    private static func keysAt(bounded: Bool) -> String {
        let end = bounded ? " AND key < ?2" : ""
        return """
            WITH RECURSIVE keys(key) AS (
              SELECT (SELECT key FROM kv_log WHERE key >= ?1\(end) ORDER BY key LIMIT 1)
              UNION ALL
              SELECT (SELECT key FROM kv_log WHERE key > keys.key\(end) ORDER BY key LIMIT 1) FROM keys
              WHERE keys.key IS NOT NULL)
            """
    }

    /// Each key's latest log row at or below `?3` (absent for a key created later).
    private static let latestAt = """
        FROM keys CROSS JOIN kv_log l ON l.id = (SELECT x.id FROM kv_log x WHERE x.key = keys.key AND x.revision <= ?3
          ORDER BY x.revision DESC, x.id DESC LIMIT 1)
        """

    func count(_ range: KeyRange, at revision: Int64) throws -> Int64 {
        if case .single(let key) = range { return try get(key, at: revision) == nil ? 0 : 1 }
        let keyCondition = range.end != nil ? "key >= ?1 AND key < ?2" : "key >= ?1"
        let statement: Statement
        if revision == 0 {
            statement = try connection.statement("SELECT count(*) FROM kv_live WHERE \(keyCondition)")
        } else {
            statement = try connection.statement(
                "\(Self.keysAt(bounded: range.end != nil)) SELECT count(*) \(Self.latestAt) WHERE l.deleted = 0")
            statement.bind(3, revision)
        }
        bind(range, to: statement)
        _ = try statement.step()
        return statement.int64(0)
    }

    func changes(from: Int64, through: Int64, limit: Int) throws -> [Change] {
        let statement = try connection.statement(
            """
            SELECT revision, sub_revision, key, deleted, create_revision, version, lease, value FROM kv_log
            WHERE revision >= ?1 AND revision <= ?2 ORDER BY revision, sub_revision LIMIT ?3
            """)
        statement.bind(1, from)
        statement.bind(2, through)
        statement.bind(3, Int64(max(limit, 1)))
        var result: [Change] = []
        while try statement.step() { result.append(Self.change(statement)) }
        // Never split a revision: finish the last one even past the limit.
        if result.count >= limit, let last = result.last {
            let rest = try connection.statement(
                """
                SELECT revision, sub_revision, key, deleted, create_revision, version, lease, value FROM kv_log
                WHERE revision = ?1 AND sub_revision > ?2 ORDER BY sub_revision
                """)
            rest.bind(1, last.revision)
            rest.bind(2, last.subRevision)
            while try rest.step() { result.append(Self.change(rest)) }
        }
        return result
    }

    func append(_ change: Change) throws {
        let keyValue = change.keyValue
        let log = try connection.statement(
            """
            INSERT INTO kv_log (revision, sub_revision, key, deleted, create_revision, version, lease, value)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            """)
        log.bind(1, change.revision)
        log.bind(2, change.subRevision)
        log.bind(3, keyValue.key)
        log.bind(4, change.kind == .delete ? 1 : 0)
        log.bind(5, keyValue.createRevision)
        log.bind(6, keyValue.version)
        log.bind(7, keyValue.lease)
        log.bind(8, keyValue.value)
        try log.run()
        switch change.kind {
        case .put:
            let live = try connection.statement(
                """
                INSERT OR REPLACE INTO kv_live (key, create_revision, mod_revision, version, lease, log_id)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                """)
            live.bind(1, keyValue.key)
            live.bind(2, keyValue.createRevision)
            live.bind(3, keyValue.modRevision)
            live.bind(4, keyValue.version)
            live.bind(5, keyValue.lease)
            live.bind(6, connection.lastInsertedRowID)
            try live.run()
        case .delete:
            let live = try connection.statement("DELETE FROM kv_live WHERE key = ?1")
            live.bind(1, keyValue.key)
            try live.run()
        }
    }

    /// Removes the log rows with `cursor < id <= upper` that compacting at `revision` makes obsolete: tombstones, and
    /// rows superseded by a later row of their key at or below `revision` (the latest put of each key stays).
    func removeCompacted(revision: Int64, cursor: Int64, upper: Int64) throws {
        let delete = try connection.statement(
            """
            DELETE FROM kv_log WHERE id IN (
              SELECT a.id FROM kv_log a WHERE a.id > ?1 AND a.id <= ?2 AND a.revision <= ?3
              AND (a.deleted = 1 OR EXISTS (
                SELECT 1 FROM kv_log b WHERE b.key = a.key AND b.revision <= ?3 AND b.id > a.id)))
            """)
        delete.bind(1, cursor)
        delete.bind(2, upper)
        delete.bind(3, revision)
        try delete.run()
    }

    func leases() throws -> [LeaseRecord] {
        let statement = try connection.statement("SELECT id, ttl FROM lease ORDER BY id")
        var result: [LeaseRecord] = []
        while try statement.step() { result.append(LeaseRecord(id: statement.int64(0), ttl: statement.int64(1))) }
        return result
    }

    func lease(_ id: Int64) throws -> LeaseRecord? {
        let statement = try connection.statement("SELECT ttl FROM lease WHERE id = ?1")
        statement.bind(1, id)
        return try statement.step() ? LeaseRecord(id: id, ttl: statement.int64(0)) : nil
    }

    func keys(attachedTo lease: Int64, limit: Int) throws -> [[UInt8]] {
        // `lease != 0` lets SQLite use the partial index kv_live_by_lease.
        let statement = try connection.statement(
            "SELECT key FROM kv_live WHERE lease = ?1 AND lease != 0 ORDER BY key LIMIT ?2")
        statement.bind(1, lease)
        statement.bind(2, limit > 0 ? Int64(limit) : -1)
        var result: [[UInt8]] = []
        while try statement.step() { result.append(statement.bytes(0)) }
        return result
    }

    func metadata(_ name: String) throws -> [UInt8]? {
        let statement = try connection.statement("SELECT value FROM kelson_metadata WHERE name = ?1")
        statement.bind(1, Array(name.utf8))
        return try statement.step() ? statement.bytes(0) : nil
    }

    func putLease(_ lease: LeaseRecord) throws {
        let statement = try connection.statement("INSERT OR REPLACE INTO lease (id, ttl) VALUES (?1, ?2)")
        statement.bind(1, lease.id)
        statement.bind(2, lease.ttl)
        try statement.run()
    }

    func deleteLease(_ id: Int64) throws {
        let statement = try connection.statement("DELETE FROM lease WHERE id = ?1")
        statement.bind(1, id)
        try statement.run()
    }

    func setMetadata(_ name: String, _ value: [UInt8]?) throws {
        let statement: Statement
        if let value {
            statement = try connection.statement(
                "INSERT OR REPLACE INTO kelson_metadata (name, value) VALUES (?1, ?2)")
            statement.bind(2, value)
        } else {
            statement = try connection.statement("DELETE FROM kelson_metadata WHERE name = ?1")
        }
        statement.bind(1, Array(name.utf8))
        try statement.run()
    }

    func setRevision(_ revision: Int64) throws { try setState("revision", revision) }
    func setCompactRevision(_ revision: Int64) throws { try setState("compact_revision", revision) }
    func setCompactedThrough(_ revision: Int64) throws { try setState("compacted_through", revision) }

    private func setState(_ column: String, _ value: Int64) throws {
        let statement = try connection.statement("UPDATE kelson_state SET \(column) = ?1 WHERE id = 1")
        statement.bind(1, value)
        try statement.run()
    }

    private func bind(_ range: KeyRange, to statement: Statement) {
        statement.bind(1, range.start)
        if let end = range.end { statement.bind(2, end) }
    }

    /// Columns: key, create_revision, mod_revision, version, value, lease.
    private static func keyValue(_ statement: Statement) -> KeyValue {
        KeyValue(
            key: statement.bytes(0), createRevision: statement.int64(1), modRevision: statement.int64(2),
            version: statement.int64(3), value: statement.bytes(4), lease: statement.int64(5))
    }

    /// Columns: revision, sub_revision, key, deleted, create_revision, version, lease, value.
    private static func change(_ statement: Statement) -> Change {
        let keyValue = KeyValue(
            key: statement.bytes(2), createRevision: statement.int64(4),
            modRevision: statement.int64(0), version: statement.int64(5),
            value: statement.bytes(7), lease: statement.int64(6))
        return Change(
            kind: statement.int64(3) == 1 ? .delete : .put, keyValue: keyValue,
            subRevision: statement.int64(1))
    }
}
