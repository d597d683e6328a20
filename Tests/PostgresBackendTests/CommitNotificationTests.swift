import CLibPQ
import Foundation
import Glibc
import RevisionLog
import RevisionLogTesting
import Synchronization
import Testing

@testable import PostgresBackend

/// Commit notifications between processes (see `CommitListener`): a commit sends its NOTIFY only while another
/// Kelson process listens, and that NOTIFY is what brings the commit to the other process's watchers at once.
/// Both stores poll only every 10 minutes here, so only a notification can deliver in time.
@Suite("PostgreSQL commit notifications", .serialized)
struct CommitNotificationTests {
    @Test("a process alone sends no NOTIFY; with a peer its commits reach the peer by NOTIFY; a closed peer is dropped")
    func notificationsFollowPeers() async throws {
        let database = try TestDatabase()
        defer { withExtendedLifetime(database) {} }
        var configuration = PostgresConfiguration(url: database.url)
        configuration.fallbackPollInterval = .seconds(600)
        let firstBackend = try PostgresBackend(configuration: configuration)
        let first = try Store(
            backend: firstBackend,
            configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        defer { first.close() }
        // A plain listener that never says hello: Kelson does not count it as a peer.
        let spy = try NotificationSpy(url: database.url, channel: firstBackend.channel)
        defer { spy.close() }

        _ = try await first.put(PutRequest(key: Array("alone".utf8), value: [1]))
        #expect(try spy.commitsSinceLastCheck() == 0, "a lone process sent a NOTIFY for its commit")

        let second = try Store(
            backend: try PostgresBackend(configuration: configuration),
            configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        let seen = Mutex<Set<Int64>>([])
        second.observeCommits { revisions in seen.withLock { $0.formUnion(revisions.map(\.revision)) } }
        // Past the newcomer's catch-up read: from here only a notification wakes it before the poll.
        try await Task.sleep(for: .seconds(1.5))

        let written = try await first.put(PutRequest(key: Array("shared".utf8), value: [2])).revision
        let deadline = ContinuousClock.now + .seconds(30)
        while !seen.withLock({ $0.contains(written) }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(seen.withLock { $0.contains(written) }, "the other process's watchers never saw the commit")
        #expect(try spy.commitsSinceLastCheck() >= 1, "a process with a listening peer sent no NOTIFY")
        #expect(spy.hellos.count == 2, "both processes announce themselves")

        second.close()
        // The peer stops saying hello; after the peer timeout (5 s) the writer stops notifying.
        try await Task.sleep(for: .seconds(6.5))
        _ = try await first.put(PutRequest(key: Array("alone-again".utf8), value: [3]))
        #expect(try spy.commitsSinceLastCheck() == 0, "a process kept notifying a peer that is gone")
    }
}

/// A raw libpq connection that LISTENs on a store's channel and sorts what arrives into hellos and commits.
/// `commitsSinceLastCheck` is exact without waiting: it sends a marker NOTIFY of its own and reads until the
/// marker arrives; notifications are delivered in commit order, so any commit notification sent before the
/// marker's transaction committed has arrived by then.
private final class NotificationSpy {
    private let connection: PostgresConnection
    private let channel: String
    private(set) var hellos: Set<String> = []
    private var commits = 0

    init(url: String, channel: String) throws {
        self.channel = channel
        connection = try PostgresConnection(url: url)
        try connection.execute("LISTEN \(channel)")
    }

    func close() { connection.close() }

    func commitsSinceLastCheck() throws -> Int {
        let marker = "marker \(UUID().uuidString)"
        try connection.execute("SELECT pg_notify('\(channel)', '\(marker)')")
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard let handle = connection.handle, PQconsumeInput(handle) == 1 else {
                throw StoreError(.unavailable, "the spy lost its connection")
            }
            while let notification = PQnotifies(handle) {
                let payload = String(cString: notification.pointee.extra)
                PQfreemem(notification)
                if payload == marker {
                    defer { commits = 0 }
                    return commits
                }
                if payload.hasPrefix(CommitListener.helloPrefix) {
                    hellos.insert(payload)
                } else if !payload.hasPrefix("marker ") {
                    commits += 1
                }
            }
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, 100)
        }
        throw StoreError(.unavailable, "the spy's own marker never arrived")
    }
}
