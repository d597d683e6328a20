import RevisionLog

/// Reads (and, in a write transaction, writes) inside one PostgreSQL transaction.
///
/// Reads run in a `REPEATABLE READ READ ONLY` transaction: one snapshot for the whole body. A write
/// transaction holds the `kelson_state` row lock, so nothing else writes while it runs; its changes are
/// buffered (with an overlay the view's own reads consult) and sent in one round trip when the transaction
/// commits, or earlier before a read that the overlay cannot answer (ranges, counts, history).
final class PostgresView: BackendWriter {
    let connection: PostgresConnection
    let revision: Int64
    let compactRevision: Int64
    let compactedThrough: Int64
    private let leaseNow: String

    private enum LiveEntry {
        case put(KeyValue)
        case deleted
    }
    private var pendingLog: [Change] = []
    private var pendingBytes = 0
    private var overlay: [[UInt8]: LiveEntry] = [:]
    /// Head states fetched by `prefetch` (nil = known absent); the overlay takes precedence.
    private var prefetched: [[UInt8]: KeyValue?] = [:]
    /// Set by `setMetadata`: the commit tells other processes (see `CommitListener`).
    private(set) var metadataChanged = false
    private var pendingState: (revision: Int64?, compactRevision: Int64?, compactedThrough: Int64?) = (nil, nil, nil)
    /// Buffered changes above this many bytes are sent before the next one (bounds the statement size).
    private static let flushBytes = 4 << 20

    /// `revision`, `compactRevision`, `compactedThrough`: the `kelson_state` row read at the start of the transaction.
    /// `leaseNow`: SQL for the lease clock's "now" (see `PostgresBackend.now`).
    init(
        connection: PostgresConnection, revision: Int64, compactRevision: Int64, compactedThrough: Int64,
        leaseNow: String = "clock_timestamp()"
    ) {
        self.connection = connection
        self.leaseNow = leaseNow
        self.revision = revision
        self.compactRevision = compactRevision
        self.compactedThrough = compactedThrough
    }

    /// A view of the `kelson_state` row `state` (`stateQuery`'s columns as text).
    convenience init(connection: PostgresConnection, state: [String?]) throws(StoreError) {
        guard state.count >= 3, let revision = state[0].flatMap({ Int64($0) }),
            let compactRevision = state[1].flatMap({ Int64($0) }),
            let compactedThrough = state[2].flatMap({ Int64($0) })
        else { throw StoreError(.corrupt, "kelson_state has no row") }
        self.init(
            connection: connection, revision: revision, compactRevision: compactRevision,
            compactedThrough: compactedThrough)
    }

    static let stateQuery = "SELECT revision, compact_revision, compacted_through FROM kelson_state WHERE id = 1"
    private static let liveColumns = "key, create_revision, mod_revision, version, lease, value"
    private static let logColumns = "key, create_revision, revision, version, lease, value"
    private static let changeColumns = "revision, sub_revision, key, deleted, create_revision, version, lease, value"

    // MARK: Reads

    func get(_ key: [UInt8], at revision: Int64) throws -> KeyValue? {
        if revision == 0 {
            switch overlay[key] {
            case .put(let keyValue): return keyValue
            case .deleted: return nil
            case nil:
                if let known = prefetched[key] { return known }
                let rows = try connection.query(
                    "SELECT \(Self.liveColumns) FROM kv_live WHERE key = $1", [PostgresConnection.byteaParameter(key)])
                return try rows.first.map(Self.keyValue)
            }
        }
        try flush()
        let rows = try connection.query(
            """
            SELECT \(Self.logColumns), deleted FROM kv_log WHERE key = $1 AND revision <= $2
            ORDER BY revision DESC, sub_revision DESC LIMIT 1
            """, [PostgresConnection.byteaParameter(key), String(revision)])
        guard let row = rows.first, row[6] == "f" else { return nil }
        return try Self.keyValue(row)
    }

