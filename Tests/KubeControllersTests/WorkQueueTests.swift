import Testing

@testable import KubeControllers

@Suite struct WorkQueueTests {
    @Test func aKeyIsQueuedOnceAndNeverReconciledTwiceAtOnce() async {
        let queue = WorkQueue()
        queue.add("a")
        queue.add("a")
        queue.add("b")
        #expect(queue.depth == 2)
        let first = await queue.next()
        #expect(first == "a")
        // Changed while in progress: it comes back only after `done`.
        queue.add("a")
        let second = await queue.next()
        #expect(second == "b")
        queue.done("b")
        queue.done("a")
        let third = await queue.next()
        #expect(third == "a")
    }

    @Test func keysPastTheCapacityAreDroppedAndCounted() {
        let queue = WorkQueue(capacity: 2)
        queue.add("a")
        queue.add("b")
        queue.add("c")
        #expect(queue.depth == 2)
        #expect(queue.droppedKeys == 1)
    }

    @Test func failuresComeBackAfterAGrowingDelayResetByForget() async {
        let queue = WorkQueue(baseDelay: .milliseconds(20), maximumDelay: .seconds(1))
        #expect(queue.delay(afterFailures: 1) == .milliseconds(20))
        #expect(queue.delay(afterFailures: 2) == .milliseconds(40))
        #expect(queue.delay(afterFailures: 4) == .milliseconds(160))
        #expect(queue.delay(afterFailures: 30) == .seconds(1))
        let clock = ContinuousClock()
        let start = clock.now
        queue.addRateLimited("a")
        #expect(queue.depth == 0)
        #expect(await queue.next() == "a")
        // Never before its delay.
        #expect(clock.now - start >= .milliseconds(20))
        queue.done("a")
        queue.addRateLimited("a")
        #expect(queue.failures(of: "a") == 2)
        queue.forget("a")
        #expect(queue.failures(of: "a") == 0)
    }

    @Test func shutDownWakesWaitingWorkers() async {
        let queue = WorkQueue()
        async let waiting = queue.next()
        try? await Task.sleep(for: .milliseconds(20))
        queue.shutDown()
        #expect(await waiting == nil)
    }
}
