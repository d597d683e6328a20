/// Decides whether a `History` is linearizable against `KVModel`: whether every operation can be given one instant
/// between its invocation and its return such that, in the order of those instants, each response is what the model
/// answers. Operations without a response (unknown outcome) may take effect at any instant after their invocation, or
/// never.
///
/// The search is Wing and Gong's, with Lowe's memoization (P. Lowe, "Testing for linearizability", 2017): walk the
/// events in time order; at a call, try to linearize that operation now (apply it to the model); at a return of an
/// operation not yet linearized, undo the most recent choice and try the next candidate. A (set of linearized
/// operations, model state) pair that was tried once is never tried again, which keeps real histories tractable.
public struct LinearizabilityChecker: Sendable {
    public enum Verdict: Sendable, Equatable {
        case linearizable
        /// No order exists. `longestPrefix` is how many operations the deepest attempt managed to linearize,
        /// `stuckAt` the operation whose return could not be reached: where to look first.
        case violation(longestPrefix: Int, stuckAt: Operation?)
        /// The search gave up after `maximumSteps` (neither verdict is proven).
        case undecided
    }

    public var initial: KVModel
    public var maximumSteps: Int

    public init(initial: KVModel = KVModel(), maximumSteps: Int = 5_000_000) {
        self.initial = initial
        self.maximumSteps = maximumSteps
    }

    public func check(_ history: History) -> Verdict {
        let operations = history.operations
        guard !operations.isEmpty else { return .linearizable }
        var list = EventList(operations)
        var linearized = BitSet(count: operations.count)
        var state = initial
        var stack: [(call: Int, state: KVModel)] = []
        var seen = Set<Memo>()
        var cursor = list.first
        var steps = 0
        var deepest = 0
        var stuckAt: Operation?
        /// Undoes the most recent linearization and moves on to the next candidate; false when none is left.
        func backtrack() -> Bool {
            guard let (call, previous) = stack.popLast() else { return false }
            linearized.remove(list.events[call].operation)
            list.unlift(call)
            state = previous
            cursor = list.events[call].next
            return true
        }
        while list.returnsLeft > 0 {
            steps += 1
            if steps > maximumSteps { return .undecided }
            guard let current = cursor else {
                // Only calls of unknown-outcome operations remain ahead: back up and try something else.
                if !backtrack() { return .violation(longestPrefix: deepest, stuckAt: stuckAt) }
                continue
            }
            let event = list.events[current]
            let operation = operations[event.operation]
            if event.isCall {
                if let next = state.step(operation.request, operation.response) {
                    var candidate = linearized
                    candidate.insert(event.operation)
                    if seen.insert(Memo(linearized: candidate, state: next)).inserted {
                        stack.append((current, state))
                        state = next
                        linearized = candidate
                        list.lift(current)
                        deepest = max(deepest, stack.count)
                        cursor = list.first
                        continue
                    }
                }
                cursor = event.next
            } else {
                // This operation returned before anything let it take effect: undo the last choice.
                if stack.count >= deepest { stuckAt = operation }
                if !backtrack() { return .violation(longestPrefix: deepest, stuckAt: operation) }
            }
        }
        return .linearizable
    }

    private struct Memo: Hashable {
        var linearized: BitSet
        var state: KVModel
    }
}

/// The calls and returns of a history in time order, as a doubly linked list from which a linearized operation's
/// call and return are lifted out (and put back on backtracking) in O(1).
private struct EventList {
    struct Event {
        var operation: Int
        var isCall: Bool
        var time: UInt64
        var previous: Int?
        var next: Int?
        /// For a call: its return's index (nil for an unknown outcome, which has no return).
        var match: Int?
    }

    var events: [Event] = []
    var head: Int?
    var returnsLeft = 0
    var first: Int? { head }

    init(_ operations: [Operation]) {
        var unsorted: [Event] = []
        for (index, operation) in operations.enumerated() {
            unsorted.append(Event(operation: index, isCall: true, time: operation.invoked))
            if let returned = operation.returned, operation.response != nil {
                unsorted.append(Event(operation: index, isCall: false, time: returned))
            }
        }
        // At equal times a return comes before a call: an operation that returned at t precedes one invoked at t.
        events = unsorted.sorted { a, b in
            a.time != b.time ? a.time < b.time : (a.isCall != b.isCall ? !a.isCall : a.operation < b.operation)
        }
        var callIndex: [Int: Int] = [:]
        for index in events.indices {
            events[index].previous = index > 0 ? index - 1 : nil
            events[index].next = index + 1 < events.count ? index + 1 : nil
            if events[index].isCall {
                callIndex[events[index].operation] = index
            } else {
                events[callIndex[events[index].operation]!].match = index
                returnsLeft += 1
            }
        }
        head = events.isEmpty ? nil : 0
    }

    mutating func lift(_ call: Int) {
        unlink(call)
        if let match = events[call].match {
            unlink(match)
            returnsLeft -= 1
        }
    }

    mutating func unlift(_ call: Int) {
        if let match = events[call].match {
            relink(match)
            returnsLeft += 1
        }
        relink(call)
    }

    private mutating func unlink(_ index: Int) {
        let event = events[index]
        if let previous = event.previous { events[previous].next = event.next } else { head = event.next }
        if let next = event.next { events[next].previous = event.previous }
    }

    /// Undoes `unlink(index)`; events are relinked in the reverse order of unlinking, so neighbours are intact.
    private mutating func relink(_ index: Int) {
        let event = events[index]
        if let previous = event.previous { events[previous].next = index } else { head = index }
        if let next = event.next { events[next].previous = index }
    }
}

/// A fixed-size set of operation indexes.
struct BitSet: Hashable {
    private var words: [UInt64]

    init(count: Int) { words = Array(repeating: 0, count: (count + 63) / 64) }

    mutating func insert(_ index: Int) { words[index / 64] |= 1 << UInt64(index % 64) }
    mutating func remove(_ index: Int) { words[index / 64] &= ~(1 << UInt64(index % 64)) }
}
