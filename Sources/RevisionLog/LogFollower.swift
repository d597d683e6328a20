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
    private let backend: any LogBackend
    private let logger: Logger
    private let onPublish: @Sendable ([CommittedRevision], Int64) -> Void
    /// Revisions read from the log per round (whole revisions, so a little more).
    private let readLimit = 1_000

    // Guarded by `worker.condition`.
    private let worker = WorkerThread()
    private var condition: NSCondition { worker.condition }
    private var queue: [SyncBatch] = []
    private var woken = false

    // Owned by the follower thread.
    private var published: Int64
    private var held: [CommittedRevision] = []

    init(
        backend: any LogBackend, published: Int64, logger: Logger,
        onPublish: @escaping @Sendable ([CommittedRevision], Int64) -> Void
    ) {
        self.backend = backend
        self.published = published
        self.logger = logger
        self.onPublish = onPublish
    }

    func start() { worker.start(name: "kelson-follower") { [self] in run() } }
    func stop() { worker.stop() }

    func enqueue(_ batch: SyncBatch) {
        condition.lock()
        queue.append(batch)
        condition.signal()
        condition.unlock()
    }

    /// Another process may have committed: read the log now.
    func wake() {
        condition.lock()
        woken = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        var retryAt: Date?
        while true {
            condition.lock()
            while queue.isEmpty && !woken && !worker.stopping {
                if let retryAt {
                    if !condition.wait(until: retryAt) { break }
                } else {
                    condition.wait()
                }
            }
            let batches = queue
            queue = []
            let readHead = woken || retryAt != nil
            woken = false
            let done = worker.stopping && batches.isEmpty
            condition.unlock()
            if done { break }

            var target = published
            for batch in batches {
                held.append(contentsOf: batch.committed.filter { $0.revision > published })
                target = max(target, batch.head)
            }
            held.sort { $0.revision < $1.revision }
            var ok = true
            if readHead {
                do {
                    target = max(target, try backend.read { $0.revision })
                } catch {
                    ok = false
                }
            }
            if ok { ok = publish(through: target) }
            retryAt = ok && held.isEmpty ? nil : Date().addingTimeInterval(0.05)
            // Committed either way; only publication may lag.
            for batch in batches {
                for acknowledgement in batch.acknowledgements {
                    acknowledgement.write.completion(acknowledgement.outcome)
                }
            }
        }
    }

    /// Publishes every revision up to `target` in order; false when the log could not be read.
    private func publish(through target: Int64) -> Bool {
        while published < target {
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
            let through = min(target, (held.first?.revision ?? target + 1) - 1)
            let changes: [Change]
            do {
                // Watchers asking for prev_kv need the state one revision earlier.
                changes = try backend.read { reader in
                    try reader.changesWithPrevious(from: published + 1, through: through, limit: readLimit)
                }
            } catch {
                logger.warning(
                    "cannot read the log to publish other processes' writes; retrying",
                    metadata: ["error": "\(error)"])
                return false
            }
            // Another process's commit may be visible before it is durable (its commit does not wait for the
            // flush): make it durable before any watcher sees it.
            if backend.defersDurability {
                do {
                    try backend.sync()
                } catch {
                    logger.warning(
                        "cannot sync before publishing other processes' writes; retrying",
                        metadata: ["error": "\(error)"])
                    return false
                }
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
