import Foundation
import Synchronization

/// A dedicated thread and the bounded queue that feeds it: the committer, the syncer and the log follower are each
/// one. Producers `enqueue` items (refused once the queue is full or stopping) or `wake` the thread without one; the
/// thread's body calls `next` to wait for and take what is queued, and returns once `next` says it is stopping and
/// the queue is drained. `stop` waits for that.
final class WorkQueue<Item>: @unchecked Sendable {  // `items` and `woken` are guarded by `worker.condition`
    private let worker = WorkerThread()
    private var condition: NSCondition { worker.condition }
    private var items: [Item] = []
    private var woken = false
    /// Set while items wait or after `wake`; read without the lock by `next`'s spin, as is `stopAsked` (set by `stop`).
    private let needsAttention = Atomic<Bool>(false)
    private let stopAsked = Atomic<Bool>(false)
    /// Items waiting at most; `enqueue` refuses more.
    let limit: Int

    init(limit: Int = .max) { self.limit = limit }

    enum Refusal: Error { case full, stopping }

    /// What `next` took, and why it returned.
    struct Batch {
        var items: [Item]
        /// `wake` was called since the last `next`.
        var woken: Bool
        /// The deadline passed with nothing to do.
        var timedOut: Bool
        /// `stop` was called and nothing is left after these items: the body should finish them and return.
        var done: Bool
    }

    func start(name: String, _ body: @escaping @Sendable () -> Void) { worker.start(name: name, body) }

    /// Asks the thread to finish what is queued, then waits until its body has returned.
    func stop() {
        stopAsked.store(true, ordering: .releasing)
        worker.stop()
    }

    /// Queues `item` and wakes the thread; refused when `limit` items wait or the queue is stopping.
    func enqueue(_ item: Item) -> Refusal? {
        condition.lock()
        defer { condition.unlock() }
        if worker.stopping { return .stopping }
        if items.count >= limit { return .full }
        items.append(item)
        needsAttention.store(true, ordering: .releasing)
        condition.signal()
        return nil
    }

    /// Queues `item` even while stopping (work handed on between threads that must not be dropped).
    func enqueueUnbounded(_ item: Item) {
        condition.lock()
        items.append(item)
        needsAttention.store(true, ordering: .releasing)
        condition.signal()
        condition.unlock()
    }

    /// True when nothing waits in the queue.
    var isEmpty: Bool {
        condition.lock()
        defer { condition.unlock() }
        return items.isEmpty
    }

    /// Wakes the thread without an item (`Batch.woken`).
    func wake() {
        condition.lock()
        woken = true
        needsAttention.store(true, ordering: .releasing)
        condition.signal()
        condition.unlock()
    }

    /// Waits until items are queued, `wake` was called, `hasOtherWork` (asked under the lock) says so, `deadline`
    /// passed or `stop` was asked; then takes up to `maximum` items. With `spin`, it first watches the queue that
    /// long without sleeping (an item that comes meanwhile is taken without a wake-up).
    func next(
        maximum: Int = .max, until deadline: Date? = nil, spin: Duration = .zero, hasOtherWork: () -> Bool = { false }
    ) -> Batch {
        if spin > .zero {
            let end = ContinuousClock.now + spin
            while !needsAttention.load(ordering: .acquiring), !stopAsked.load(ordering: .acquiring),
                ContinuousClock.now < end
            {}
        }
        condition.lock()
        defer { condition.unlock() }
        var timedOut = false
        while items.isEmpty && !woken && !worker.stopping && !hasOtherWork() {
            if let deadline {
                if !condition.wait(until: deadline) {
                    timedOut = true
                    break
                }
            } else {
                condition.wait()
            }
        }
        let taken = Array(items.prefix(maximum))
        items.removeFirst(taken.count)
        needsAttention.store(!items.isEmpty, ordering: .releasing)
        defer { woken = false }
        return Batch(items: taken, woken: woken, timedOut: timedOut, done: worker.stopping && items.isEmpty)
    }
}
