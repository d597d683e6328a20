import EtcdServer
import Metrics
import RevisionLog

/// Gauges measured when `/metrics` is scraped (the rest are recorded as things happen, in RevisionLog and
/// GRPCWire). etcd's names.
enum KelsonMetrics {
    static let hasLeader = Gauge(label: "etcd_server_has_leader")
    static let isLeader = Gauge(label: "etcd_server_is_leader")
    static let databaseSize = Gauge(label: "etcd_mvcc_db_total_size_in_bytes")
    static let databaseSizeInUse = Gauge(label: "etcd_mvcc_db_total_size_in_use_in_bytes")
    static let quotaBytes = Gauge(label: "etcd_server_quota_backend_bytes")

    /// Records the gauges, then calls `done` (the size is read through the store's door).
    static func measure(store: Store, services: EtcdServices, done: @escaping @Sendable () -> Void) {
        // A single member is its own leader.
        hasLeader.record(1)
        isLeader.record(1)
        quotaBytes.record(services.quota.limit ?? 0)
        StoreMetrics.watchLag(services.watchHub.slowestWatcherLag)
        store.storageSize { result in
            if case .success(let size) = result {
                databaseSize.record(size.totalBytes)
                databaseSizeInUse.record(size.inUseBytes)
            }
            done()
        }
    }
}
