import Foundation

/// A dedicated thread that sleeps on `condition` until its owner has work for it or asks it to stop, and a
/// `stop()` that waits until the thread has finished. The committer, the syncer and SQLite's checkpointer are
/// each one; their own queues are guarded by the same `condition`.
package final class WorkerThread: @unchecked Sendable {  // `stopping` and `finished` are guarded by `condition`
    package let condition = NSCondition()
    /// Set by `stop()`; read it with `condition` locked.
    package private(set) var stopping = false
    /// True until `start` and again once the body returned, so `stop()` never waits for a thread never started.
    private var finished = true

    package init() {}

    /// Runs `body` on a new thread named `name`. `body` returns once it sees `stopping` (and has drained).
    package func start(name: String, _ body: @escaping @Sendable () -> Void) {
        condition.lock()
        finished = false
        condition.unlock()
        let thread = Thread { [self] in
            nameCurrentThread(name)
            body()
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        thread.start()
    }

    /// Asks the thread to stop and waits until its body has returned.
    package func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }
}

/// Names the calling thread for the kernel (`top -H`, perf, /proc): Foundation's `Thread.name` reaches the kernel
/// only when set from the thread itself after its creator has recorded it, which races with the thread's start.
/// (Swift does not see glibc's `pthread_setname_np`; writing the thread's own `comm` file does the same.)
package func nameCurrentThread(_ name: String) {
    let descriptor = open("/proc/thread-self/comm", O_WRONLY)
    guard descriptor >= 0 else { return }
    defer { close(descriptor) }
    let bytes = Array(name.utf8.prefix(15))  // the kernel keeps 15 bytes
    _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
}
