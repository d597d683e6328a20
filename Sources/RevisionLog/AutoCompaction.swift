import Logging

/// etcd's `--auto-compaction-mode` with its `--auto-compaction-retention`: how much history to keep.
public enum AutoCompactionPolicy: Sendable, Equatable {
    /// `periodic`: keep the history of the last `Duration` (etcd samples the revision every tenth of the period,
    /// at most every 6 minutes, and compacts at the revision sampled one period ago).
    case periodic(Duration)
    /// `revision`: keep the last N revisions.
    case revisions(Int64)
}

/// When to compact, decided from samples of the store's revision over time (no clock or store of its own, so tests
/// drive it step by step). `AutoCompactor` feeds it.
public struct AutoCompactionSchedule: Sendable {
    public let policy: AutoCompactionPolicy
    private var samples: [(at: ContinuousClock.Instant, revision: Int64)] = []
    private var started: ContinuousClock.Instant?
    private var lastTarget: Int64 = 0

    public init(policy: AutoCompactionPolicy) { self.policy = policy }

    /// How often to sample: a tenth of the period (capped at an hour, as etcd does), or every second for revision
    /// retention (etcd looks every 5 minutes; looking more often only keeps closer to the promise).
    public var interval: Duration {
        switch policy {
        case .periodic(let period): return min(period, .seconds(3600)) / 10
        case .revisions: return .seconds(1)
        }
    }

    /// Records the revision seen at `now`; returns the revision to compact at, if it is time to.
    public mutating func sample(at now: ContinuousClock.Instant, revision: Int64) -> Int64? {
        let target: Int64?
        switch policy {
        case .revisions(let keep):
            target = revision - keep
        case .periodic(let period):
            if started == nil { started = now }
            samples.append((now, revision))
            // The newest sample at least one period old is the oldest history to keep; older samples are done.
            guard let index = samples.lastIndex(where: { now - $0.at >= period }) else { return nil }
            target = samples[index].revision
            samples.removeFirst(index)
        }
        guard let target, target > 0, target > lastTarget else { return nil }
        lastTarget = target
        return target
    }

    /// A compaction at `revision` failed; try it again at the next sample.
    public mutating func failed(_ revision: Int64) {
        if lastTarget == revision { lastTarget = 0 }
    }
}

/// Runs an `AutoCompactionSchedule` against a store until cancelled. Compaction itself is the store's: logical at
/// once, physical in bounded batches between write groups, so writers are never blocked for long.
public struct AutoCompactor: Sendable {
    let store: Store
    let policy: AutoCompactionPolicy
    let logger: Logger

    public init(store: Store, policy: AutoCompactionPolicy, logger: Logger) {
        self.store = store
        self.policy = policy
        self.logger = logger
    }

    public func run() async {
        var schedule = AutoCompactionSchedule(policy: policy)
        while !Task.isCancelled {
            // Every process samples, so one that takes over maintenance has its history of samples; only the one
            // holding the role compacts (several processes would otherwise compact the same store each).
            if let target = schedule.sample(at: .now, revision: store.revision), store.runsMaintenance {
                logger.info(
                    policy.isPeriodic ? "starting auto periodic compaction" : "starting auto revision compaction",
                    metadata: ["revision": "\(target)", "retention": "\(policy.retentionDescription)"])
                do {
                    _ = try await Store.awaiting { store.compact(revision: target, physical: false, completion: $0) }
                    logger.info("completed auto compaction", metadata: ["revision": "\(target)"])
                } catch  where error.code == .compacted {
                    // Someone compacted further already (a client, or another process on a shared store).
                } catch {
                    logger.warning(
                        "failed auto compaction", metadata: ["revision": "\(target)", "error": "\(error)"])
                    schedule.failed(target)
                }
            }
            try? await Task.sleep(for: schedule.interval)
        }
    }
}

extension AutoCompactionPolicy {
    fileprivate var isPeriodic: Bool {
        if case .periodic = self { return true }
        return false
    }

    fileprivate var retentionDescription: String {
        switch self {
        case .periodic(let period): return "\(period)"
        case .revisions(let count): return "\(count) revisions"
        }
    }
}
