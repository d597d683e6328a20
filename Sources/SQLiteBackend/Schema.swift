import RevisionLog

/// Kelson's on-disk format in SQLite (also described in docs/storage.md).
///
/// One database file, `kelson.db` in the data directory, in WAL mode (`kelson.db-wal` holds commits
/// not yet checkpointed; both files together are the database). The schema version is
/// `PRAGMA user_version`; migrations run forward only, each in its own transaction, and a file
/// from a newer Kelson is refused rather than guessed at.
///
/// Tables (schema version 1):
/// - `kelson_state`: exactly one row (`id = 1`) with `revision` (the store's revision, 1 when
///   empty), `compact_revision` (-1 until the first compaction) and `compacted_through` (how far
///   physical compaction has got; less than `compact_revision` while it is still running).
/// - `kv_log`: the append-only revision log. One row per change: `id` (the log position; strictly
///   increasing with `(revision, sub_revision)`), `revision`, `sub_revision`, `key`, `deleted`
///   (1 = tombstone, whose other columns are 0 or empty), `create_revision`, `version`, `lease`,
///   `value`. Indexed by `(key, revision)` for reads in the past and by `(revision, sub_revision)`
///   for replay. Compaction deletes rows, never rewrites them.
/// - `kv_live`: the live state, one row per existing key, `WITHOUT ROWID` so it is clustered by
///   key: `key`, `create_revision`, `mod_revision`, `version`, `lease`, `value`. Reads and counts
///   at the head touch only this table, so their cost follows live keys, not history.
/// Invariant: `kv_live` equals the result of reading `kv_log` at `kelson_state.revision`.
///
/// Added in schema version 2:
/// - `lease`: one row per lease, `id` and granted `ttl` in seconds. Expiry instants are not stored
///   (a restart gives every lease its full TTL, like etcd). Which keys a lease holds is not stored
///   either: it is `kv_live.lease`, indexed by the partial index `kv_live_by_lease`.
/// - `kelson_metadata`: small named values outside the revision log (`name` text, `value` blob):
///   the member identity, the auth state.
///
/// Changed in schema version 4:
/// - `kv_live` no longer holds a second copy of each value: its `value` column became `log_id`, the `kv_log` row
///   (its `id`) that wrote the key's current state, whose `value` head reads join in. Compaction never removes that
///   row (it is the latest of its key). Values are so written once, in the log.
///
/// Added in schema version 3:
/// - `kelson_state.log_sequence`: the sequence number of the last record of Kelson's write-ahead log
///   (`WriteAheadLog`, the directory `kelson.db-log/`) that this database holds; start-up replays the records after
///   it. 0 for a database that never had a log.
enum Schema {
    /// Migrations by the version they produce; `migrations[0]` makes version 1.
    static let migrations: [String] = [
        """
        CREATE TABLE kelson_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            revision INTEGER NOT NULL,
            compact_revision INTEGER NOT NULL,
            compacted_through INTEGER NOT NULL
        );
        INSERT INTO kelson_state (id, revision, compact_revision, compacted_through) VALUES (1, 1, -1, -1);
        CREATE TABLE kv_log (
            id INTEGER PRIMARY KEY,
            revision INTEGER NOT NULL,
            sub_revision INTEGER NOT NULL,
            key BLOB NOT NULL,
            deleted INTEGER NOT NULL,
            create_revision INTEGER NOT NULL,
            version INTEGER NOT NULL,
            lease INTEGER NOT NULL,
            value BLOB NOT NULL
        );
        CREATE INDEX kv_log_by_key ON kv_log (key, revision);
        CREATE UNIQUE INDEX kv_log_by_revision ON kv_log (revision, sub_revision);
        CREATE TABLE kv_live (
            key BLOB PRIMARY KEY,
            create_revision INTEGER NOT NULL,
            mod_revision INTEGER NOT NULL,
            version INTEGER NOT NULL,
            lease INTEGER NOT NULL,
            value BLOB NOT NULL
        ) WITHOUT ROWID;
        """,
        """
        CREATE TABLE lease (
            id INTEGER PRIMARY KEY,
            ttl INTEGER NOT NULL
        );
        CREATE INDEX kv_live_by_lease ON kv_live (lease, key) WHERE lease != 0;
        CREATE TABLE kelson_metadata (
            name BLOB PRIMARY KEY,
            value BLOB NOT NULL
        ) WITHOUT ROWID;
        """,
        """
        ALTER TABLE kelson_state ADD COLUMN log_sequence INTEGER NOT NULL DEFAULT 0;
        """,
        """
        CREATE TABLE kv_live_next (
            key BLOB PRIMARY KEY,
            create_revision INTEGER NOT NULL,
            mod_revision INTEGER NOT NULL,
            version INTEGER NOT NULL,
            lease INTEGER NOT NULL,
            log_id INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO kv_live_next (key, create_revision, mod_revision, version, lease, log_id)
          SELECT k.key, k.create_revision, k.mod_revision, k.version, k.lease,
                 (SELECT max(l.id) FROM kv_log l WHERE l.key = k.key AND l.revision = k.mod_revision)
          FROM kv_live k;
        DROP INDEX kv_live_by_lease;
        DROP TABLE kv_live;
        ALTER TABLE kv_live_next RENAME TO kv_live;
        CREATE INDEX kv_live_by_lease ON kv_live (lease, key) WHERE lease != 0;
        """,
    ]

    static var currentVersion: Int64 { Int64(migrations.count) }

    /// Brings the database to `currentVersion`, or refuses a newer one.
    static func migrate(_ connection: SQLiteConnection) throws(StoreError) {
        let found = try connection.integer("PRAGMA user_version") ?? 0
        if found > currentVersion {
            throw StoreError(
                .corrupt,
                "\(connection.path) has schema version \(found); this Kelson understands up to \(currentVersion). Use a newer Kelson."
            )
        }
        for version in Int(found)..<migrations.count {
            try connection.execute("BEGIN IMMEDIATE")
            do {
                try connection.execute(migrations[version])
                try connection.execute("PRAGMA user_version = \(version + 1)")
                try connection.finishTransaction(commit: true)
            } catch {
                try? connection.finishTransaction(commit: false)
                throw error
            }
        }
    }
}
