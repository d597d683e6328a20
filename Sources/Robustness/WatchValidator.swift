/// What a watch stream delivered, as the robustness tests record it: the watch's range (a key prefix) and start
/// revision, and each response's events in order.
public struct WatchRecord: Sendable {
    public struct Event: Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            case put
            case delete
        }
        public var kind: Kind
        public var key: String
        public var value: String
        public var createRevision: Int64
        /// The event's revision.
        public var modRevision: Int64
        public var version: Int64
        /// With `prev_kv`: the key's value and mod revision before this event (nil when it did not exist).
        public var previous: (value: String, modRevision: Int64)?

        public init(
            kind: Kind, key: String, value: String = "", createRevision: Int64 = 0, modRevision: Int64,
            version: Int64 = 0, previous: (value: String, modRevision: Int64)? = nil
        ) {
            self.kind = kind
            self.key = key
            self.value = value
            self.createRevision = createRevision
            self.modRevision = modRevision
            self.version = version
            self.previous = previous
        }

        public static func == (a: Event, b: Event) -> Bool {
            a.kind == b.kind && a.key == b.key && a.value == b.value && a.createRevision == b.createRevision
                && a.modRevision == b.modRevision && a.version == b.version
                && a.previous?.value == b.previous?.value && a.previous?.modRevision == b.previous?.modRevision
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(key)
            hasher.combine(modRevision)
        }
    }

    public var prefix: String
    public var startRevision: Int64
    public var prevKV: Bool
    /// Each response's events, in the order received.
    public var responses: [[Event]]

    public init(prefix: String, startRevision: Int64, prevKV: Bool, responses: [[Event]]) {
        self.prefix = prefix
        self.startRevision = startRevision
        self.prevKV = prevKV
        self.responses = responses
    }
}

/// A committed write the history knows of (an acknowledged response's revision), to check watches for gaps.
public struct CommittedWrite: Sendable, Hashable {
    public var key: String
    public var revision: Int64
    public var deleted: Bool

    public init(key: String, revision: Int64, deleted: Bool) {
        self.key = key
        self.revision = revision
        self.deleted = deleted
    }
}

/// etcd's watch guarantees (its robustness suite's watch validators), checked on a recorded stream:
/// - ordered: revisions never go down, and each response's revisions are above the previous response's;
/// - unique: no event (key, revision) is delivered twice;
/// - atomic: all events of one revision arrive in the same response;
/// - reliable: every acknowledged write in the watched range, from the start revision up to the last revision the
///   stream reached, was delivered (no gap);
/// - resumable: a watch that resumes from the revision after a first one's last gets what follows, no more, no less
///   (check the second record with `startRevision` set accordingly: the other rules then cover it);
/// - prev_kv: an event's previous value is the key's last event before it in the stream (when the stream holds it);
/// - creates: a put whose create revision is its mod revision has version 1, and only such a put.
public enum WatchValidator {
    public enum Violation: Sendable, Hashable {
        case outOfOrder(revision: Int64, after: Int64)
        case duplicate(key: String, revision: Int64)
        case splitRevision(Int64)
        case beforeStart(revision: Int64, start: Int64)
        case outOfRange(key: String, revision: Int64)
        case missing(key: String, revision: Int64)
        case wrongKind(key: String, revision: Int64)
        case wrongPrevious(key: String, revision: Int64)
        case wrongVersion(key: String, revision: Int64)
    }

    public static func validate(_ record: WatchRecord, writes: [CommittedWrite]) -> [Violation] {
        var violations: [Violation] = []
        var last: Int64 = 0
        var seen = Set<WatchRecord.Event>()
        var responseOf: [Int64: Int] = [:]
        var latest: [String: WatchRecord.Event] = [:]
        for (index, response) in record.responses.enumerated() {
            for event in response {
                let revision = event.modRevision
                if revision < last { violations.append(.outOfOrder(revision: revision, after: last)) }
                if let earlier = responseOf[revision], earlier != index { violations.append(.splitRevision(revision)) }
                responseOf[revision] = index
                last = max(last, revision)
                if !seen.insert(event).inserted { violations.append(.duplicate(key: event.key, revision: revision)) }
                if revision < record.startRevision {
                    violations.append(.beforeStart(revision: revision, start: record.startRevision))
                }
                if !event.key.hasPrefix(record.prefix) {
                    violations.append(.outOfRange(key: event.key, revision: revision))
                }
                if event.kind == .put {
                    let isCreate = event.createRevision == event.modRevision
                    if isCreate != (event.version == 1) {
                        violations.append(.wrongVersion(key: event.key, revision: revision))
                    }
                }
                if record.prevKV, let before = latest[event.key] {
                    let expected = before.kind == .put ? (before.value, before.modRevision) : nil
                    if expected?.0 != event.previous?.value || expected?.1 != event.previous?.modRevision {
                        violations.append(.wrongPrevious(key: event.key, revision: revision))
                    }
                }
                latest[event.key] = event
            }
        }
        let delivered = Dictionary(
            record.responses.joined().map { ("\($0.key)@\($0.modRevision)", $0) }, uniquingKeysWith: { a, _ in a })
        for write in writes
        where write.key.hasPrefix(record.prefix) && write.revision >= record.startRevision && write.revision <= last {
            guard let event = delivered["\(write.key)@\(write.revision)"] else {
                violations.append(.missing(key: write.key, revision: write.revision))
                continue
            }
            if (event.kind == .delete) != write.deleted {
                violations.append(.wrongKind(key: write.key, revision: write.revision))
            }
        }
        return violations
    }
}
