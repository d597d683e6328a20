extension TrafficRecorder.Recording {
    /// The history with every unknown outcome settled by the watch, as etcd's robustness suite patches its
    /// histories: the watch saw every revision from the start to the end (the validators check that separately), and
    /// every written value is unique, so a write whose call failed took effect exactly when the watch shows its value
    /// (or, for a delete, a delete of its key) at a revision no known response accounts for. Such an operation gets
    /// that response, still with no return time (it may have happened any time after its call); one the watch does
    /// not show had no effect and is left out. Without this, each unknown outcome doubles the orders the checker must
    /// consider.
    public func resolvedHistory() -> History {
        let known = Set(committed.map(\.revision))
        var unexplained: [Int64: WatchRecord.Event] = [:]
        for event in watch.responses.joined() where !known.contains(event.modRevision) {
            unexplained[event.modRevision] = event
        }
        // A failed call took effect, if at all, after every revision that calls finished before it began had seen.
        let finished = history.operations.compactMap { operation -> (returned: UInt64, revision: Int64)? in
            guard let returned = operation.returned, let revision = RevisionAudit.observedRevision(operation) else {
                return nil
            }
            return (returned, revision)
        }.sorted { $0.returned < $1.returned }
        func floor(before invoked: UInt64) -> Int64 {
            var highest: Int64 = 0
            for entry in finished {
                if entry.returned >= invoked { break }
                highest = max(highest, entry.revision)
            }
            return highest
        }
        var resolved = history.operations.filter { $0.response != nil }
        for var operation in history.operations.filter({ $0.response == nil }).sorted(by: { $0.invoked < $1.invoked }) {
            let floor = floor(before: operation.invoked)
            let match: WatchRecord.Event?
            switch operation.request {
            case .get, .list: match = nil
            case .put(let key, let value), .create(let key, let value), .update(let key, _, let value):
                match = unexplained.values.first { $0.kind == .put && $0.key == key && $0.value == value }
            case .delete(let key, let expected):
                // A guarded delete can only have removed the version it named (the event's prev_kv says which); one
                // that named no version (0) deletes nothing.
                if expected == 0 {
                    match = nil
                } else {
                    match = unexplained.values.filter { event in
                        event.kind == .delete && event.key == key && event.modRevision > floor
                            && (expected == nil || event.previous?.modRevision == expected)
                    }.min { $0.modRevision < $1.modRevision }
                }
            }
            guard let match else { continue }
            unexplained[match.modRevision] = nil
            switch operation.request {
            case .get, .list: continue
            case .put: operation.response = .put(revision: match.modRevision)
            case .create, .update, .delete(_, _?):
                operation.response = .txn(succeeded: true, revision: match.modRevision)
            case .delete(_, nil): operation.response = .delete(deleted: 1, revision: match.modRevision)
            }
            resolved.append(operation)
        }
        return History(resolved)
    }
}
