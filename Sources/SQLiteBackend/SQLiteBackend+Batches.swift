import RevisionLog
import Synchronization

/// SQLite's side of a logged write: groups are applied to one open SQLite transaction, each in a savepoint of its
/// own (a group that fails is rolled back alone), and the transaction is committed without an fsync once it is big or
/// old enough, or when a read needs what it holds. The log, not this commit, is what makes a write durable.
struct Batch {
    var isOpen = false
    var began = ContinuousClock.now
    var operations = 0
    /// The last log record applied in the open transaction.
    var lastSequence: UInt64 = 0
    /// Set when SQLite could not take in a batch the log holds: SQLite is behind what was acknowledged, so nothing
    /// is read or written until a restart replays the log.
    var failure: StoreError?
}

extension SQLiteBackend {
    /// Begins the batch transaction unless one is open. Writer lock held.
    func openBatch(_ connection: SQLiteConnection) throws {
        let (isOpen, failure) = batch.withLock { ($0.isOpen, $0.failure) }
        if let failure { throw failure }
        guard !isOpen else { return }
        try connection.run("BEGIN IMMEDIATE")
        let committed = committedSequence.load(ordering: .relaxed)
        batch.withLock { $0 = Batch(isOpen: true, began: .now, operations: 0, lastSequence: committed) }
    }

    /// Runs one group in a savepoint of the open batch and appends the ops it reports to the log; commits the batch
    /// when it is full. Writer lock held.
    func logged<Result>(
        _ connection: SQLiteConnection, _ log: WriteAheadLog,
        _ body: (SQLiteView) throws -> (Result, [LogOperation])
    ) throws -> Result {
        try openBatch(connection)
        try connection.run("SAVEPOINT kelson_group")
        let result: Result
        do {
            let (value, operations) = try body(try SQLiteView(connection: connection))
            if !operations.isEmpty {
                // Last: a group whose record is in the log must be in SQLite too (a replay would repeat it).
                let sequence = try log.append(operations)
                batch.withLock { batch in
                    batch.lastSequence = sequence
                    batch.operations += operations.count
                }
            }
            result = value
        } catch {
            connection.resetStatements()
            try? connection.run("ROLLBACK TO kelson_group")
            try? connection.run("RELEASE kelson_group")
            throw error
        }
        do {
            try connection.run("RELEASE kelson_group")
        } catch {
            throw stop(connection, because: "releasing a group's savepoint failed: \(error)")
        }
        let full = batch.withLock { batch in
            batch.operations >= configuration.batchMaximumOperations
                || ContinuousClock.now - batch.began >= configuration.batchMaximumDuration
        }
        if full { try commitBatch(connection) }
        return result
    }

    /// Commits the open batch (no fsync), recording the last log record it holds. Writer lock held.
    func commitBatch(_ connection: SQLiteConnection) throws {
        let (isOpen, sequence, failure) = batch.withLock { ($0.isOpen, $0.lastSequence, $0.failure) }
        if let failure { throw failure }
        guard isOpen, let log else { return }
        do {
            try LogRecovery.setLogSequence(connection, sequence)
            try connection.finishTransaction(commit: true)
        } catch {
            throw stop(connection, because: "committing a batch of logged writes into SQLite failed: \(error)")
        }
        batch.withLock { $0.isOpen = false }
        committedSequence.store(sequence, ordering: .releasing)
        if log.hasClosedSegments { log.requestTrim() }
    }

    /// A read sees every group applied before it began: if SQLite's batch holds groups not committed yet, commit them
    /// first (reads served after apply; measured cheaper than merging an overlay into every read). Groups not yet
    /// durable are then visible, and the core answers such a read only once they are (`Store.whenDurable`). All of
    /// them, not only the synced ones: the committer checks after a failed group whether the store moved on
    /// (`confirmRolledBack`), and must see a group the log took even though its writer was told it failed.
    func commitForReaders() throws {
        guard log != nil else { return }
        let committed = committedSequence.load(ordering: .acquiring)
        guard batch.withLock({ $0.isOpen && $0.lastSequence > committed }) else { return }
        try withWriter { connection in try commitBatch(connection) }
    }

    /// SQLite lost its transaction over groups the log holds: refuse everything until a restart replays them.
    private func stop(_ connection: SQLiteConnection, because reason: String) -> StoreError {
        try? connection.finishTransaction(commit: false)
        let error = StoreError(
            .backendFailure, "\(reason); the log holds these writes and a restart will replay them")
        configuration.logger.critical("the SQLite backend stopped", metadata: ["error": "\(error)"])
        batch.withLock { batch in
            batch.isOpen = false
            batch.failure = error
        }
        return error
    }
}
