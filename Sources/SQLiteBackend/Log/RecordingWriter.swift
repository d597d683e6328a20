import RevisionLog

/// The writer a group runs against in log mode: reads and writes go to SQLite's open transaction, and every write is
/// also recorded as a `LogOperation`, so the group's log record repeats exactly what the transaction did.
final class RecordingWriter: BackendWriter {
    let view: SQLiteView
    private(set) var operations: [LogOperation] = []

    init(view: SQLiteView) { self.view = view }

    var revision: Int64 { view.revision }
    var compactRevision: Int64 { view.compactRevision }
    var compactedThrough: Int64 { view.compactedThrough }

    func get(_ key: [UInt8], at revision: Int64) throws -> KeyValue? { try view.get(key, at: revision) }
    func range(_ range: KeyRange, at revision: Int64, limit: Int) throws -> [KeyValue] {
        try view.range(range, at: revision, limit: limit)
    }
    func count(_ range: KeyRange, at revision: Int64) throws -> Int64 { try view.count(range, at: revision) }
    func changes(from: Int64, through: Int64, limit: Int) throws -> [Change] {
        try view.changes(from: from, through: through, limit: limit)
    }
    func leases() throws -> [LeaseRecord] { try view.leases() }
    func lease(_ id: Int64) throws -> LeaseRecord? { try view.lease(id) }
    func keys(attachedTo lease: Int64, limit: Int) throws -> [[UInt8]] {
        try view.keys(attachedTo: lease, limit: limit)
    }
    func metadata(_ name: String) throws -> [UInt8]? { try view.metadata(name) }

    func append(_ change: Change) throws { try record(.append(change)) }
    func setRevision(_ revision: Int64) throws { try record(.setRevision(revision)) }
    func setCompactRevision(_ revision: Int64) throws { try record(.setCompactRevision(revision)) }
    func setCompactedThrough(_ revision: Int64) throws { try record(.setCompactedThrough(revision)) }
    func putLease(_ lease: LeaseRecord) throws { try record(.putLease(lease)) }
    func deleteLease(_ id: Int64) throws { try record(.deleteLease(id)) }
    func setMetadata(_ name: String, _ value: [UInt8]?) throws { try record(.setMetadata(name: name, value: value)) }

    private func record(_ operation: LogOperation) throws {
        try operation.apply(to: view)
        operations.append(operation)
    }
}
