import Synchronization

/// A lease as stored: its ID and granted TTL in seconds. Expiry times are kept in memory only
/// (see `Lessor`), which is why a restart gives every lease its full TTL again, as etcd does.
public struct LeaseRecord: Sendable, Equatable, Hashable {
    public var id: Int64
    public var ttl: Int64

    public init(id: Int64, ttl: Int64) {
        self.id = id
        self.ttl = ttl
    }
}

/// The answer to a lease grant.
public struct LeaseGrantResult: Sendable, Equatable {
    public var lease: LeaseRecord
    /// The store's revision after the grant (a grant does not change it).
    public var revision: Int64
}

/// The answer to a lease time-to-live question (etcd `LeaseTimeToLive`).
public struct LeaseTimeToLive: Sendable, Equatable {
    public var id: Int64
    /// Whole seconds left (truncated, never negative).
    public var remaining: Int64
    public var granted: Int64
    public var keys: [[UInt8]]
}

/// Where leases read the time. Expiry uses a monotonic clock, so wall-clock jumps do not expire
/// leases early; tests inject a `ManualLeaseClock`.
public protocol LeaseClock: Sendable {
    func now() -> ContinuousClock.Instant
}

public struct SystemLeaseClock: LeaseClock {
    public init() {}
    public func now() -> ContinuousClock.Instant { ContinuousClock.now }
}

/// A clock that moves only when told to.
public final class ManualLeaseClock: LeaseClock {
    private let origin = ContinuousClock.now
    private let elapsed = Mutex<Duration>(.zero)

    public init() {}

    public func now() -> ContinuousClock.Instant { origin + elapsed.withLock { $0 } }

    public func advance(by duration: Duration) { elapsed.withLock { $0 += duration } }
}