    func range(_ range: KeyRange, at revision: Int64, limit: Int) throws -> [KeyValue] {
        if case .single(let key) = range { return try get(key, at: revision).map { [$0] } ?? [] }
        try flush()
        var parameters = keyParameters(range)
        let keyCondition = range.end != nil ? "key >= $1 AND key < $2" : "key >= $1"
        let limitParameter = "$\(parameters.count + 1)"
        parameters.append(limit > 0 ? String(limit) : nil)  // LIMIT NULL is LIMIT ALL
        let sql: String
        if revision == 0 {
            sql = "SELECT \(Self.liveColumns) FROM kv_live WHERE \(keyCondition) ORDER BY key LIMIT \(limitParameter)"
        } else {
            parameters.append(String(revision))
            sql = """
                SELECT \(Self.logColumns) FROM (
                  SELECT DISTINCT ON (key) \(Self.logColumns), deleted FROM kv_log
                  WHERE \(keyCondition) AND revision <= $\(parameters.count) ORDER BY key, revision DESC, sub_revision DESC
                ) t WHERE NOT deleted ORDER BY key LIMIT \(limitParameter)
                """
        }
        return try connection.query(sql, parameters).map(Self.keyValue)
    }

    func count(_ range: KeyRange, at revision: Int64) throws -> Int64 {
        if case .single(let key) = range { return try get(key, at: revision) == nil ? 0 : 1 }
        try flush()
        var parameters = keyParameters(range)
        let keyCondition = range.end != nil ? "key >= $1 AND key < $2" : "key >= $1"
        let sql: String
        if revision == 0 {
            sql = "SELECT count(*) FROM kv_live WHERE \(keyCondition)"
        } else {
            parameters.append(String(revision))
            sql = """
                SELECT count(*) FROM (
                  SELECT DISTINCT ON (key) deleted FROM kv_log
                  WHERE \(keyCondition) AND revision <= $\(parameters.count) ORDER BY key, revision DESC, sub_revision DESC
                ) t WHERE NOT deleted
                """
        }
        return try Self.int64(connection.query(sql, parameters).first?.first ?? nil)
    }

    func changes(from: Int64, through: Int64, limit: Int) throws -> [Change] {
        try changes(from: from, through: through, limit: limit, previous: false)
    }

    func changesWithPrevious(from: Int64, through: Int64, limit: Int) throws -> [Change] {
        try changes(from: from, through: through, limit: limit, previous: true)
    }

    /// With `previous`, each row is joined to its key's row just before it (one query instead of one per change).
    private func changes(from: Int64, through: Int64, limit: Int, previous: Bool) throws -> [Change] {
        try flush()
        let columns = Self.changeColumns.split(separator: ", ").map { "c.\($0)" }.joined(separator: ", ")
        let select =
            previous
            ? """
            SELECT \(columns), p.key, p.create_revision, p.revision, p.version, p.lease, p.value, p.deleted
            FROM kv_log c LEFT JOIN LATERAL (
              SELECT key, create_revision, revision, version, lease, value, deleted FROM kv_log
              WHERE key = c.key AND revision < c.revision ORDER BY revision DESC, sub_revision DESC LIMIT 1
            ) p ON true
            """ : "SELECT \(columns) FROM kv_log c"
        func decode(_ row: [String?]) throws -> Change {
            var change = try Self.change(row)
            if previous, !change.isCreate, row.count > 14, row[8] != nil, row[14] == "f" {
                change.previous = try Self.keyValue(Array(row[8...13]))
            }
            return change
        }
        var result = try connection.query(
            """
            \(select) WHERE c.revision >= $1 AND c.revision <= $2 ORDER BY c.revision, c.sub_revision LIMIT $3
            """, [String(from), String(through), String(max(limit, 1))]
        ).map(decode)
        // Never split a revision: finish the last one even past the limit.
        if result.count >= limit, let last = result.last {
            result += try connection.query(
                """
                \(select) WHERE c.revision = $1 AND c.sub_revision > $2 ORDER BY c.sub_revision
                """, [String(last.revision), String(last.subRevision)]
            ).map(decode)
        }
        return result
    }

