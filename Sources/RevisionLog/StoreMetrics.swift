import Metrics

/// The store's metrics, through swift-metrics (the process picks the backend; Kelson's command exports them in
/// Prometheus format on `/metrics`). etcd's names where etcd has the same measurement, `kelson_` otherwise.
public enum StoreMetrics {
    /// One write transaction of a group (etcd: bbolt's commit, fsync included).
    static let commitDuration = Timer(label: "etcd_disk_backend_commit_duration_seconds")
    /// One `sync()` of a backend that defers durability (etcd: the WAL's fsync).
    static let syncDuration = Timer(label: "etcd_disk_wal_fsync_duration_seconds")
    /// Writes per group commit: how well group commit amortizes each transaction.
    static let groupSize = Recorder(label: "kelson_commit_group_size", aggregate: true)
    static let puts = Counter(label: "etcd_mvcc_put_total")
    static let deletes = Counter(label: "etcd_mvcc_delete_total")
    static let txns = Counter(label: "etcd_mvcc_txn_total")
    static let currentRevision = Gauge(label: "etcd_debugging_mvcc_current_revision")
    static let compactRevision = Gauge(label: "etcd_debugging_mvcc_compact_revision")
    /// Revisions whose history compaction has still to remove (0 when physical compaction has caught up).
    static let compactionPending = Gauge(label: "kelson_compaction_pending_revisions")
    /// Revisions committed but not yet delivered to every watcher (the slowest watcher's distance from the head).
    static let watchLagGauge = Gauge(label: "kelson_watch_lag_revisions")
    public static func watchLag(_ revisions: Int64) { watchLagGauge.record(revisions) }
}
