import Synchronization

/// A controller's queue of keys to reconcile, as client-go's rate-limited work queue keeps them:
/// - a key is queued at most once, however often it changes before a worker takes it;
/// - a key is never reconciled by two workers at once (added while in progress, it runs again after);
/// - failed keys come back after an exponential back-off (5 ms doubling to `maximumDelay`), reset by `forget`;
/// - keys can come back later on purpose (`add(_:after:)`: a deadline, `minReadySeconds`).
/// The queue is bounded: past `capacity` distinct keys, new keys are dropped and counted; the periodic resync
/// brings them back, since every controller is level-triggered.
public final class WorkQueue: Sendable {
    public let capacity: Int
    public let baseDelay: Duration
    public let maximumDelay: Duration

    private struct State {
        var queue = FIFO()
        var dirty: Set<String> = []
        var processing: Set<String> = []
        var failures: [String: Int] = [:]
        /// Keys waiting for a later add, with the earliest time each is due.
        var delayed: [String: ContinuousClock.Instant] = [:]
        var waiters: [(WaiterIdentity, CheckedContinuation<String?, Never>)] = []
        var shutDown = false
        var dropped = 0

        /// A dirty key goes straight to a waiting worker (answered with its continuation), else into the queue.
        mutating func handOver(_ key: String) -> CheckedContinuation<String?, Never>? {
            guard !waiters.isEmpty else {
                queue.append(key)
                return nil
            }
            dirty.remove(key)
            processing.insert(key)
            return waiters.removeFirst().1
        }
    }

    private let state = Mutex(State())

    public init(capacity: Int = 100_000, baseDelay: Duration = .milliseconds(5), maximumDelay: Duration = .seconds(60))
    {
        self.capacity = capacity
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
    }

    /// Queues `key` unless it is already queued.
    public func add(_ key: String) {
        let waiter: CheckedContinuation<String?, Never>? = state.withLock { state in
            guard !state.shutDown, !state.dirty.contains(key) else { return nil }
            guard state.dirty.count + state.processing.count < capacity else {
                state.dropped += 1
                return nil
            }
            state.dirty.insert(key)
            if state.processing.contains(key) { return nil }
            return state.handOver(key)
        }
        waiter?.resume(returning: key)
    }

    /// Queues `key` once `delay` has passed (the earliest of several such requests wins).
    public func add(_ key: String, after delay: Duration) {
        guard delay > .zero else { return add(key) }
        let due = ContinuousClock.now + delay
        let schedule = state.withLock { state in
            guard !state.shutDown else { return false }
            if let existing = state.delayed[key], existing <= due { return false }
            guard state.delayed.count < capacity else {
                state.dropped += 1
                return false
            }
            state.delayed[key] = due
            return true
        }
        guard schedule else { return }
        Task { [self] in
            try? await Task.sleep(until: due, clock: .continuous)
            let ready = state.withLock { state in
                guard let wanted = state.delayed[key], wanted <= ContinuousClock.now else { return false }
                state.delayed[key] = nil
                return true
            }
            if ready { add(key) }
        }
    }

    /// Queues `key` after its back-off: the n-th failure in a row waits base × 2ⁿ⁻¹, up to `maximumDelay`.
    public func addRateLimited(_ key: String) {
        let failures = state.withLock { state in
            state.failures[key, default: 0] += 1
            return state.failures[key] ?? 1
        }
        add(key, after: delay(afterFailures: failures))
    }

    /// The back-off after `failures` failures in a row.
    func delay(afterFailures failures: Int) -> Duration {
        var delay = baseDelay
        for _ in 1..<max(min(failures, 40), 1) {
            delay *= 2
            if delay >= maximumDelay { break }
        }
        return min(delay, maximumDelay)
    }

    /// Failures in a row of `key` since its last `forget`.
    func failures(of key: String) -> Int { state.withLock { $0.failures[key] ?? 0 } }

    /// Clears `key`'s back-off after a success.
    public func forget(_ key: String) { state.withLock { _ = $0.failures.removeValue(forKey: key) } }

    /// The next key to reconcile, waiting for one; nil once the queue is shut down or the task is cancelled (the
    /// queue keeps its keys then, for the workers of a later run: a controller that lost its leadership and won
    /// it back).
    public func next() async -> String? {
        let waiter = WaiterIdentity()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let key: String?? = state.withLock { state in
                    if state.shutDown || Task.isCancelled { return .some(nil) }
                    guard let key = state.queue.popFirst() else {
                        state.waiters.append((waiter, continuation))
                        return nil
                    }
                    state.dirty.remove(key)
                    state.processing.insert(key)
                    return .some(key)
                }
                if let key { continuation.resume(returning: key) }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<String?, Never>? in
                guard let index = state.waiters.firstIndex(where: { $0.0 === waiter }) else { return nil }
                return state.waiters.remove(at: index).1
            }
            continuation?.resume(returning: nil)
        }
    }

    /// Marks `key` finished; if it changed meanwhile it is queued again.
    public func done(_ key: String) {
        let waiter: CheckedContinuation<String?, Never>? = state.withLock { state in
            state.processing.remove(key)
            guard state.dirty.contains(key), !state.shutDown else { return nil }
            return state.handOver(key)
        }
        waiter?.resume(returning: key)
    }

    /// Wakes every waiting worker with nil; later adds are ignored.
    public func shutDown() {
        let waiters = state.withLock { state in
            state.shutDown = true
            let waiters = state.waiters
            state.waiters = []
            return waiters
        }
        for (_, waiter) in waiters { waiter.resume(returning: nil) }
    }

    /// Keys queued or in progress, and keys dropped at the bound since the start.
    public var depth: Int { state.withLock { $0.dirty.count + $0.processing.count } }
    public var droppedKeys: Int { state.withLock { $0.dropped } }
}

/// An array queue that pops from a moving head and compacts once half of it is spent.
struct FIFO {
    private var items: [String] = []
    private var head = 0

    mutating func append(_ item: String) { items.append(item) }

    mutating func popFirst() -> String? {
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head > 64, head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }

    var count: Int { items.count - head }
}

/// Tells one waiting worker from another, so a cancelled one can be taken off the list.
final class WaiterIdentity: Sendable {}
