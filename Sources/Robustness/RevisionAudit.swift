/// A direct audit of a history whose writes carry their revisions: every revision from the start to the end must be
/// claimed by exactly one write, every read must match the state the writes build up to its revision, and no
/// operation may see a revision older than one an operation that finished before it started saw. Where the
/// linearizability checker only says yes or no, this names the first operations that disagree.
public enum RevisionAudit {
    public static func problems(_ history: History, startRevision: Int64, limit: Int = 20) -> [String] {
        var problems: [String] = []
        var writes: [Int64: Operation] = [:]
        var end = startRevision
        for operation in history.operations {
            guard let revision = writtenRevision(operation) else { continue }
            if let other = writes[revision] {
                problems.append("revision \(revision) is claimed twice: \(other) and \(operation)")
            }
            writes[revision] = operation
            end = max(end, revision)
        }
        for operation in history.operations {
            switch operation.response {
            case .get(_, _, let revision)?, .list(let revision, _)?: end = max(end, revision)
            default: break
            }
        }
        var states: [Int64: [String: (String, Int64)]] = [startRevision: [:]]
        var state: [String: (String, Int64)] = [:]
        if startRevision < end {
            for revision in (startRevision + 1)...end {
                guard let write = writes[revision] else {
                    problems.append("no write explains revision \(revision)")
                    states[revision] = state
                    continue
                }
                switch write.request {
                case .put(let key, let value), .create(let key, let value), .update(let key, _, let value):
                    state[key] = (value, revision)
                case .delete(let key, _):
                    state[key] = nil
                case .get, .list: break
                }
                states[revision] = state
            }
        }
        for operation in history.operations {
            switch (operation.request, operation.response) {
            case (.get(let key), .get(let value, let modRevision, let revision)?):
                guard let seen = states[revision] else { continue }
                let expected = seen[key]
                if expected?.0 != value || (expected?.1 ?? 0) != modRevision {
                    problems.append(
                        "read at revision \(revision) of \(key) saw \(value ?? "nothing")@\(modRevision), "
                            + "the writes give \(expected.map { "\($0.0)@\($0.1)" } ?? "nothing"): \(operation)")
                }
            case (.list(let prefix, let limit), .list(let revision, _)?):
                // The model at that revision, rebuilt from the writes, must answer exactly these pages.
                guard let seen = states[revision] else { continue }
                let model = KVModel(
                    revision: revision,
                    keys: seen.mapValues { KVModel.Entry(value: $0.0, modRevision: $0.1) })
                if model.step(operation.request, operation.response) == nil {
                    let expected = model.list(prefix: prefix).map { "\($0.key)=\($0.value)@\($0.modRevision)" }
                    problems.append(
                        "list of \(prefix) (limit \(limit)) at revision \(revision) disagrees with the writes, which "
                            + "give \(expected): \(operation)")
                }
            default: continue
            }
        }
        // Compares: a guarded write's compare must hold just before its revision when it succeeded, and must not hold
        // at the revision it reports when it failed.
        for operation in history.operations {
            let modRevision: (Int64) -> Int64? = { revision in states[revision].map { $0[operation.key]?.1 ?? 0 } }
            switch (operation.request, operation.response) {
            case (.create, .txn(let succeeded, let revision)?):
                let at = succeeded ? revision - 1 : revision
                if let current = modRevision(at), (current == 0) != succeeded {
                    problems.append(
                        "create answered \(succeeded) but the key's mod revision at \(at) is \(current): \(operation)")
                }
            case (.update(_, let expected, _), .txn(let succeeded, let revision)?),
                (.delete(_, let expected?), .txn(let succeeded, let revision)?):
                let at =
                    succeeded
                        && (expected != 0
                            || { if case .update = operation.request { return true } else { return false } }())
                    ? revision - 1 : revision
                if let current = modRevision(at), (current == expected) != succeeded {
                    problems.append(
                        "guarded write answered \(succeeded) but the key's mod revision at \(at) is \(current), not \(expected): \(operation)"
                    )
                }
            case (.delete(_, nil), .delete(0, let revision)?):
                if let current = modRevision(revision), current != 0 {
                    problems.append("delete found nothing but the key exists at \(revision): \(operation)")
                }
            default: break
            }
        }
        // Real time: an operation that started after another finished must not see an older revision.
        let finished = history.operations.compactMap { operation -> (UInt64, Int64, Operation)? in
            guard let returned = operation.returned, let revision = observedRevision(operation) else { return nil }
            return (returned, revision, operation)
        }.sorted { $0.0 < $1.0 }
        var highest: (revision: Int64, operation: Operation?) = (startRevision, nil)
        var index = 0
        for operation in history.operations.sorted(by: { $0.invoked < $1.invoked }) {
            while index < finished.count && finished[index].0 < operation.invoked {
                if finished[index].1 > highest.revision { highest = (finished[index].1, finished[index].2) }
                index += 1
            }
            if let revision = observedRevision(operation), revision < highest.revision {
                problems.append(
                    "\(operation) saw revision \(revision) after \(highest.operation.map { "\($0)" } ?? "?") "
                        + "had finished at \(highest.revision)")
            }
        }
        return Array(problems.prefix(limit))
    }

    /// The revision a write created, when its response shows it changed a key.
    static func writtenRevision(_ operation: Operation) -> Int64? {
        switch (operation.request, operation.response) {
        case (.put, .put(let revision)?): return revision
        case (.create, .txn(true, let revision)?), (.update, .txn(true, let revision)?): return revision
        case (.delete(_, let modRevision?), .txn(true, let revision)?) where modRevision > 0: return revision
        case (.delete(_, nil), .delete(1, let revision)?): return revision
        default: return nil
        }
    }

    /// The store revision an operation's response reports.
    static func observedRevision(_ operation: Operation) -> Int64? {
        switch operation.response {
        case .get(_, _, let revision)?, .put(let revision)?, .txn(_, let revision)?, .delete(_, let revision)?,
            .list(let revision, _)?:
            return revision
        case nil: return nil
        }
    }
}
