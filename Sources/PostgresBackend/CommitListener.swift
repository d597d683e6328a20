import CLibPQ
import Foundation
import Glibc
import RevisionLog
import Synchronization

/// Wakes the store's log follower when another process commits: a dedicated connection runs `LISTEN` on the
/// store's channel (`PostgresSchema.channelQuery`) and waits on its socket. Notifications carry the writer's token,
/// so a process's own commits (which its committer already published) do not wake it. The log stays the source of
/// truth: a wake-up only makes the follower read new revisions now; it also wakes on a slow poll and after the
/// connection came back, so a lost notification costs latency, never an event.
///
/// A commit's NOTIFY costs every commit PostgreSQL's notification lock and a wake-up of each listening backend,
/// so a process sends it only while another process listens (`othersListen`). Listeners say so with
/// `hello <token>` notifications: one when they connect (answered at once by every process that did not know
/// them, so both sides know each other within a round trip) and one every second (`heartbeat`). A process that
/// has not been heard for 5 s (`peerTimeout`) counts as gone. Until a newcomer is known its peers' commits are not
/// notified, so the newcomer reads the log once more shortly after its hello; the slow poll covers anything later
/// still.
///
/// A transaction that changed a metadata value (auth state, alarms) also sends `meta <token>`, so other processes
/// read those values again at once (and on the slow poll in any case).
///
/// What to do when is decided by `CommitListenerStateMachine`, which does no I/O; this class performs its actions
/// with libpq on a thread of its own.
final class CommitListener: Sendable {
    private let connector: Connector
    private let channel: String
    private let token: String
    private let fallbackPoll: Duration
    private let helloQuery: String
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)
    private let othersListening = Atomic<Bool>(false)
    /// Notifications handed to the state machine at once; more wait for its next answer.
    private static let notificationBatchMaximum = 1_000
    static let helloPrefix = "hello "
    /// Payload prefix of a metadata change (auth state, alarms): other processes read those values again.
    static let metadataPrefix = "meta "

    /// True while another process listens for commits, so a commit should send its NOTIFY.
    var othersListen: Bool { othersListening.load(ordering: .relaxed) }

    init(connector: Connector, channel: String, token: String, fallbackPoll: Duration) {
        self.connector = connector
        self.channel = channel
        self.token = token
        self.fallbackPoll = fallbackPoll
        helloQuery = "SELECT pg_notify('\(channel)', '\(Self.helloPrefix)\(token)')"
    }

    func start(commits: @escaping @Sendable () -> Void, metadata: @escaping @Sendable () -> Void) {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Thread { [self] in
            nameCurrentThread("kelson-pg-listen")
            run(commits: commits, metadata: metadata)
            finished.signal()
        }.start()
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        if started.load(ordering: .acquiring) { finished.wait() }
    }

    /// `commits` and `metadata` as in `SharedLogBackend.watchExternalChanges`. Performs what the state machine
    /// decides (see `CommitListenerStateMachine`) until `stop`.
    private func run(commits: @Sendable () -> Void, metadata: @Sendable () -> Void) {
        var machine = CommitListenerStateMachine(token: token, fallbackPoll: fallbackPoll)
        var connection: PostgresConnection?
        var actions = machine.start()
        while !stopping.load(ordering: .acquiring) {
            actions = perform(actions, &machine, &connection, commits: commits, metadata: metadata)
            othersListening.store(machine.othersListen, ordering: .relaxed)
        }
        connection?.close()
    }

    /// Performs `actions` in order up to the one whose outcome is the next event (a connection attempt, a wait, a
    /// failed hello), and returns the machine's answer to that event.
    private func perform(
        _ actions: [CommitListenerStateMachine.Action], _ machine: inout CommitListenerStateMachine,
        _ connection: inout PostgresConnection?, commits: @Sendable () -> Void, metadata: @Sendable () -> Void
    ) -> [CommitListenerStateMachine.Action] {
        for action in actions {
            switch action {
            case .connect:
                do {
                    let fresh = try connector.connect()
                    connection = fresh
                    try fresh.execute("LISTEN \(channel)")
                    try fresh.execute(helloQuery)
                    return machine.connected(at: .now)
                } catch {
                    return machine.connectFailed(at: .now)
                }
            case .sendHello:
                do {
                    guard let connection else { throw StoreError.stopped }
                    try connection.execute(helloQuery)
                } catch {
                    return machine.connectionLost(at: .now)
                }
            case .closeConnection:
                connection?.close()
                connection = nil
            case .wakeFollower: commits()
            case .notifyMetadataObservers: metadata()
            case .wait(let deadline): return wait(until: deadline, on: connection, &machine)
            }
        }
        assertionFailure("an answer of CommitListenerStateMachine ended without .connect or .wait")
        return machine.timerFired(at: .now)
    }

    /// Waits for notifications on `connection` (without one, only for the time) until `deadline`, in slices of at
    /// most 100 ms so `stop` is prompt, and returns the machine's answer to what happened. Returns nothing once
    /// stopping.
    private func wait(
        until deadline: ContinuousClock.Instant, on connection: PostgresConnection?,
        _ machine: inout CommitListenerStateMachine
    ) -> [CommitListenerStateMachine.Action] {
        while !stopping.load(ordering: .acquiring) {
            if let connection {
                guard connection.isHealthy, let handle = connection.handle else {
                    return machine.connectionLost(at: .now)
                }
                // First what libpq already holds (read while this thread sent a hello, say): the socket shows
                // nothing for it.
                let payloads = Self.takeNotifications(handle)
                if !payloads.isEmpty { return machine.notificationsReceived(payloads, at: .now) }
            }
            let now = ContinuousClock.now
            if now >= deadline { return machine.timerFired(at: now) }
            let slice = min(deadline - now, .milliseconds(100))
            if let handle = connection?.handle {
                var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
                if poll(&descriptor, 1, Self.milliseconds(slice)) > 0 && PQconsumeInput(handle) == 0 {
                    return machine.connectionLost(at: .now)
                }
            } else {
                Thread.sleep(forTimeInterval: Double(Self.milliseconds(slice)) / 1_000)
            }
        }
        return []
    }

    /// The payloads of the notifications libpq has parsed, in order: at most `notificationBatchMaximum`, the rest
    /// stay for the next call.
    private static func takeNotifications(_ handle: OpaquePointer) -> [String] {
        var payloads: [String] = []
        while payloads.count < notificationBatchMaximum, let notification = PQnotifies(handle) {
            payloads.append(String(cString: notification.pointee.extra))
            PQfreemem(notification)
        }
        return payloads
    }

    /// `duration` in whole milliseconds, rounded up so a wait never ends just before its deadline.
    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        return Int32(max(seconds * 1_000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000, 0))
    }
}
