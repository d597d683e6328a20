import Foundation
import Logging

/// Publication for a `SharedLogBackend`: other processes commit revisions too, so this thread publishes to the
/// local watchers every revision in order — this process's own groups as the committer hands them over, and
/// everything between them read back from the log. It wakes when the committer enqueues a group, when the
/// backend says another process committed, and on the backend's slow fallback poll.
///
/// Watchers see each revision exactly once, in order: `published` only moves forward, a revision is published
/// only once everything below it is, and a revision that arrives twice (read from the log, then handed over by
/// the committer) is skipped the second time. A log read that fails is retried shortly; the committer's writers
/// are still acknowledged (their writes are committed), and their revisions are published once the gap
/// before them is filled.
final class LogFollower: @unchecked Sendable {
    private let backend: any SharedLogBackend
    private let logger: Logger
    private let onPublish: @Sendable ([CommittedRevision], Int64) -> Void
    /// Told when a sync fails, with the first revision it may have lost (see `DurableRevision.fail`).
    private let onSyncFailure: @Sendable (_ from: Int64, StoreError) -> Void
    /// Revisions read from the log per round (whole revisions, so a little more).
    private let readLimit = 1_000

    private let queue = WorkQueue<SyncBatch>()

    // Owned by the follower thread.
    private var published: Int64
    private var held: [CommittedRevision] = []
    /// Every revision up to this one is known durable (see `run`), so publishing it needs no sync of its own.
    private var syncedThrough: Int64

    init(
        backend: any SharedLogBackend, published: Int64, logger: Logger,
        onPublish: @escaping @Sendable ([CommittedRevision], Int64) -> Void,
        onSyncFailure: @escaping @Sendable (_ from: Int64, StoreError) -> Void = { _, _ in }
    ) {
        self.backend = backend
        self.onSyncFailure = onSyncFailure
        self.published = published
        syncedThrough = published
        self.logger = logger
        self.onPublish = onPublish
    }

    func start() { queue.start(name: "kelson-follower") { [self] in run() } }
    func stop() { queue.stop() }

    /// Queues a group this process committed (the committer's queue bounds how many there can be).
    func enqueue(_ batch: SyncBatch) { queue.enqueueUnbounded(batch) }

    /// Another process may have committed: read the log now.
    func wake() { queue.wake() }

    private func run() {
        var retryAt: Date?
        while true {
            let next = queue.next(until: retryAt)
            let batches = next.items
            let readHead = next.woken || retryAt != nil
            if next.done && batches.isEmpty { break }

            var target = published
            for batch in batches {
                held.append(contentsOf: batch.committed.filter { $0.revision > published })
                target = max(target, batch.head)
                // The syncer forwards a group only after a sync that began after its commit; the revisions below
                // it were committed earlier still (the log's lock orders every process's commits), so that sync
                // made them durable too.
                syncedThrough = max(syncedThrough, batch.head)
            }
            held.sort { $0.revision < $1.revision }
            let ok = publish(through: target, readingHead: readHead)
            retryAt = ok && held.isEmpty ? nil : Date().addingTimeInterval(0.05)
            // Committed either way; only publication may lag.
            for batch in batches {
                for acknowledgement in batch.acknowledgements {
                    acknowledgement.write.completion(acknowledgement.outcome)
                }
            }
        }
    }

    /// Publishes every revision up to `target` in order (and, with `readingHead`, up to the log's head as well,
    /// learned in the same snapshot as the first read); false when the log could not be read or synced.
    private func publish(through initialTarget: Int64, readingHead: Bool) -> Bool {
        var target = initialTarget
        var mustRead = readingHead
        while published < target || mustRead {
            held.removeAll { $0.revision <= published }
            if let first = held.first, first.revision == published + 1 {
                var run = 0
                while run < held.count && held[run].revision == published + 1 + Int64(run) { run += 1 }
                let revisions = Array(held.prefix(run))
                held.removeFirst(run)
                published = revisions.last!.revision
                onPublish(revisions, published)
                continue
            }
            // Up to the next held revision; with no bound known yet (a head read), as far as the log goes.
            let bound = held.first.map { $0.revision - 1 } ?? (mustRead ? Int64.max : target)
            let changes: [Change]
            let head: Int64
            do {
                // Watchers asking for prev_kv need the state one revision earlier.
                (changes, head) = try backend.followerRead(from: published + 1, through: bound, limit: readLimit)
            } catch {
                logger.warning(
                    "cannot read the log to publish other processes' writes; retrying",
                    metadata: ["error": "\(error)"])
                return false
            }
            mustRead = false
            target = max(target, head)
            let through = min(bound, head)
            if through <= published { continue }
            // Another process's commit may be visible before it is durable (its commit does not wait for the
            // flush): make it durable before any watcher sees it. Not needed below a revision this process
            // already synced, which is the common case while this process writes too.
            if backend.defersDurability, (changes.last?.revision ?? through) > syncedThrough {
                do {
                    try backend.sync()
                } catch {
                    logger.warning(
                        "cannot sync before publishing other processes' writes; retrying",
                        metadata: ["error": "\(error)"])
                    // What the database did not flush may be lost, and its revision numbers used again.
                    onSyncFailure(syncedThrough + 1, (error as? StoreError) ?? StoreError(.unavailable, "\(error)"))
                    return false
                }
                // The sync began after this snapshot, so it covers everything the snapshot held.
                syncedThrough = max(syncedThrough, head)
            }
            guard let firstRevision = changes.first?.revision, firstRevision == published + 1 else {
                // Compacted away (or never written): nothing to deliver below the next revision that exists.
                let next = changes.first?.revision ?? through + 1
                logger.warning("log revisions \(published + 1)..<\(next) are gone; watchers skip them")
                published = next - 1
                continue
            }
            var revisions: [CommittedRevision] = []
            for change in changes {
                if revisions.last?.revision == change.revision {
                    revisions[revisions.count - 1].changes.append(change)
                } else {
                    revisions.append(CommittedRevision(revision: change.revision, changes: [change]))
                }
            }
            published = revisions.last!.revision
            onPublish(revisions, published)
        }
        return true
    }
}
