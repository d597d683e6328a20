import Foundation

/// A dedicated thread that sleeps on `condition` until its owner has work for it or asks it to stop, and a
/// `stop()` that waits until the thread has finished. The committer, the syncer and SQLite's checkpointer are
/// each one; their own queues are guarded by the same `condition`.
public final class WorkerThread: @unchecked Sendable {  // `stopping` and `finished` are guarded by `condition`
    public let condition = NSCondition()
    /// Set by `stop()`; read it with `condition` locked.
    public private(set) var stopping = false
    /// True until `start` and again once the body returned, so `stop()` never waits for a thread never started.
    private var finished = true

    public init() {}

    /// Runs `body` on a new thread named `name`. `body` returns once it sees `stopping` (and has drained).
    public func start(name: String, _ body: @escaping @Sendable () -> Void) {
        condition.lock()
        finished = false
        condition.unlock()
        let thread = Thread { [self] in
            body()
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        thread.name = name
        thread.start()
    }

    /// Asks the thread to stop and waits until its body has returned.
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }
}
