import CLibPQ
import Foundation
import Glibc
import RevisionLog
import Synchronization

/// Wakes the store's log follower when another process commits: a dedicated connection runs
/// `LISTEN kelson_log` and waits on its socket. Notifications carry the writer's token, so a process's own
/// commits (which its committer already published) do not wake it. The log stays the source of truth: a
/// wake-up only makes the follower read new revisions now; it also wakes on a slow poll and after the
/// connection came back, so a lost notification costs latency, never an event.
final class CommitListener: Sendable {
    private let connector: Connector
    private let token: String
    private let fallbackPoll: Duration
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)

    init(connector: Connector, token: String, fallbackPoll: Duration) {
        self.connector = connector
        self.token = token
        self.fallbackPoll = fallbackPoll
    }

    func start(_ wake: @escaping @Sendable () -> Void) {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            run(wake)
            finished.signal()
        }
        thread.name = "kelson-pg-listener"
        thread.start()
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        if started.load(ordering: .acquiring) { finished.wait() }
    }

    private func run(_ wake: @Sendable () -> Void) {
        var connection: PostgresConnection?
        var lastWake = ContinuousClock.now
        while !stopping.load(ordering: .acquiring) {
            if connection == nil || !connection!.isHealthy {
                connection?.close()
                connection = nil
                do {
                    let fresh = try connector.connect()
                    try fresh.execute("LISTEN \(PostgresSchema.channel)")
                    connection = fresh
                    // Commits made while nobody listened: read them now.
                    wake()
                    lastWake = .now
                } catch {
                    Thread.sleep(forTimeInterval: 0.1)
                    continue
                }
            }
            guard let current = connection, let handle = current.handle else { continue }
            // Short waits so `stop` is prompt.
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 100)
            var woken = false
            if ready > 0 {
                if PQconsumeInput(handle) == 0 {
                    connection?.close()
                    connection = nil
                    continue
                }
                while let notification = PQnotifies(handle) {
                    let payload = String(cString: notification.pointee.extra)
                    PQfreemem(notification)
                    if payload != token { woken = true }
                }
            }
            if woken || ContinuousClock.now - lastWake >= fallbackPoll {
                wake()
                lastWake = .now
            }
        }
        connection?.close()
    }
}
