import Foundation
import RevisionLog
import Synchronization

/// Settings of the PostgreSQL backend.
public struct PostgresConfiguration: Sendable {
    /// `postgres://user:pass@host:port/db?sslmode=...` (any libpq connection URL).
    public var url: String
    /// Reader connections kept open; more concurrent readers wait for one to come back.
    public var maximumReaders = 8
    /// Bound on each connection attempt.
    public var connectTimeoutSeconds = 5
    /// Slow safety-net poll for other processes' commits, in case a notification is lost.
    public var fallbackPollInterval: Duration = .seconds(1)
    /// Create Kelson's tables when the database (schema) has none; when false, that is an error (a migration
    /// source must already hold a store, and a typo must not create an empty one).
    public var createsTables = true
    /// Open the store even when the server runs with `fsync = off`. Such a server loses committed transactions,
    /// and may corrupt its files, when the machine crashes, so Kelson refuses it unless this is set: for
    /// throwaway stores only.
    public var allowsUnsafeNoFsync = false

    public init(url: String) { self.url = url }
}

/// A `LogBackend` on PostgreSQL that several Kelson processes share (see `SharedLogBackend` and
/// `PostgresSchema`). One writer connection (the committer's), a bounded pool of readers, one connection
/// listening for other processes' commits, and one holding the maintenance lock.
///
/// A lost connection is replaced on next use; while the server is away every call fails at once with
/// `.unavailable` (after the first attempt, new attempts wait out a backoff from 100 ms doubling to 2 s), so
/// clients get errors instead of hangs. A transaction is all or nothing: a connection lost before `COMMIT`
/// answered rolls it back, or — if the commit itself was cut off — the caller gets an error and the write
/// may or may not be in the log (as with any database, and with etcd's timeouts).
public final class PostgresBackend: SharedLogBackend {
    public let configuration: PostgresConfiguration
    /// Identifies this process in notifications, so it ignores its own commits.
    let token = UUID().uuidString
    /// The store's notification channel (see `PostgresSchema.channelQuery`).
    let channel: String
    private let connector: Connector
    private let writer: Mutex<PostgresConnection?>
    private let readers: ConnectionPool<PostgresConnection>
    private let listener: CommitListener
    private struct MaintenanceState {
        var connection: PostgresConnection?
        var held = false
    }
    private let maintenance = Mutex(MaintenanceState())
    private let leaseClock: Mutex<(any LeaseClock)?> = Mutex(nil)
    /// The connection `sync` runs on (see `openSyncConnection`).
    let syncConnection = Mutex<PostgresConnection?>(nil)

    public init(configuration: PostgresConfiguration) throws {
        self.configuration = configuration
        connector = Connector(url: configuration.url, timeoutSeconds: configuration.connectTimeoutSeconds)
        let connection = try connector.connect()
        do {
            try Self.refuseNoFsync(connection, unlessAllowed: configuration.allowsUnsafeNoFsync)
            try PostgresSchema.migrate(connection, createTables: configuration.createsTables)
            guard let channel = try connection.execute(PostgresSchema.channelQuery).first?.first ?? nil else {
                throw StoreError(.backendFailure, "PostgreSQL did not name the schema's notification channel")
            }
            self.channel = channel
        } catch {
            connection.close()
            throw error
        }
        writer = Mutex(connection)
        let connector = connector
        readers = ConnectionPool(
            maximum: configuration.maximumReaders, open: { () throws(StoreError) in try connector.connect() },
            isUsable: { $0.isHealthy }, close: { $0.close() })
        listener = CommitListener(
            connector: connector, channel: channel, token: token, fallbackPoll: configuration.fallbackPollInterval)
    }

    /// A server with `fsync = off` acknowledges commits it may lose in a crash of the machine (and may be left with
    /// corrupt files), whatever Kelson asks of it: refused unless the configuration allows it. Checked once, when
    /// the store opens; `full_page_writes = off` is not refused, as it is safe on file systems that never tear a
    /// page (ZFS).
    static func refuseNoFsync(_ connection: PostgresConnection, unlessAllowed allowed: Bool) throws(StoreError) {
        let fsync = try connection.execute("SHOW fsync").first?.first ?? nil
        guard fsync == "off", !allowed else { return }
        throw StoreError(
            .notSupported,
            "PostgreSQL runs with fsync = off, so a crash of its machine can lose writes Kelson acknowledged: "
                + "refusing to use it (set fsync = on in postgresql.conf and reload the server)")
    }

    public func read<Result>(_ body: (any BackendReader) throws -> Result) throws -> Result {
        let connection = try readers.take()
        defer { readers.give(back: connection) }
        let state = try connection.execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \(PostgresView.stateQuery)")
        // The COMMIT's answer is read by the connection's next user (it only ends a read-only snapshot).
        defer { connection.send(withoutWaiting: "COMMIT") }
        return try body(PostgresView(connection: connection, state: state.first ?? []))
    }

