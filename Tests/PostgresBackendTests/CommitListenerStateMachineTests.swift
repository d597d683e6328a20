import Testing

@testable import PostgresBackend

/// `CommitListenerStateMachine` alone: no database, no clock (every instant is an offset from `start`).
@Suite("Commit listener state machine")
struct CommitListenerStateMachineTests {
    typealias Machine = CommitListenerStateMachine
    let start = ContinuousClock.now
    let token = "self"

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    /// A machine connected at `start`, with its catch-up read done (at 250 ms, answered with a wait until the
    /// heartbeat at 1 s).
    func listening(fallbackPoll: Duration = .seconds(10)) -> Machine {
        var machine = Machine(token: token, fallbackPoll: fallbackPoll)
        _ = machine.start()
        _ = machine.connected(at: at(0))
        #expect(machine.timerFired(at: at(250)) == [.wakeFollower, .notifyMetadataObservers, .wait(until: at(1_000))])
        return machine
    }

    @Test("connecting: start connects, a new connection wakes both observers, then reads again after the catch-up")
    func connects() {
        var machine = Machine(token: token, fallbackPoll: .seconds(10))
        #expect(machine.start() == [.connect])
        #expect(machine.connected(at: at(0)) == [.wakeFollower, .notifyMetadataObservers, .wait(until: at(250))])
        #expect(machine.timerFired(at: at(250)) == [.wakeFollower, .notifyMetadataObservers, .wait(until: at(1_000))])
        #expect(!machine.othersListen)
    }

    @Test("this process's own commits, metadata changes and hellos are ignored; nobody else counts as listening")
    func ownNotificationsIgnored() {
        var machine = listening()
        let answer = machine.notificationsReceived([token, "hello \(token)", "meta \(token)"], at: at(300))
        #expect(answer == [.wait(until: at(1_000))])
        #expect(!machine.othersListen)
    }

    @Test("another process's commit wakes the follower once per batch; its sender now counts as listening")
    func otherCommitWakesFollower() {
        var machine = listening()
        #expect(machine.notificationsReceived(["other"], at: at(300)) == [.wakeFollower, .wait(until: at(1_000))])
        #expect(machine.othersListen)
        let batch = ["other", token, "third", "other"]
        #expect(machine.notificationsReceived(batch, at: at(400)) == [.wakeFollower, .wait(until: at(1_000))])
    }

    @Test("another process's metadata change notifies the metadata observers only; with a commit, both")
    func metadataNotification() {
        var machine = listening()
        let metadata = machine.notificationsReceived(["meta other"], at: at(300))
        #expect(metadata == [.notifyMetadataObservers, .wait(until: at(1_000))])
        let both = machine.notificationsReceived(["meta other", "other"], at: at(400))
        #expect(both == [.wakeFollower, .notifyMetadataObservers, .wait(until: at(1_000))])
    }

    @Test("hellos: one at once to a newcomer (not to a known peer), one every second after the last one sent")
    func helloSchedule() {
        var machine = listening()
        // A newcomer's hello is answered at once, which moves the next heartbeat.
        #expect(machine.notificationsReceived(["hello peer"], at: at(400)) == [.sendHello, .wait(until: at(1_400))])
        #expect(machine.othersListen)
        // Its next hello, and a hello from a process first heard through its commit, are not answered.
        #expect(machine.notificationsReceived(["hello peer"], at: at(900)) == [.wait(until: at(1_400))])
        #expect(machine.notificationsReceived(["writer"], at: at(1_000)) == [.wakeFollower, .wait(until: at(1_400))])
        #expect(machine.notificationsReceived(["hello writer"], at: at(1_100)) == [.wait(until: at(1_400))])
        // Heartbeats.
        #expect(machine.timerFired(at: at(1_400)) == [.sendHello, .wait(until: at(2_400))])
        #expect(machine.timerFired(at: at(2_400)) == [.sendHello, .wait(until: at(3_400))])
        // Several newcomers in one batch get one answer.
        let newcomers = machine.notificationsReceived(["hello a", "hello b"], at: at(2_500))
        #expect(newcomers == [.sendHello, .wait(until: at(3_500))])
    }

