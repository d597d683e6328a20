/// The decisions of `CommitListener`, without I/O: it is told what happened (a connection came up or was lost,
/// notifications arrived, a wait ended) at which instant, and answers what to do, in order. It never reads a clock,
/// so tests drive it with instants of their own.
///
/// Every answer ends in `.connect` or `.wait(until:)`, whose outcome is the next event; a failure of an action
/// before that (`.sendHello`) is `connectionLost(at:)`, and the rest of the list is dropped.
///
/// Rules (see `CommitListener` for why):
/// - A notification whose sender is this process's token is its own (its committer already published the
///   commit): ignored, and its sender is not a peer.
/// - Any other sender is a peer, heard now. A hello from a peer not known yet is answered with a hello at once; every
///   listener also says hello every `heartbeat`. A peer not heard for `peerTimeout` is gone; `othersListen` is
///   true while one is known.
/// - Another process's commit wakes the follower, its metadata change the metadata observers (once per batch).
/// - After a connection came up both are woken (commits made while nobody listened), and again `catchUp` later
///   (commits of peers that had not yet heard the hello were not notified).
/// - Both are woken every `fallbackPoll` after the last time both were (a connection coming up or this poll).
/// - A failed connection attempt is retried after `reconnectDelay`; an established connection that is lost is
///   replaced at once.
struct CommitListenerStateMachine {
    typealias Instant = ContinuousClock.Instant

    enum Action: Equatable {
        /// Open a connection, `LISTEN` on the store's channel and send a hello there (a listener announces itself
        /// whenever it connects). Then report `connected(at:)`, or `connectFailed(at:)` if any step failed.
        case connect
        /// Send `hello <token>` on the channel: an answer to a newcomer, or the heartbeat.
        case sendHello
        /// Close the connection (its `LISTEN` ends with it).
        case closeConnection
        /// Make the log follower read new revisions now (`commits`).
        case wakeFollower
        /// Make the metadata observers read their values again (`metadata`).
        case notifyMetadataObservers
        /// Until the instant, wait for notifications on the connection (without one, just wait); then report
        /// `notificationsReceived(_:at:)`, `timerFired(at:)` or `connectionLost(at:)`.
        case wait(until: Instant)
    }

    static let heartbeat: Duration = .seconds(1)
    static let peerTimeout: Duration = .seconds(5)
    /// After its hello, a newcomer reads the log again this much later: commits whose writers had not yet heard
    /// the hello were not notified.
    static let catchUp: Duration = .milliseconds(250)
    /// Pause after a failed connection attempt.
    static let reconnectDelay: Duration = .milliseconds(100)
    /// The shortest fallback poll: the listener never woke its observers faster than its 100 ms wait.
    static let fallbackPollMinimum: Duration = .milliseconds(100)

    private enum Connection {
        /// `.connect` was handed out.
        case connecting
        /// Connected and listening.
        case listening
        /// A connection attempt failed; the next one is due at the instant.
        case retrying(at: Instant)
    }

    private let token: String
    private let fallbackPoll: Duration
    private var connection = Connection.connecting
    /// When both observers were last woken (a connection came up, or the fallback poll).
    private var lastWake: Instant?
    private var lastHello: Instant?
    private var catchUpAt: Instant?
    /// Other processes' tokens and when each was last heard.
    private var peers: [String: Instant] = [:]

    /// True while another process listens for commits, so a commit should send its NOTIFY.
    var othersListen: Bool { !peers.isEmpty }

    init(token: String, fallbackPoll: Duration) {
        self.token = token
        self.fallbackPoll = max(fallbackPoll, Self.fallbackPollMinimum)
    }

    /// The first action: connect.
    mutating func start() -> [Action] {
        connection = .connecting
        return [.connect]
    }

    /// `.connect` succeeded: the connection listens and this process's hello is sent.
    mutating func connected(at now: Instant) -> [Action] {
        connection = .listening
        lastWake = now
        lastHello = now
        // Commits made while nobody listened: read them now, and again once every peer heard the hello.
        catchUpAt = now + Self.catchUp
        return [.wakeFollower, .notifyMetadataObservers, .wait(until: deadline(after: now))]
    }

