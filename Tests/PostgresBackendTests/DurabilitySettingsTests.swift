import Foundation
import RevisionLog
import Testing

@testable import PostgresBackend

/// The server settings Kelson's durability rests on (see `PostgresBackend.sync` and `refuseNoFsync`): what it sets
/// itself, and what it refuses to run on.
@Suite("PostgreSQL durability settings")
struct DurabilitySettingsTests {
    @Test("the connection that syncs commits synchronously even when its role's default is off")
    func syncConnectionIsSynchronous() throws {
        // A role of its own, so no other test's connections inherit the default.
        let adminURL = try PostgresConnectionTests.url()
        let admin = try PostgresConnection(url: adminURL)
        defer { admin.close() }
        let role = "kelson_t_async_\(UInt32.random(in: 0...UInt32.max))"
        try admin.execute("CREATE ROLE \(role) LOGIN; CREATE SCHEMA \(role) AUTHORIZATION \(role)")
        defer { _ = try? admin.execute("DROP OWNED BY \(role) CASCADE; DROP ROLE \(role)") }
        var components = try #require(URLComponents(string: adminURL))
        components.user = role
        let url = TestDatabase.url(try #require(components.string), schema: role)

        for (roleDefault, expected) in [("off", "on"), ("local", "on"), ("remote_apply", "remote_apply")] {
            try admin.execute("ALTER ROLE \(role) SET synchronous_commit = \(roleDefault)")
            let plain = try PostgresConnection(url: url)
            let inherited = try plain.execute("SHOW synchronous_commit")
            plain.close()
            #expect(inherited == [[roleDefault]], "the role's default reaches a new session")

            let backend = try PostgresBackend(configuration: PostgresConfiguration(url: url))
            defer { backend.close() }
            try backend.sync()
            let setting = try backend.syncConnection.withLock { connection in
                try #require(connection).execute("SHOW synchronous_commit")
            }
            #expect(setting == [[expected]], "role default \(roleDefault)")
        }
    }

    @Test("a server running with fsync = off is refused unless the configuration allows it")
    func noFsyncRefused() throws {
        // fsync is server-wide: a cluster of its own, so tests running meanwhile on the shared one are not refused.
        let cluster = try ThrowawayCluster(options: ["-c", "fsync=off"])
        defer { cluster.stop() }
        var configuration = PostgresConfiguration(url: cluster.url)
        do {
            let backend = try PostgresBackend(configuration: configuration)
            backend.close()
            Issue.record("a backend opened on a server with fsync = off")
        } catch let error as StoreError {
            #expect(error.code == .notSupported && error.detail.contains("fsync = off"), "\(error)")
        }
        let admin = try PostgresConnection(url: cluster.url)
        defer { admin.close() }
        #expect(
            try admin.execute("SELECT to_regclass('kelson_state') IS NULL") == [["t"]],
            "the refused backend created no tables")

        configuration.allowsUnsafeNoFsync = true
        let backend = try PostgresBackend(configuration: configuration)
        defer { backend.close() }
        try backend.sync()
    }
}

/// A PostgreSQL cluster of its own for one test, started with extra server settings by
/// `scripts/postgres-test-cluster` (which `scripts/test` also uses) and removed by `stop`.
private struct ThrowawayCluster {
    let directory: String
    let url: String

    init(options: [String]) throws {
        let name = "kelson-test-pg-\(UInt32.random(in: 0...UInt32.max))"
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        let output = try Self.run(["start", directory] + options)
        url = output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() { _ = try? Self.run(["stop", directory]) }

    private static func run(_ arguments: [String]) throws -> String {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/postgres-test-cluster")
        let process = Process()
        process.executableURL = script
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw StoreError(
                .backendFailure, "scripts/postgres-test-cluster \(arguments.joined(separator: " ")) failed")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
