import Robustness
import Testing

/// The checker must accept what etcd may answer and reject what it may not: hand-made histories of both kinds.
@Suite("linearizability checker")
struct LinearizabilityCheckerTests {
    /// An operation from `start` to `end` (nil end: unknown outcome).
    static func op(
        _ client: Int, _ start: UInt64, _ end: UInt64?, _ request: Operation.Request, _ response: Operation.Response?
    ) -> Operation {
        Operation(
            client: client, request: request, invoked: start, returned: end, response: end == nil ? nil : response)
    }

    let checker = LinearizabilityChecker()

    @Test("sequential and overlapping histories that etcd can produce are linearizable")
    func acceptsValidHistories() {
        let history = History([
            Self.op(1, 0, 10, .put(key: "a", value: "1"), .put(revision: 2)),
            Self.op(2, 11, 20, .get(key: "a"), .get(value: "1", modRevision: 2, revision: 2)),
            // Two creates of one key overlap: exactly one succeeds, in either order of invocation.
            Self.op(1, 21, 40, .create(key: "b", value: "x"), .txn(succeeded: false, revision: 3)),
            Self.op(2, 22, 30, .create(key: "b", value: "y"), .txn(succeeded: true, revision: 3)),
            // A read overlapping a write may see either side of it.
            Self.op(3, 41, 60, .update(key: "b", modRevision: 3, value: "z"), .txn(succeeded: true, revision: 4)),
            Self.op(4, 42, 50, .get(key: "b"), .get(value: "y", modRevision: 3, revision: 3)),
            Self.op(5, 45, 55, .get(key: "b"), .get(value: "z", modRevision: 4, revision: 4)),
            Self.op(1, 61, 70, .delete(key: "b", modRevision: 4), .txn(succeeded: true, revision: 5)),
            Self.op(2, 71, 80, .delete(key: "b", modRevision: nil), .delete(deleted: 0, revision: 5)),
            Self.op(2, 81, 90, .get(key: "b"), .get(value: nil, modRevision: 0, revision: 5)),
        ])
        #expect(checker.check(history) == .linearizable)
    }

    @Test("an operation with an unknown outcome may have happened, or not")
    func unknownOutcomes() {
        let happened = History([
            Self.op(1, 0, nil, .put(key: "a", value: "lost?"), nil),
            Self.op(2, 10, 20, .get(key: "a"), .get(value: "lost?", modRevision: 2, revision: 2)),
        ])
        #expect(checker.check(happened) == .linearizable)
        let didNot = History([
            Self.op(1, 0, nil, .put(key: "a", value: "lost?"), nil),
            Self.op(2, 10, 20, .get(key: "a"), .get(value: nil, modRevision: 0, revision: 1)),
            Self.op(2, 21, 30, .put(key: "a", value: "2"), .put(revision: 2)),
        ])
        #expect(checker.check(didNot) == .linearizable)
    }

    @Test("a stale read is caught: a get after a put returned sees the old state")
    func staleRead() {
        let history = History([
            Self.op(1, 0, 10, .put(key: "a", value: "1"), .put(revision: 2)),
            Self.op(2, 11, 20, .get(key: "a"), .get(value: nil, modRevision: 0, revision: 1)),
        ])
        #expect(checker.check(history) != .linearizable)
    }

    @Test("a lost write is caught: an acknowledged put is gone with no delete")
    func lostWrite() {
        let history = History([
            Self.op(1, 0, 10, .put(key: "a", value: "1"), .put(revision: 2)),
            Self.op(1, 11, 20, .put(key: "b", value: "1"), .put(revision: 3)),
            Self.op(2, 21, 30, .get(key: "a"), .get(value: nil, modRevision: 0, revision: 3)),
        ])
        #expect(checker.check(history) != .linearizable)
    }

    @Test("a revision going backwards is caught")
    func revisionBackwards() {
        let history = History([
            Self.op(1, 0, 10, .put(key: "a", value: "1"), .put(revision: 2)),
            Self.op(1, 11, 20, .put(key: "a", value: "2"), .put(revision: 3)),
            Self.op(2, 21, 30, .get(key: "b"), .get(value: nil, modRevision: 0, revision: 3)),
            Self.op(3, 31, 40, .get(key: "b"), .get(value: nil, modRevision: 0, revision: 2)),
        ])
        #expect(checker.check(history) != .linearizable)
    }

    @Test("two successful creates of one key are caught")
    func doubleCreate() {
        let history = History([
            Self.op(1, 0, 10, .create(key: "a", value: "1"), .txn(succeeded: true, revision: 2)),
            Self.op(2, 0, 10, .create(key: "a", value: "2"), .txn(succeeded: true, revision: 3)),
        ])
        #expect(checker.check(history) != .linearizable)
    }

    @Test("a guarded update that succeeded against a stale mod revision is caught")
    func staleGuard() {
        let history = History([
            Self.op(1, 0, 10, .put(key: "a", value: "1"), .put(revision: 2)),
            Self.op(1, 11, 20, .put(key: "a", value: "2"), .put(revision: 3)),
            Self.op(2, 21, 30, .update(key: "a", modRevision: 2, value: "3"), .txn(succeeded: true, revision: 4)),
        ])
        #expect(checker.check(history) != .linearizable)
    }

