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

    @Test func failuresComeBackAfterAGrowingDelay() async {
        let queue = WorkQueue(baseDelay: .milliseconds(20), maximumDelay: .seconds(1))
        let clock = ContinuousClock()
        queue.addRateLimited("a")
        var start = clock.now
        _ = await queue.next()
        queue.done("a")
        let firstWait = clock.now - start
        queue.addRateLimited("a")
        queue.addRateLimited("a")
        start = clock.now
        _ = await queue.next()
        let thirdWait = clock.now - start
        #expect(firstWait >= .milliseconds(20))
        // The second and third failures ask for 40 and 80 ms; the earliest (40) wins.
        #expect(thirdWait >= .milliseconds(40))
        queue.done("a")
        queue.forget("a")
        queue.addRateLimited("a")
        start = clock.now
        _ = await queue.next()
        #expect(clock.now - start < .milliseconds(500))
    }

    @Test func shutDownWakesWaitingWorkers() async {
        let queue = WorkQueue()
        async let waiting = queue.next()
        try? await Task.sleep(for: .milliseconds(20))
        queue.shutDown()
        #expect(await waiting == nil)
    }
}