    func leases() throws -> [LeaseRecord] {
        try connection.query("SELECT id, ttl FROM kelson_lease ORDER BY id").map { row in
            LeaseRecord(id: try Self.int64(row[0]), ttl: try Self.int64(row[1]))
        }
    }

    func lease(_ id: Int64) throws -> LeaseRecord? {
        try connection.query("SELECT ttl FROM kelson_lease WHERE id = $1", [String(id)]).first.map { row in
            LeaseRecord(id: id, ttl: try Self.int64(row[0]))
        }
    }

    func keys(attachedTo lease: Int64, limit: Int) throws -> [[UInt8]] {
        try flush()
        // `lease <> 0` lets PostgreSQL use the partial index kv_live_by_lease.
        return try connection.query(
            "SELECT key FROM kv_live WHERE lease = $1 AND lease <> 0 ORDER BY key LIMIT $2",
            [String(lease), limit > 0 ? String(limit) : nil]
        ).map { try Self.bytes($0[0]) }
    }

    func metadata(_ name: String) throws -> [UInt8]? {
        try connection.query("SELECT value FROM kelson_metadata WHERE name = $1", [name]).first.map {
            try Self.bytes($0[0])
        }
    }

    // MARK: Writes

    func prefetch(_ keys: [[UInt8]]) throws {
        let wanted = Array(Set(keys).filter { overlay[$0] == nil && prefetched[$0] == nil })
        guard wanted.count > 1 else { return }  // one key costs one round trip either way
        let rows = try connection.pipeline([Self.prefetchStep(wanted)])
        try remember(prefetched: wanted, rows: rows[0])
    }

    /// `prefetch`'s statement for `keys` (the write transaction sends it with its opening statements).
    static func prefetchStep(_ keys: [[UInt8]]) -> PostgresConnection.Step {
        (Statements.prefetch, [PostgresBinary.byteaArray(keys)])
    }

    /// Takes the rows `prefetchStep(keys)` returned: the head state of each of `keys` (absent when no row).
    func remember(prefetched keys: [[UInt8]], rows: [[[UInt8]?]]) throws(StoreError) {
        for key in keys { prefetched[key] = .some(nil) }
        for row in rows {
            let keyValue = try Self.binaryKeyValue(row)
            prefetched[keyValue.key] = keyValue
        }
    }

    func append(_ change: Change) throws {
        if pendingBytes >= Self.flushBytes { try flush() }
        pendingLog.append(change)
        pendingBytes += change.keyValue.key.count * 2 + change.keyValue.value.count * 2 + 64
        overlay[change.keyValue.key] = change.kind == .put ? .put(change.keyValue) : .deleted
    }

    func setRevision(_ revision: Int64) throws { pendingState.revision = revision }
    func setCompactRevision(_ revision: Int64) throws { pendingState.compactRevision = revision }
    func setCompactedThrough(_ revision: Int64) throws { pendingState.compactedThrough = revision }

    func putLease(_ lease: LeaseRecord) throws {
        try connection.query(
            """
            INSERT INTO kelson_lease (id, ttl, expires_at) VALUES ($1, $2, \(leaseNow) + $2::bigint * interval '1 second')
            ON CONFLICT (id) DO UPDATE SET ttl = EXCLUDED.ttl, expires_at = EXCLUDED.expires_at
            """, [String(lease.id), String(lease.ttl)])
    }

    func deleteLease(_ id: Int64) throws {
        try connection.query("DELETE FROM kelson_lease WHERE id = $1", [String(id)])
    }