    @Test("a peer not heard for 5 s is gone: the wait ends at its timeout and nobody else listens any more")
    func peersTimeOut() {
        var machine = listening()
        #expect(machine.notificationsReceived(["hello peer"], at: at(300)) == [.sendHello, .wait(until: at(1_300))])
        var now = 300
        while now + 1_000 < 5_300 {
            now += 1_000
            #expect(machine.timerFired(at: at(now)) == [.sendHello, .wait(until: at(now + 1_000))])
            #expect(machine.othersListen)
        }
        #expect(now == 4_300)
        // The next heartbeat (5.3 s) and the peer's timeout (300 ms + 5 s) fall together.
        #expect(machine.timerFired(at: at(5_300)) == [.sendHello, .wait(until: at(6_300))])
        #expect(!machine.othersListen)
    }

    @Test("the fallback poll wakes both observers every interval after the last such wake, notifications or not")
    func fallbackPoll() {
        var machine = listening(fallbackPoll: .milliseconds(2_500))
        #expect(machine.timerFired(at: at(1_000)) == [.sendHello, .wait(until: at(2_000))])
        // A wake by notification does not move the poll.
        #expect(machine.notificationsReceived(["other"], at: at(1_500)) == [.wakeFollower, .wait(until: at(2_000))])
        #expect(machine.timerFired(at: at(2_000)) == [.sendHello, .wait(until: at(2_500))])
        #expect(
            machine.timerFired(at: at(2_500)) == [.wakeFollower, .notifyMetadataObservers, .wait(until: at(3_000))])
        #expect(machine.timerFired(at: at(3_000)) == [.sendHello, .wait(until: at(4_000))])
        // The poll also covers what a batch at that instant would have woken, once.
        let due = machine.notificationsReceived(["other", "meta other"], at: at(5_000))
        #expect(due == [.sendHello, .wakeFollower, .notifyMetadataObservers, .wait(until: at(6_000))])
    }

    @Test("a fallback poll below 100 ms is 100 ms, the pace of the listener's waits")
    func fallbackPollMinimum() {
        var machine = Machine(token: token, fallbackPoll: .zero)
        _ = machine.start()
        #expect(machine.connected(at: at(0)) == [.wakeFollower, .notifyMetadataObservers, .wait(until: at(100))])
        #expect(machine.timerFired(at: at(100)) == [.wakeFollower, .notifyMetadataObservers, .wait(until: at(200))])
    }

    @Test("a lost connection is replaced at once and, once it is back, both observers are woken")
    func reconnectAfterLoss() {
        var machine = listening()
        #expect(machine.notificationsReceived(["hello peer"], at: at(300)) == [.sendHello, .wait(until: at(1_300))])
        #expect(machine.connectionLost(at: at(500)) == [.closeConnection, .connect])
        // Peers are kept across the gap; a new connection starts a new catch-up and hello schedule.
        #expect(machine.othersListen)
        #expect(machine.connected(at: at(600)) == [.wakeFollower, .notifyMetadataObservers, .wait(until: at(850))])
        #expect(machine.timerFired(at: at(850)) == [.wakeFollower, .notifyMetadataObservers, .wait(until: at(1_600))])
    }

    @Test("a failed attempt is retried after 100 ms; a failed hello on a listening connection replaces it at once")
    func failedAttempts() {
        var machine = Machine(token: token, fallbackPoll: .seconds(10))
        #expect(machine.start() == [.connect])
        #expect(machine.connectFailed(at: at(0)) == [.closeConnection, .wait(until: at(100))])
        // Nothing arrives without a connection, and an early wake-up waits on.
        #expect(machine.notificationsReceived(["other"], at: at(50)) == [.wait(until: at(100))])
        #expect(machine.timerFired(at: at(100)) == [.connect])
        #expect(machine.connectFailed(at: at(150)) == [.closeConnection, .wait(until: at(250))])
        #expect(machine.timerFired(at: at(250)) == [.connect])
        #expect(machine.connected(at: at(300)) == [.wakeFollower, .notifyMetadataObservers, .wait(until: at(550))])
        // The heartbeat's NOTIFY fails: `connectionLost`.
        #expect(machine.timerFired(at: at(550)) == [.wakeFollower, .notifyMetadataObservers, .wait(until: at(1_300))])
        #expect(machine.timerFired(at: at(1_300)) == [.sendHello, .wait(until: at(2_300))])
        #expect(machine.connectionLost(at: at(1_310)) == [.closeConnection, .connect])
        #expect(machine.connected(at: at(1_400)) == [.wakeFollower, .notifyMetadataObservers, .wait(until: at(1_650))])
    }
}
