import Foundation
import RevisionLog
import Testing

@testable import PostgresBackend

/// Against the real PostgreSQL 15 that `scripts/test` starts (`KELSON_TEST_POSTGRES_URL`). Without it these
/// tests fail rather than skip: CI must not pass without PostgreSQL.
@Suite("PostgresConnection against a real PostgreSQL")
struct PostgresConnectionTests {
    static func url() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["KELSON_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw StoreError(
                .backendFailure,
                "KELSON_TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts a throwaway PostgreSQL"
            )
        }
        return url
    }

    @Test("statements with parameters, NULLs and bytes round-trip; errors carry PostgreSQL's message")
    func roundTrip() throws {
        let connection = try PostgresConnection(url: Self.url())
        defer { connection.close() }
        let table = "kelson_connection_test_\(UInt32.random(in: 0...UInt32.max))"
        try connection.query("CREATE TABLE \(table) (id bigint PRIMARY KEY, key bytea NOT NULL, note text)")
        defer { _ = try? connection.query("DROP TABLE \(table)") }
        let bytes: [UInt8] = [0, 1, 0x7f, 0x80, 0xff] + Array("key".utf8)
        try connection.query(
            "INSERT INTO \(table) (id, key, note) VALUES ($1, $2, $3), ($4, $5, $6)",
            ["1", PostgresConnection.byteaParameter(bytes), nil, "2", PostgresConnection.byteaParameter([]), "two"])
        let rows = try connection.query("SELECT id, key, note FROM \(table) ORDER BY id")
        #expect(rows.count == 2)
        #expect(rows[0][0] == "1" && rows[0][1].flatMap(PostgresConnection.bytea) == bytes && rows[0][2] == nil)
        #expect(rows[1][1].flatMap(PostgresConnection.bytea) == [] && rows[1][2] == "two")

        do {
            try connection.query("INSERT INTO \(table) (id, key) VALUES ($1, $2)", ["1", "\\x00"])
            Issue.record("a duplicate primary key was accepted")
        } catch {
            #expect("\(error)".contains("duplicate key value violates unique constraint"), "\(error)")
        }
        #expect(try connection.query("SELECT count(*) FROM \(table)") == [["2"]], "the failed insert changed nothing")
    }

    @Test("an unreachable server fails within the connect timeout instead of hanging")
    func unreachable() throws {
        let started = Date()
        #expect(throws: StoreError.self) {
            _ = try PostgresConnection(
                url: "postgres://kelson@127.0.0.1:1/kelson?sslmode=disable", connectTimeoutSeconds: 2)
        }
        #expect(Date().timeIntervalSince(started) < 30, "a refused connection must not wait for long")
    }
}
