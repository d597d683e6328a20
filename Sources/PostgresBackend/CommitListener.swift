import CLibPQ
import Foundation
import Glibc
import RevisionLog
import Synchronization

/// Wakes the store's log follower when another process commits: a dedicated connection runs
/// `LISTEN` on the store's channel (`PostgresSchema.channelQuery`) and waits on its socket. Notifications carry the writer's token, so a process's own
/// commits (which its committer already published) do not wake it. The log stays the source of truth: a
/// wake-up only makes the follower read new revisions now; it also wakes on a slow poll and after the
/// connection came back, so a lost notification costs latency, never an event.
///
/// A commit's NOTIFY costs every commit PostgreSQL's notification lock and a wake-up of each listening backend,
/// so a process sends it only while another process listens (`othersListen`). Listeners say so with
/// `hello <token>` notifications: one when they connect (answered at once by every process that did not know
/// them, so both sides know each other within a round trip) and one every `heartbeat`. A process that has not
/// been heard for `peerTimeout` counts as gone. Until a newcomer is known its peers' commits are not notified, so
/// the newcomer reads the log once more shortly after its hello; the slow poll covers anything later still.
///
/// A transaction that changed a metadata value (auth state, alarms) also sends `meta <token>`, so other processes
/// read those values again at once (and on the slow poll in any case).
final class CommitListener: Sendable {
    private let connector: Connector
    private let channel: String
    private let token: String
    private let fallbackPoll: Duration
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)
    private let othersListening = Atomic<Bool>(false)
    private static let heartbeat: Duration = .seconds(1)
    private static let peerTimeout: Duration = .seconds(5)
    /// After its hello, a newcomer reads the log again this much later: commits whose writers had not yet heard
    /// the hello were not notified.
    private static let catchUp: Duration = .milliseconds(250)
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

    /// `commits` and `metadata` as in `SharedLogBackend.watchExternalChanges`.
    private func run(commits: @Sendable () -> Void, metadata: @Sendable () -> Void) {
        // Everything may have changed unseen: after (re)connecting and on the slow poll.
        func wake() {
            commits()
            metadata()
        }
        var connection: PostgresConnection?
        var lastWake = ContinuousClock.now
        var lastHello = ContinuousClock.now
        var catchUpAt: ContinuousClock.Instant?
        var helloSent = true
        var peers: [String: ContinuousClock.Instant] = [:]
        let hello = "SELECT pg_notify('\(channel)', '\(Self.helloPrefix)\(token)')"
        while !stopping.load(ordering: .acquiring) {
            if connection == nil || !connection!.isHealthy {
                connection?.close()
                connection = nil
                do {
                    let fresh = try connector.connect()
                    try fresh.execute("LISTEN \(channel)")
                    try fresh.execute(hello)
                    connection = fresh
                    // Commits made while nobody listened: read them now, and again once every peer heard the hello.
                    wake()
                    lastWake = .now
                    lastHello = .now
                    helloSent = true
                    catchUpAt = .now + Self.catchUp
                } catch {
                    Thread.sleep(forTimeInterval: 0.1)
                    continue
                }
            }
            guard let current = connection, let handle = current.handle else { continue }
            // Short waits so `stop` is prompt.
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            // No wait right after a hello: notifications may already sit in libpq's buffer.
            let ready = poll(&descriptor, 1, helloSent ? 0 : 100)
            helloSent = false
            var woken = false
            var metadataChanged = false
            var answer = false
            if ready > 0 && PQconsumeInput(handle) == 0 {
                connection?.close()
                connection = nil
                continue
            }
            // Also what libpq already buffered while this thread sent its hello (the socket shows nothing then).
            let received = ContinuousClock.now
            while let notification = PQnotifies(handle) {
                let payload = String(cString: notification.pointee.extra)
                PQfreemem(notification)
                let isHello = payload.hasPrefix(Self.helloPrefix)
                let isMetadata = payload.hasPrefix(Self.metadataPrefix)
                let sender =
                    isHello
                    ? String(payload.dropFirst(Self.helloPrefix.count))
                    : isMetadata ? String(payload.dropFirst(Self.metadataPrefix.count)) : payload
                guard sender != token else { continue }
                if peers.updateValue(received, forKey: sender) == nil && isHello { answer = true }
                if isMetadata { metadataChanged = true } else if !isHello { woken = true }
            }
            let now = ContinuousClock.now
            if answer || now - lastHello >= Self.heartbeat {
                do {
                    try current.execute(hello)
                } catch {
                    connection?.close()
                    connection = nil
                    continue
                }
                lastHello = now
                helloSent = true
            }
            peers = peers.filter { now - $0.value < Self.peerTimeout }
            othersListening.store(!peers.isEmpty, ordering: .relaxed)
            if let due = catchUpAt, now >= due {
                woken = true
                metadataChanged = true
                catchUpAt = nil
            }
            if now - lastWake >= fallbackPoll {
                wake()
                lastWake = now
            } else {
                if woken { commits() }
                if metadataChanged { metadata() }
            }
        }
        connection?.close()
    }
}
