import EtcdAPI
import GRPCWire
import Logging
import RevisionLog
import Synchronization

/// etcd's space quota (`etcdserver/quota.go`, `--quota-backend-bytes`) with its NOSPACE alarm (the capped applier
/// in `apply.go`):
/// - A write that adds data (a Put, a Txn with a Put in the branch that costs more, a LeaseGrant) is refused with
///   `etcdserver: mvcc: database space exceeded` when the store's size plus the write's estimated cost reaches the
///   quota; the NOSPACE alarm is raised then.
/// - While a NOSPACE alarm is raised, every such write is refused, whatever the size. Reads, deletes, compaction
///   and defragmentation still work; `etcdctl alarm disarm` ends it (after compact and defrag made room).
///
/// The size is the datastore's total size (etcd's `Backend().Size()`: the file with its free pages and, for
/// SQLite, its WAL), measured at most every `measureInterval` so a write costs no extra query.
public final class SpaceQuota: Sendable {
    /// etcd's default quota: 2 GiB.
    public static let defaultBytes: Int64 = 2 << 30
    /// etcd's cost estimates.
    static let keyValueOverhead = 256
    static let leaseOverhead = 64
    static let measureInterval = Duration.milliseconds(100)

    /// The quota in bytes; nil when disabled.
    public let limit: Int64?
    private let store: Store
    private let alarms: AlarmList
    private let memberID: UInt64
    private let logger: Logger
    private let measured = Mutex<(bytes: Int64, at: ContinuousClock.Instant)?>(nil)
    private let measuring = Atomic<Bool>(false)

    /// `bytes` as etcd's flag takes it: 0 is the default (2 GiB), negative disables the quota.
    init(bytes: Int64, store: Store, alarms: AlarmList, memberID: UInt64, logger: Logger) {
        limit = bytes < 0 ? nil : bytes == 0 ? Self.defaultBytes : bytes
        self.store = store
        self.alarms = alarms
        self.memberID = memberID
        self.logger = logger
    }

    /// Calls `proceed` when a write of `cost` bytes may go ahead, else answers `refuse` with etcd's NOSPACE error
    /// (after raising the alarm when this write is the one that passed the quota). The size comes through the store's
    /// door (on PostgreSQL its read threads, never the caller's event loop); a measurement younger than
    /// `measureInterval` only lets writes through, refusing one takes a fresh one (a defragment may have just made
    /// room). A size that cannot be measured lets the write go ahead: the quota is a safety net, not a reason to fail
    /// writes.
    func admit(
        cost: Int, refuse: @escaping @Sendable (GRPCStatus) -> Void, proceed: @escaping @Sendable () -> Void
    ) {
        guard cost > 0, let limit else { return proceed() }
        if alarms.spaceExhausted { return refuse(EtcdWireError.noSpace.grpcStatus) }
        if let last = measured.withLock({ $0 }), ContinuousClock.now - last.at < Self.measureInterval,
            last.bytes + Int64(cost) < limit
        {
            return proceed()
        }
        store.storageSize { [self] result in
            guard case .success(let size) = result else { return proceed() }
            measured.withLock { $0 = (size.totalBytes, .now) }
            guard size.totalBytes + Int64(cost) >= limit else { return proceed() }
            logger.warning(
                "message exceeded backend quota; raising alarm",
                metadata: ["quota-size-bytes": "\(limit)", "size-bytes": "\(size.totalBytes)", "cost-bytes": "\(cost)"])
            alarms.activate(memberID: memberID, alarm: .nospace) { [logger] result in
                if case .failure(let error) = result {
                    logger.error("cannot raise the NOSPACE alarm", metadata: ["error": "\(error)"])
                }
                refuse(EtcdWireError.noSpace.grpcStatus)
            }
        }
    }

    // MARK: Costs (etcd's estimates)

    static func cost(_ put: Etcdserverpb_PutRequest) -> Int { keyValueOverhead + put.key.count + put.value.count }

    /// The costlier branch (nested transactions included).
    static func cost(_ txn: Etcdserverpb_TxnRequest) -> Int {
        func cost(_ operations: [Etcdserverpb_RequestOp]) -> Int {
            operations.reduce(0) { total, operation in
                switch operation.request {
                case .requestPut(let put): return total + Self.cost(put)
                case .requestTxn(let nested): return total + Self.cost(nested)
                default: return total
                }
            }
        }
        return max(cost(txn.success), cost(txn.failure))
    }
}