    /// `.connect` failed at some step.
    mutating func connectFailed(at now: Instant) -> [Action] {
        let retry = now + Self.reconnectDelay
        connection = .retrying(at: retry)
        return [.closeConnection, .wait(until: retry)]
    }

    /// The established connection failed (or a hello on it did).
    mutating func connectionLost(at now: Instant) -> [Action] {
        guard case .listening = connection else { return connectFailed(at: now) }
        connection = .connecting
        return [.closeConnection, .connect]
    }

    /// Notifications arrived on the channel, in order: their payloads, all taken at `now`.
    mutating func notificationsReceived(_ payloads: [String], at now: Instant) -> [Action] {
        switch connection {
        case .listening: return react(to: payloads, at: now)
        // Without a connection nothing arrives; should it, the machine carries on as it was.
        case .connecting: return [.connect]
        case .retrying(let retry): return [.wait(until: retry)]
        }
    }

    /// A wait ended at its instant (`now`, at or after it) with nothing received.
    mutating func timerFired(at now: Instant) -> [Action] {
        switch connection {
        case .listening: return react(to: [], at: now)
        case .connecting: return [.connect]
        case .retrying(let retry):
            guard now >= retry else { return [.wait(until: retry)] }
            connection = .connecting
            return [.connect]
        }
    }

    /// What a listening connection does with `payloads` (none when only time passed).
    private mutating func react(to payloads: [String], at now: Instant) -> [Action] {
        var actions: [Action] = []
        var commitsChanged = false
        var metadataChanged = false
        var answer = false
        for payload in payloads {
            let notification = Notification(payload: payload)
            guard notification.sender != token else { continue }
            if peers.updateValue(now, forKey: notification.sender) == nil && notification.kind == .hello {
                answer = true
            }
            switch notification.kind {
            case .commit: commitsChanged = true
            case .metadata: metadataChanged = true
            case .hello: break
            }
        }
        if answer || lastHello.map({ now - $0 >= Self.heartbeat }) ?? true {
            actions.append(.sendHello)
            lastHello = now
        }
        peers = peers.filter { now - $0.value < Self.peerTimeout }
        if let due = catchUpAt, now >= due {
            commitsChanged = true
            metadataChanged = true
            catchUpAt = nil
        }
        if lastWake.map({ now - $0 >= fallbackPoll }) ?? true {
            // Everything may have changed unseen.
            actions += [.wakeFollower, .notifyMetadataObservers]
            lastWake = now
        } else {
            if commitsChanged { actions.append(.wakeFollower) }
            if metadataChanged { actions.append(.notifyMetadataObservers) }
        }
        actions.append(.wait(until: deadline(after: now)))
        return actions
    }

    /// The first instant after `now` at which something is due: a heartbeat, the catch-up, the fallback poll or a
    /// peer's timeout.
    private func deadline(after now: Instant) -> Instant {
        var due = [
            (lastHello ?? now) + Self.heartbeat, (lastWake ?? now) + fallbackPoll,
        ]
        if let catchUpAt { due.append(catchUpAt) }
        if let oldest = peers.values.min() { due.append(oldest + Self.peerTimeout) }
        return due.min()!
    }

    /// A payload on the channel: `hello <token>`, `meta <token>`, or a commit's bare `<token>`.
    private struct Notification {
        enum Kind { case hello, metadata, commit }
        var kind: Kind
        var sender: String

        init(payload: String) {
            if payload.hasPrefix(CommitListener.helloPrefix) {
                (kind, sender) = (.hello, String(payload.dropFirst(CommitListener.helloPrefix.count)))
            } else if payload.hasPrefix(CommitListener.metadataPrefix) {
                (kind, sender) = (.metadata, String(payload.dropFirst(CommitListener.metadataPrefix.count)))
            } else {
                (kind, sender) = (.commit, payload)
            }
        }
    }
}