    func setMetadata(_ name: String, _ value: [UInt8]?) throws {
        metadataChanged = true
        if let value {
            try connection.query(
                """
                INSERT INTO kelson_metadata (name, value) VALUES ($1, $2)
                ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value
                """, [name, PostgresConnection.byteaParameter(value)])
        } else {
            try connection.query("DELETE FROM kelson_metadata WHERE name = $1", [name])
        }
    }

    /// The statements that store what is buffered (none when nothing is), and forgets the buffer.
    func takePendingSteps() -> [PostgresConnection.Step] {
        var steps: [PostgresConnection.Step] = []
        if !pendingLog.isEmpty {
            steps.append(
                (
                    Statements.insertLog,
                    [
                        PostgresBinary.int8Array(pendingLog.map(\.revision)),
                        PostgresBinary.int4Array(pendingLog.map { Int32($0.subRevision) }),
                        PostgresBinary.byteaArray(pendingLog.map(\.keyValue.key)),
                        PostgresBinary.boolArray(pendingLog.map { $0.kind == .delete }),
                        PostgresBinary.int8Array(pendingLog.map(\.keyValue.createRevision)),
                        PostgresBinary.int8Array(pendingLog.map(\.keyValue.version)),
                        PostgresBinary.int8Array(pendingLog.map(\.keyValue.lease)),
                        PostgresBinary.byteaArray(pendingLog.map(\.keyValue.value)),
                    ]
                ))
            var deleted: [[UInt8]] = []
            var puts: [KeyValue] = []
            for (key, entry) in overlay {
                switch entry {
                case .deleted: deleted.append(key)
                case .put(let keyValue): puts.append(keyValue)
                }
            }
            if !deleted.isEmpty { steps.append((Statements.deleteLive, [PostgresBinary.byteaArray(deleted)])) }
            if !puts.isEmpty {
                steps.append(
                    (
                        Statements.upsertLive,
                        [
                            PostgresBinary.byteaArray(puts.map(\.key)),
                            PostgresBinary.int8Array(puts.map(\.createRevision)),
                            PostgresBinary.int8Array(puts.map(\.modRevision)),
                            PostgresBinary.int8Array(puts.map(\.version)),
                            PostgresBinary.int8Array(puts.map(\.lease)),
                            PostgresBinary.byteaArray(puts.map(\.value)),
                        ]
                    ))
            }
        }
        if pendingState.revision != nil || pendingState.compactRevision != nil || pendingState.compactedThrough != nil {
            steps.append(
                (
                    Statements.updateState,
                    [
                        pendingState.revision.map(PostgresBinary.int8),
                        pendingState.compactRevision.map(PostgresBinary.int8),
                        pendingState.compactedThrough.map(PostgresBinary.int8),
                    ]
                ))
        }
        pendingLog = []
        pendingBytes = 0
        // What the overlay held is now in the database; prefetched states of those keys are stale.
        for key in overlay.keys { prefetched[key] = nil }
        overlay = [:]
        pendingState = (nil, nil, nil)
        return steps
    }

    /// Sends what is buffered, so the database itself answers the next read.
    private func flush() throws(StoreError) {
        let steps = takePendingSteps()
        if !steps.isEmpty { try connection.pipeline(steps) }
    }

    // MARK: Decoding

    private func keyParameters(_ range: KeyRange) -> [String?] {
        [PostgresConnection.byteaParameter(range.start)]
            + (range.end.map { [PostgresConnection.byteaParameter($0)] } ?? [])
    }

    static func int64(_ text: String?) throws(StoreError) -> Int64 {
        guard let text, let value = Int64(text) else {
            throw StoreError(.corrupt, "expected an integer, got \(text ?? "NULL")")
        }
        return value
    }

    static func bytes(_ text: String?) throws(StoreError) -> [UInt8] {
        guard let text, let value = PostgresConnection.bytea(text) else {
            throw StoreError(.corrupt, "expected bytea, got \(text?.prefix(20) ?? "NULL")")
        }
        return value
    }