    /// One round trip: the snapshot's BEGIN, the state row, the changes and the COMMIT in one pipeline of prepared
    /// statements with binary results (no SQL to parse per call).
    public func followerRead(from: Int64, through: Int64, limit: Int) throws -> (changes: [Change], head: Int64) {
        try readers.with { connection in
            let results: [[[[UInt8]?]]]
            do {
                results = try connection.pipeline([
                    (PostgresView.Statements.beginSnapshot, []), (PostgresView.Statements.readState, []),
                    (
                        PostgresView.Statements.changesWithPrevious,
                        [
                            PostgresBinary.int8(from), PostgresBinary.int8(through),
                            PostgresBinary.int8(Int64(max(limit, 1))),
                        ]
                    ),
                    (PostgresView.Statements.commit, []),
                ])
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
            guard let state = results[1].first, !state.isEmpty else {
                throw StoreError(.corrupt, "kelson_state has no row")
            }
            return (try results[2].map(PostgresView.binaryChangeWithPrevious), try PostgresBinary.integer(state[0]))
        }
    }

    public func write<Result>(_ body: (any BackendWriter) throws -> Result) throws -> Result {
        try write(prefetching: [], body)
    }

    /// Two round trips: one opens the transaction, locks the state row and fetches the keys the group will read;
    /// one sends the group's rows (as arrays, see `PostgresView.Statements`), the notification and the commit.
    public func write<Result>(prefetching keys: [[UInt8]], _ body: (any BackendWriter) throws -> Result) throws
        -> Result
    {
        try withWriter { connection in
            // The row lock serializes writers of every process until COMMIT (see PostgresSchema). The commit does
            // not wait for the WAL flush, so the lock is held only while the transaction runs; `sync()` then makes
            // every such commit durable, and flushes of several processes overlap (PostgreSQL's group commit).
            let wanted = Array(Set(keys))
            var opening: [PostgresConnection.Step] = [
                (PostgresView.Statements.begin, []), (PostgresView.Statements.asyncCommit, []),
                (PostgresView.Statements.lockState, []),
            ]
            if !wanted.isEmpty { opening.append(PostgresView.prefetchStep(wanted)) }
            do {
                let leaseNow = try now(connection)
                let opened = try connection.pipeline(opening)
                guard let state = opened[2].first, state.count == 3 else {
                    throw StoreError(.corrupt, "kelson_state has no row")
                }
                let view = PostgresView(
                    connection: connection, revision: try PostgresBinary.integer(state[0]),
                    compactRevision: try PostgresBinary.integer(state[1]),
                    compactedThrough: try PostgresBinary.integer(state[2]), leaseNow: leaseNow)
                if !wanted.isEmpty { try view.remember(prefetched: wanted, rows: opened[3]) }
                let result = try body(view)
                var closing = view.takePendingSteps()
                if listener.othersListen {
                    if !closing.isEmpty { closing.append(notification(token)) }
                    if view.metadataChanged { closing.append(notification(CommitListener.metadataPrefix + token)) }
                }
                closing.append((PostgresView.Statements.commit, []))
                try connection.pipeline(closing)
                return result
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// A NOTIFY on the store's channel, sent with the transaction's COMMIT (see `CommitListener`).
    private func notification(_ payload: String) -> PostgresConnection.Step {
        (PostgresView.Statements.notify, [PostgresBinary.text(channel), PostgresBinary.text(payload)])
    }

    /// Every read is a round trip or more: the store runs them on one thread per reader connection.
    public var blockingReadThreads: Int? { configuration.maximumReaders }

    /// Commits return before their WAL is flushed (see `write`).
    public var defersDurability: Bool { true }

    /// Flushes the WAL through every commit made so far: a transaction that writes a WAL record and commits with
    /// `synchronous_commit = on` waits until the WAL is flushed up to its commit record, which lies after every
    /// commit already returned. `pg_logical_emit_message` writes such a record without touching any table.
    public func sync() throws {
        try syncConnection.withLock { connection in
            if connection == nil || !connection!.isHealthy {
                connection?.close()
                connection = nil
                connection = try openSyncConnection()
            }
            try connection!.execute("SELECT pg_logical_emit_message(true, 'kelson', '')")
        }
    }

    /// A connection whose commits wait for the WAL flush, whatever the server's, database's or role's default: with
    /// `synchronous_commit = off` the flush in `sync` would return at once and every write be acknowledged before it
    /// is durable; `local` would not wait for synchronous standbys. Both are raised to `on` for the session;
    /// `remote_write` and `remote_apply` are kept (they wait for the local flush too).
    private func openSyncConnection() throws(StoreError) -> PostgresConnection {
        let connection = try connector.connect()
        do {
            try connection.execute(
                """
                SELECT set_config('synchronous_commit', 'on', false)
                WHERE current_setting('synchronous_commit') IN ('off', 'local')
                """)
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    public func compactBatch(revision: Int64, cursor: Int64, limit: Int) throws -> Int64? {
        try withWriter { connection in
            guard
                let last = try connection.query(
                    "SELECT max(revision) FROM kv_log WHERE revision <= $1", [String(revision)]
                ).first?.first ?? nil, let lastRevision = Int64(last), cursor < lastRevision
            else { return nil }
            // Whole revisions per batch, up to the one holding the `limit`-th row still in the log (a revision holds
            // at most --max-txn-ops changes, so the batch stays bounded). Counting rows rather than revisions keeps
            // a walk over already compacted history short: it starts again from the beginning whenever the
            // compaction point moves on.
            let end =
                try connection.query(
                    """
                    SELECT max(revision) FROM (SELECT revision FROM kv_log WHERE revision > $1 AND revision <= $2
                    ORDER BY revision LIMIT $3) batch
                    """, [String(cursor), String(lastRevision), String(max(limit, 1))]
                ).first?.first ?? nil
            let upper = end.flatMap { Int64($0) } ?? lastRevision
            // History is a tombstone or a row with a later row of its key at or below the compaction revision;
            // batches go up in revision order, so a key's older rows are always judged before its tombstone goes.
            try connection.query(
                """
                DELETE FROM kv_log a WHERE a.revision > $1 AND a.revision <= $2
                AND (a.deleted OR EXISTS (
                  SELECT 1 FROM kv_log b WHERE b.key = a.key AND b.revision <= $3
                  AND (b.revision, b.sub_revision) > (a.revision, a.sub_revision)))
                """, [String(cursor), String(upper), String(revision)])
            return upper < lastRevision ? upper : nil
        }
    }

    /// Kelson's tables with their indexes and TOAST data. PostgreSQL reuses dead space itself, so all of it
    /// counts as in use.
    public func storageSize() throws -> StorageSize {
        let rows = try withReader { connection in
            try connection.query(
                """
                SELECT coalesce(sum(pg_total_relation_size(c)), 0) FROM unnest(
                  ARRAY['kelson_state', 'kv_log', 'kv_live', 'kelson_lease', 'kelson_metadata']::regclass[]) c
                """)
        }
        let total = try PostgresView.int64(rows.first?.first ?? nil)
        return StorageSize(totalBytes: total, inUseBytes: total)
    }

    /// `VACUUM` of the log and live tables: dead rows left by compaction become reusable space.
    public func defragment() throws {
        _ = try withWriter { connection in try connection.execute("VACUUM kv_log, kv_live, kelson_lease") }
    }

    public func snapshot(to path: String) throws {
        throw StoreError(
            .notSupported,
            "snapshots of a PostgreSQL datastore are not files: use `kelson migrate --from postgres://… --to sqlite://…` or pg_dump"
        )
    }

    public func close() {
        listener.stop()
        readers.close()
        writer.withLock { connection in
            connection?.close()
            connection = nil
        }
        maintenance.withLock { state in
            state.connection?.close()
            state = MaintenanceState()
        }
        syncConnection.withLock { connection in
            connection?.close()
            connection = nil
        }
    }

    /// Runs `body` on the writer connection, replacing a lost one first.
    private func withWriter<Result>(_ body: (PostgresConnection) throws -> Result) throws -> Result {
        try writer.withLock { connection in
            guard let current = connection else { throw StoreError.stopped }
            if !current.isHealthy {
                current.close()
                connection = try connector.connect()
            }
            return try body(connection!)
        }
    }

    // MARK: SharedLogBackend

    public func watchExternalChanges(
        commits: @escaping @Sendable () -> Void, metadata: @escaping @Sendable () -> Void
    ) {
        listener.start(commits: commits, metadata: metadata)
    }

    public func holdsMaintenanceRole() -> Bool {
        maintenance.withLock { state in
            do {
                // A session lock lives as long as its connection: if the connection still answers, it is ours.
                if let connection = state.connection, connection.isHealthy {
                    try connection.execute("SELECT 1")
                    if state.held { return true }
                } else {
                    state.connection?.close()
                    state = MaintenanceState(connection: try connector.connect())
                }
                let taken = try state.connection!.execute(
                    "SELECT pg_try_advisory_lock(\(PostgresSchema.maintenanceLock))")
                state.held = taken.first?.first == "t"
                return state.held
            } catch {
                state.held = false
                return false
            }
        }
    }

    public func renewLease(_ id: Int64) throws -> Int64? {
        try withReader { connection in
            let now = try now(connection)
            return try connection.query(
                """
                UPDATE kelson_lease SET expires_at = \(now) + ttl * interval '1 second'
                WHERE id = $1 AND expires_at > \(now) RETURNING ttl
                """, [String(id)]
            ).first.map { try PostgresView.int64($0[0]) }
        }
    }

    public func leaseRemaining(_ id: Int64) throws -> (remaining: Duration, ttl: Int64)? {
        try withReader { connection in
            // Microseconds left, rounded to whole milliseconds so a fresh grant reads as its full TTL.
            let now = try now(connection)
            return try connection.query(
                """
                SELECT ttl, greatest(0, round(extract(epoch FROM expires_at - \(now)) * 1000))::bigint
                FROM kelson_lease WHERE id = $1
                """, [String(id)]
            ).first.map { row in (Duration.milliseconds(try PostgresView.int64(row[1])), try PostgresView.int64(row[0]))
            }
        }
    }

    public func expiredLeases(limit: Int) throws -> [Int64] {
        try withReader { connection in
            let now = try now(connection)
            return try connection.query(
                "SELECT id FROM kelson_lease WHERE expires_at <= \(now) ORDER BY id LIMIT $1",
                [String(limit)]
            ).map { try PostgresView.int64($0[0]) }
        }
    }

    public func leaseIDs() throws -> [Int64] {
        try withReader { connection in
            try connection.query("SELECT id FROM kelson_lease ORDER BY id").map { try PostgresView.int64($0[0]) }
        }
    }

    public func restartLeaseClocks() throws {
        try withReader { connection in
            let now = try now(connection)
            try connection.query(
                """
                UPDATE kelson_lease SET expires_at = greatest(expires_at, \(now) + ttl * interval '1 second')
                """)
        }
    }

    public func useLeaseClock(_ clock: any LeaseClock) { leaseClock.withLock { $0 = clock } }

    /// The lease clock's "now" in SQL, as an exact timestamp: the database's clock read once (the anchor) plus
    /// how far the store's lease clock has moved since. With the system clock the anchor is re-read every
    /// minute, so processes on different hosts agree with the one database clock (drift stays in milliseconds);
    /// a test's manual clock is anchored once and then moves only when the test moves it.
    func now(_ connection: PostgresConnection) throws(StoreError) -> String {
        let clock: any LeaseClock = leaseClock.withLock { $0 } ?? SystemLeaseClock()
        let reanchor = clock is SystemLeaseClock
        let anchor = leaseAnchor.withLock { anchor -> LeaseAnchor? in
            guard let current = anchor, !reanchor || ContinuousClock.now - current.taken < .seconds(60) else {
                return nil
            }
            return current
        }
        let current: LeaseAnchor
        if let anchor {
            current = anchor
        } else {
            let rows = try connection.execute("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")
            current = LeaseAnchor(
                databaseMicroseconds: try PostgresView.int64(rows.first?.first ?? nil), local: clock.now(),
                taken: .now)
            leaseAnchor.withLock { $0 = current }
        }
        let elapsed = clock.now() - current.local
        let micros =
            current.databaseMicroseconds + elapsed.components.seconds * 1_000_000
            + elapsed.components.attoseconds / 1_000_000_000_000
        return "(timestamptz 'epoch' + \(micros) * interval '1 microsecond')"
    }

    private struct LeaseAnchor {
        var databaseMicroseconds: Int64
        var local: ContinuousClock.Instant
        var taken: ContinuousClock.Instant
    }
    private let leaseAnchor = Mutex<LeaseAnchor?>(nil)

    private func withReader<Result>(_ body: (PostgresConnection) throws -> Result) throws -> Result {
        try readers.with(body)
    }
}

/// Opens connections, failing fast while the server is known to be away: after a failed attempt the next one
/// waits out a backoff (100 ms, doubling to 2 s), and calls before then fail at once with `.unavailable`.
final class Connector: Sendable {
    let url: String
    let timeoutSeconds: Int
    private struct Backoff {
        var delay: Duration = .zero
        var retryAt: ContinuousClock.Instant = .now
    }
    private let backoff = Mutex(Backoff())

    init(url: String, timeoutSeconds: Int) {
        self.url = url
        self.timeoutSeconds = timeoutSeconds
    }

    func connect() throws(StoreError) -> PostgresConnection {
        let wait = backoff.withLock { $0.retryAt - .now }
        if wait > .zero {
            throw StoreError(
                .unavailable,
                "PostgreSQL is unreachable; next attempt in \(wait.formatted(.units(allowed: [.milliseconds])))")
        }
        do {
            let connection = try PostgresConnection(url: url, connectTimeoutSeconds: timeoutSeconds)
            backoff.withLock { $0 = Backoff() }
            return connection
        } catch {
            backoff.withLock { state in
                state.delay = min(max(state.delay * 2, .milliseconds(100)), .seconds(2))
                state.retryAt = .now + state.delay
            }
            throw error
        }
    }
}