    @Test("a history of 300 operations by 6 clients over 4 keys, paginated lists among them, is decided quickly")
    func largerHistory() {
        var operations: [Operation] = []
        var model = KVModel()
        var time: UInt64 = 0
        var generator = SystemRandomNumberGenerator()
        // A sequential run of the model, then each operation's interval widened so neighbours overlap.
        for index in 0..<300 {
            let key = "k\(Int.random(in: 0..<4, using: &generator))"
            let request: Operation.Request
            switch index % 5 {
            case 0: request = .put(key: key, value: "\(index)")
            case 1: request = .get(key: key)
            case 2: request = .update(key: key, modRevision: model.keys[key]?.modRevision ?? 0, value: "\(index)")
            case 3: request = .create(key: key, value: "\(index)")
            default: request = .list(prefix: "k", limit: Int64(index % 3 + 1))
            }
            let response = Self.answer(model, request)
            model = model.step(request, response)!
            operations.append(
                Operation(
                    client: index % 6, request: request, invoked: time, returned: time + 15, response: response))
            time += 10
        }
        #expect(checker.check(History(operations)) == .linearizable)
    }

    /// What the model answers to `request`.
    static func answer(_ model: KVModel, _ request: Operation.Request) -> Operation.Response {
        let next = model.step(request, nil)!
        switch request {
        case .get(let key):
            return .get(
                value: model.keys[key]?.value, modRevision: model.keys[key]?.modRevision ?? 0, revision: model.revision)
        case .put: return .put(revision: next.revision)
        case .create, .update, .delete(_, _?):
            return .txn(succeeded: next.revision != model.revision, revision: next.revision)
        case .delete(let key, nil): return .delete(deleted: model.keys[key] == nil ? 0 : 1, revision: next.revision)
        case .list(let prefix, let limit):
            return PaginatedListTests.pages(model.list(prefix: prefix), limit: limit, revision: model.revision)
        }
    }
}

@Suite("watch validator")
struct WatchValidatorTests {
    typealias Event = WatchRecord.Event

    static let writes = [
        CommittedWrite(key: "/a", revision: 2, deleted: false),
        CommittedWrite(key: "/b", revision: 3, deleted: false),
        CommittedWrite(key: "/a", revision: 4, deleted: false),
        CommittedWrite(key: "/a", revision: 5, deleted: true),
        CommittedWrite(key: "/x", revision: 6, deleted: false),
    ]
    static let a2 = Event(kind: .put, key: "/a", value: "1", createRevision: 2, modRevision: 2, version: 1)
    static let b3 = Event(kind: .put, key: "/b", value: "1", createRevision: 3, modRevision: 3, version: 1)
    static let a4 = Event(
        kind: .put, key: "/a", value: "2", createRevision: 2, modRevision: 4, version: 2, previous: ("1", 2))
    static let a5 = Event(kind: .delete, key: "/a", modRevision: 5, previous: ("2", 4))

    static func record(_ responses: [[Event]], start: Int64 = 2) -> WatchRecord {
        WatchRecord(prefix: "/", startRevision: start, prevKV: true, responses: responses)
    }

    @Test("a complete, ordered stream passes, split into responses or not; so does its resumption")
    func valid() {
        #expect(
            WatchValidator.validate(Self.record([[Self.a2, Self.b3], [Self.a4], [Self.a5]]), writes: Self.writes)
                .isEmpty)
        #expect(
            WatchValidator.validate(Self.record([[Self.a2], [Self.b3, Self.a4, Self.a5]]), writes: Self.writes).isEmpty)
        // Resumed from revision 4 after a first watch that ended at 3.
        #expect(WatchValidator.validate(Self.record([[Self.a4], [Self.a5]], start: 4), writes: Self.writes).isEmpty)
    }

    @Test("a duplicate event is caught")
    func duplicate() {
        let violations = WatchValidator.validate(
            Self.record([[Self.a2, Self.b3], [Self.b3, Self.a4]]), writes: Self.writes)
        #expect(violations.contains(.duplicate(key: "/b", revision: 3)), "\(violations)")
    }

    @Test("a gap in a watch is caught")
    func gap() {
        let violations = WatchValidator.validate(Self.record([[Self.a2], [Self.a4], [Self.a5]]), writes: Self.writes)
        #expect(violations == [.missing(key: "/b", revision: 3)], "\(violations)")
    }

    @Test("events out of order, a revision split over responses, a wrong prev_kv and a wrong version are caught")
    func otherViolations() {
        #expect(
            WatchValidator.validate(Self.record([[Self.b3], [Self.a2], [Self.a4, Self.a5]]), writes: Self.writes)
                .contains(.outOfOrder(revision: 2, after: 3)))
        let twoAtFive = Event(kind: .delete, key: "/b", modRevision: 5, previous: ("1", 3))
        #expect(
            WatchValidator.validate(
                Self.record([[Self.a2, Self.b3, Self.a4, Self.a5], [twoAtFive]]), writes: Self.writes
            )
            .contains(.splitRevision(5)))
        var stalePrevious = Self.a4
        stalePrevious.previous = ("0", 1)
        #expect(
            WatchValidator.validate(Self.record([[Self.a2, Self.b3, stalePrevious, Self.a5]]), writes: Self.writes)
                .contains(.wrongPrevious(key: "/a", revision: 4)))
        var badCreate = Self.b3
        badCreate.version = 2
        #expect(
            WatchValidator.validate(Self.record([[Self.a2, badCreate, Self.a4, Self.a5]]), writes: Self.writes)
                .contains(.wrongVersion(key: "/b", revision: 3)))
    }
}