    /// Columns: key, create_revision, mod_revision, version, lease, value.
    private static func keyValue(_ row: [String?]) throws -> KeyValue {
        KeyValue(
            key: try bytes(row[0]), createRevision: try int64(row[1]), modRevision: try int64(row[2]),
            version: try int64(row[3]), value: try bytes(row[5]), lease: try int64(row[4]))
    }

    /// Columns: key, create_revision, mod_revision, version, lease, value, in binary.
    static func binaryKeyValue(_ row: [[UInt8]?]) throws(StoreError) -> KeyValue {
        guard row.count >= 6 else { throw StoreError(.corrupt, "expected 6 columns, got \(row.count)") }
        return KeyValue(
            key: try PostgresBinary.bytes(row[0]), createRevision: try PostgresBinary.integer(row[1]),
            modRevision: try PostgresBinary.integer(row[2]), version: try PostgresBinary.integer(row[3]),
            value: try PostgresBinary.bytes(row[5]), lease: try PostgresBinary.integer(row[4]))
    }

    /// Columns: `changeColumns`.
    private static func change(_ row: [String?]) throws -> Change {
        let keyValue = KeyValue(
            key: try bytes(row[2]), createRevision: try int64(row[4]), modRevision: try int64(row[0]),
            version: try int64(row[5]), value: try bytes(row[7]), lease: try int64(row[6]))
        return Change(kind: row[3] == "t" ? .delete : .put, keyValue: keyValue, subRevision: try int64(row[1]))
    }
}

extension PostgresView {
    /// The write path's statements, prepared once per connection (`PostgresConnection.pipeline`). A whole write
    /// group goes in as arrays, so one statement of each kind serves every group size.
    enum Statements {
        static let begin = PostgresStatement(name: "kelson_begin", sql: "BEGIN", parameterTypes: [])
        /// The commit does not wait for the WAL flush; `PostgresBackend.sync` makes it durable.
        static let asyncCommit = PostgresStatement(
            name: "kelson_async_commit", sql: "SET LOCAL synchronous_commit = off", parameterTypes: [])
        static let lockState = PostgresStatement(
            name: "kelson_lock_state", sql: "\(stateQuery) FOR UPDATE", parameterTypes: [])
        static let prefetch = PostgresStatement(
            name: "kelson_prefetch", sql: "SELECT \(liveColumns) FROM kv_live WHERE key = ANY($1)",
            parameterTypes: [PostgresBinary.OID.byteaArray])
        static let insertLog = PostgresStatement(
            name: "kelson_insert_log",
            sql: """
                INSERT INTO kv_log (\(changeColumns))
                SELECT * FROM unnest($1::bigint[], $2::integer[], $3::bytea[], $4::boolean[], $5::bigint[],
                  $6::bigint[], $7::bigint[], $8::bytea[])
                """,
            parameterTypes: [
                PostgresBinary.OID.int8Array, PostgresBinary.OID.int4Array, PostgresBinary.OID.byteaArray,
                PostgresBinary.OID.boolArray, PostgresBinary.OID.int8Array, PostgresBinary.OID.int8Array,
                PostgresBinary.OID.int8Array, PostgresBinary.OID.byteaArray,
            ])
        static let deleteLive = PostgresStatement(
            name: "kelson_delete_live", sql: "DELETE FROM kv_live WHERE key = ANY($1)",
            parameterTypes: [PostgresBinary.OID.byteaArray])
        static let upsertLive = PostgresStatement(
            name: "kelson_upsert_live",
            sql: """
                INSERT INTO kv_live (\(liveColumns))
                SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bytea[])
                ON CONFLICT (key) DO UPDATE SET create_revision = EXCLUDED.create_revision,
                mod_revision = EXCLUDED.mod_revision, version = EXCLUDED.version, lease = EXCLUDED.lease,
                value = EXCLUDED.value
                """,
            parameterTypes: [
                PostgresBinary.OID.byteaArray, PostgresBinary.OID.int8Array, PostgresBinary.OID.int8Array,
                PostgresBinary.OID.int8Array, PostgresBinary.OID.int8Array, PostgresBinary.OID.byteaArray,
            ])
        /// NULL keeps a column as it is.
        static let updateState = PostgresStatement(
            name: "kelson_update_state",
            sql: """
                UPDATE kelson_state SET revision = coalesce($1, revision),
                compact_revision = coalesce($2, compact_revision),
                compacted_through = coalesce($3, compacted_through) WHERE id = 1
                """,
            parameterTypes: [PostgresBinary.OID.int8, PostgresBinary.OID.int8, PostgresBinary.OID.int8])
        /// Channel (`PostgresSchema.channelQuery`), then payload: the writing process's token.
        static let notify = PostgresStatement(
            name: "kelson_notify", sql: "SELECT pg_notify($1, $2)",
            parameterTypes: [PostgresBinary.OID.text, PostgresBinary.OID.text])
        static let commit = PostgresStatement(name: "kelson_commit", sql: "COMMIT", parameterTypes: [])

