import Foundation

/// Threads for backend calls that wait on the network (PostgreSQL): a read there takes a round trip or two, and run
/// on an event loop it would hold up every other connection of that loop (reads of one process then went no
/// faster with 16 clients than with one). Bounded both ways: `threads` calls run at once (as many as the backend
/// has reader connections), at most `queueLimit` wait, and a call beyond that fails at once.
final class BlockingPool: @unchecked Sendable {  // `queue`, `head` and `stopping` are guarded by `condition`
    private let condition = NSCondition()
    private var queue: [(@Sendable () -> Void)?] = []
    private var head = 0
    private var stopping = false
    private var running: Int
    let queueLimit: Int

    init(threads: Int, queueLimit: Int, name: String) {
        self.queueLimit = queueLimit
        running = max(threads, 1)
        for index in 0..<running {
            Thread { [self] in
                nameCurrentThread("\(name)-\(index)")
                work()
            }.start()
        }
    }

    enum Refusal { case full, stopped }

    /// Queues `job`, or says why not (the caller answers with an error).
    func submit(_ job: @escaping @Sendable () -> Void) -> Refusal? {
        condition.lock()
        defer { condition.unlock() }
        if stopping { return .stopped }
        if queue.count - head >= queueLimit { return .full }
        queue.append(job)
        condition.signal()
        return nil
    }

    /// Runs what is queued, then ends every thread and waits for them.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private func work() {
        condition.lock()
        while true {
            while head == queue.count && !stopping { condition.wait() }
            if head == queue.count { break }
            let job = queue[head]
            queue[head] = nil
            head += 1
            // Drop the consumed prefix now and then, so the array does not grow for ever.
            if head >= 1_024 && head * 2 >= queue.count {
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job?()
            condition.lock()
        }
        running -= 1
        condition.broadcast()
        condition.unlock()
    }
}
