import Foundation
import Synchronization
import Testing

@testable import RevisionLog

/// `WorkQueue.next(spin:)`: the committer watches its queue for a while before it sleeps. A spin must never hold back
/// what it waits for: an item, a wake-up or a stop ends it at once. The spins here are a minute long, so a spin that
/// missed one of them would show as a test that takes a minute (the bounds checked are 30 s: correctness, not speed).
@Suite("the committer's queue: spinning before sleeping")
struct WorkQueueSpinTests {
    final class Seen: Sendable {
        let batches = Mutex<[(items: [Int], woken: Bool, done: Bool, at: ContinuousClock.Instant)]>([])
        var count: Int { batches.withLock { $0.count } }
        func waitFor(_ count: Int) async {
            while self.count < count { try? await Task.sleep(for: .milliseconds(5)) }
        }
    }

    static func start(_ queue: WorkQueue<Int>, _ seen: Seen) {
        queue.start(name: "kelson-test-spin") {
            while true {
                let batch = queue.next(spin: .seconds(60))
                seen.batches.withLock { $0.append((batch.items, batch.woken, batch.done, .now)) }
                if batch.done { break }
            }
        }
    }

    @Test("an item queued during the spin is taken as it comes, and so is the next one")
    func itemsEndTheSpin() async throws {
        let queue = WorkQueue<Int>(limit: 10)
        let seen = Seen()
        Self.start(queue, seen)
        for item in 1...3 {
            try await Task.sleep(for: .milliseconds(20))
            let queued = ContinuousClock.now
            #expect(queue.enqueue(item) == nil)
            await seen.waitFor(item)
            let batch = try #require(seen.batches.withLock { $0.last })
            #expect(batch.items == [item])
            #expect(batch.at - queued < .seconds(30), "the item waited for the spin to end")
        }
        queue.stop()
        #expect(seen.batches.withLock { $0.last?.done } == true)
    }

    @Test("a wake-up and a stop end the spin too")
    func wakeAndStopEndTheSpin() async throws {
        let queue = WorkQueue<Int>(limit: 10)
        let seen = Seen()
        Self.start(queue, seen)
        try await Task.sleep(for: .milliseconds(20))
        let woken = ContinuousClock.now
        queue.wake()
        await seen.waitFor(1)
        let batch = try #require(seen.batches.withLock { $0.first })
        #expect(batch.woken && batch.items.isEmpty)
        #expect(batch.at - woken < .seconds(30))
        try await Task.sleep(for: .milliseconds(20))
        let stopped = ContinuousClock.now
        queue.stop()
        #expect(ContinuousClock.now - stopped < .seconds(30), "stop waited for the spin to end")
        #expect(seen.batches.withLock { $0.last?.done } == true)
    }
}