        // The log follower's read (`PostgresBackend.followerRead`): one snapshot, one round trip.
        static let beginSnapshot = PostgresStatement(
            name: "kelson_begin_snapshot", sql: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", parameterTypes: [])
        static let readState = PostgresStatement(name: "kelson_read_state", sql: stateQuery, parameterTypes: [])
        /// Changes with `$1 <= revision <= $2`, at most `$3` but never splitting a revision (the last one is read
        /// whole), each with its key's row just before it. Columns: `changeColumns`, then the previous row's
        /// `logColumns` and `deleted` (NULL when the key had no earlier row).
        static let changesWithPrevious = PostgresStatement(
            name: "kelson_changes_with_previous",
            sql: """
                SELECT c.revision, c.sub_revision, c.key, c.deleted, c.create_revision, c.version, c.lease, c.value,
                  p.key, p.create_revision, p.revision, p.version, p.lease, p.value, p.deleted
                FROM kv_log c LEFT JOIN LATERAL (
                  SELECT key, create_revision, revision, version, lease, value, deleted FROM kv_log
                  WHERE key = c.key AND revision < c.revision ORDER BY revision DESC, sub_revision DESC LIMIT 1
                ) p ON true
                WHERE c.revision >= $1 AND c.revision <= (
                  SELECT max(revision) FROM (
                    SELECT revision FROM kv_log WHERE revision >= $1 AND revision <= $2
                    ORDER BY revision, sub_revision LIMIT $3) first)
                ORDER BY c.revision, c.sub_revision
                """,
            parameterTypes: [PostgresBinary.OID.int8, PostgresBinary.OID.int8, PostgresBinary.OID.int8])
    }

    /// A row of `Statements.changesWithPrevious`: the change, with `previous` set unless it is a create or the
    /// key's earlier row is missing or a tombstone.
    static func binaryChangeWithPrevious(_ row: [[UInt8]?]) throws(StoreError) -> Change {
        guard row.count == 15 else { throw StoreError(.corrupt, "expected 15 columns, got \(row.count)") }
        let keyValue = KeyValue(
            key: try PostgresBinary.bytes(row[2]), createRevision: try PostgresBinary.integer(row[4]),
            modRevision: try PostgresBinary.integer(row[0]), version: try PostgresBinary.integer(row[5]),
            value: try PostgresBinary.bytes(row[7]), lease: try PostgresBinary.integer(row[6]))
        var change = Change(
            kind: try PostgresBinary.bool(row[3]) ? .delete : .put, keyValue: keyValue,
            subRevision: try PostgresBinary.integer(row[1]))
        if !change.isCreate, row[8] != nil, try !PostgresBinary.bool(row[14]) {
            change.previous = try binaryKeyValue(Array(row[8...13]))
        }
        return change
    }
}
