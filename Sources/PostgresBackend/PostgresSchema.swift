import RevisionLog

/// Kelson's tables in PostgreSQL (also described in docs/storage.md). The same model as the SQLite schema,
/// shared by every Kelson process on the database:
/// - `kelson_state`: one row (`id = 1`) with `revision`, `compact_revision`, `compacted_through` and
///   `schema_version`. Every write transaction locks this row first (`SELECT … FOR UPDATE`), which
///   serializes writers across processes: revisions are assigned under that lock, inside the transaction
///   that writes them, so two processes never hand out the same revision and commit order is revision order.
/// - `kv_log`: the revision log, primary key `(revision, sub_revision)`, plus `(key, revision)` for reads in
///   the past. Columns as in SQLite; `deleted` is a boolean.
/// - `kv_live`: the live state, primary key `key` (bytea compares bytewise, as etcd orders keys).
/// - `kelson_lease`: `id`, granted `ttl`, and `expires_at` (the database's clock): shared by all processes,
///   so a keep-alive sent to any of them counts, and whichever process runs lease expiry sees it.
/// - `kelson_metadata`: small named values (member identity, auth state).
/// While another process listens, each commit sends a notification on the schema's channel (`channelQuery`;
/// payload: the writing process's token) so other processes read the new revisions at once instead of polling;
/// listeners announce themselves on the same channel with `hello <token>` (see `CommitListener`).
enum PostgresSchema {
    static let version = 1
    /// Advisory lock keys (two-key form: a constant and the schema's hash, so Kelson stores in different schemas of
    /// one database do not share locks). Migration: held while creating the tables, so processes starting
    /// together do not race. Maintenance: held by the one process that runs lease expiry and compaction.
    static let migrationLock = "1801807219, hashtext(current_schema())"
    static let maintenanceLock = "1801807220, hashtext(current_schema())"
    /// The notification channel of the store in the connection's schema: `kelson_log_` and the schema's hash, so
    /// stores in different schemas of one database neither wake nor count each other.
    static let channelQuery = "SELECT 'kelson_log_' || to_hex(hashtext(current_schema()))"

    static let create = """
        CREATE TABLE kelson_state (
            id integer PRIMARY KEY CHECK (id = 1),
            revision bigint NOT NULL,
            compact_revision bigint NOT NULL,
            compacted_through bigint NOT NULL,
            schema_version integer NOT NULL
        );
        INSERT INTO kelson_state VALUES (1, 1, -1, -1, \(version));
        CREATE TABLE kv_log (
            revision bigint NOT NULL,
            sub_revision integer NOT NULL,
            key bytea NOT NULL,
            deleted boolean NOT NULL,
            create_revision bigint NOT NULL,
            version bigint NOT NULL,
            lease bigint NOT NULL,
            value bytea NOT NULL,
            PRIMARY KEY (revision, sub_revision)
        );
        CREATE INDEX kv_log_by_key ON kv_log (key, revision);
        CREATE TABLE kv_live (
            key bytea PRIMARY KEY,
            create_revision bigint NOT NULL,
            mod_revision bigint NOT NULL,
            version bigint NOT NULL,
            lease bigint NOT NULL,
            value bytea NOT NULL
        );
        CREATE INDEX kv_live_by_lease ON kv_live (lease, key) WHERE lease <> 0;
        CREATE TABLE kelson_lease (
            id bigint PRIMARY KEY,
            ttl bigint NOT NULL,
            expires_at timestamptz NOT NULL
        );
        CREATE TABLE kelson_metadata (
            name text PRIMARY KEY,
            value bytea NOT NULL
        );
        """

    /// Creates the tables in an empty database (unless `createTables` is false), or checks the version of existing ones.
    static func migrate(_ connection: PostgresConnection, createTables: Bool = true) throws(StoreError) {
        try connection.execute("SELECT pg_advisory_lock(\(migrationLock))")
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(\(migrationLock))") }
        let exists = try connection.execute("SELECT to_regclass('kelson_state') IS NOT NULL")
        if exists.first?.first == "t" {
            let found = try connection.execute("SELECT schema_version FROM kelson_state WHERE id = 1")
            guard let text = found.first?.first, let stored = text.flatMap({ Int($0) }) else {
                throw StoreError(.corrupt, "kelson_state has no row")
            }
            if stored > version {
                throw StoreError(
                    .corrupt,
                    "the database has Kelson schema version \(stored); this Kelson understands up to \(version). Use a newer Kelson."
                )
            }
            return
        }
        guard createTables else {
            let schema = try connection.execute("SELECT current_schema()").first?.first ?? nil
            throw StoreError(
                .notSupported,
                "the database holds no Kelson store (no kelson_state table in schema \(schema ?? "(none)"))")
        }
        do {
            try connection.execute("BEGIN; \(create); COMMIT")
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }
}
