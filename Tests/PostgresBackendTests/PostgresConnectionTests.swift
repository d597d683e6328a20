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

    @Test(
        "a pipeline of prepared statements: binary arrays and integers round-trip; a failed step reports its error and the connection stays usable"
    )
    func pipeline() throws {
        let connection = try PostgresConnection(url: Self.url())
        defer { connection.close() }
        let table = "kelson_pipeline_test_\(UInt32.random(in: 0...UInt32.max))"
        try connection.query("CREATE TABLE \(table) (id bigint PRIMARY KEY, small integer, flag boolean, key bytea)")
        defer { _ = try? connection.query("DROP TABLE \(table)") }
        let insert = PostgresStatement(
            name: "test_insert_\(table)",
            sql: "INSERT INTO \(table) SELECT * FROM unnest($1::bigint[], $2::integer[], $3::boolean[], $4::bytea[])",
            parameterTypes: [
                PostgresBinary.OID.int8Array, PostgresBinary.OID.int4Array, PostgresBinary.OID.boolArray,
                PostgresBinary.OID.byteaArray,
            ])
        let select = PostgresStatement(
            name: "test_select_\(table)", sql: "SELECT id, small, flag, key FROM \(table) WHERE id >= $1 ORDER BY id",
            parameterTypes: [PostgresBinary.OID.int8])
        let keys: [[UInt8]] = [[], [0, 0xff, 0], Array(repeating: 0x5a, count: 3000)]
        let ids: [Int64] = [-5, 1 << 40, Int64.max]
        let results = try connection.pipeline([
            (
                insert,
                [
                    PostgresBinary.int8Array(ids), PostgresBinary.int4Array([-1, 0, Int32.max]),
                    PostgresBinary.boolArray([true, false, true]), PostgresBinary.byteaArray(keys),
                ]
            ),
            (
                insert,
                [
                    PostgresBinary.int8Array([]), PostgresBinary.int4Array([]), PostgresBinary.boolArray([]),
                    PostgresBinary.byteaArray([]),
                ]
            ),
            (select, [PostgresBinary.int8(Int64.min)]),
        ])
        #expect(results.count == 3 && results[0].isEmpty && results[1].isEmpty)
        let rows = results[2]
        #expect(try rows.map { try PostgresBinary.integer($0[0]) } == ids)
        #expect(try rows.map { try PostgresBinary.integer($0[1]) } == [-1, 0, Int64(Int32.max)])
        #expect(try rows.map { try PostgresBinary.bool($0[2]) } == [true, false, true])
        #expect(rows.map { $0[3] } == keys)

        // The duplicate fails; the select after it is skipped; the error is PostgreSQL's own.
        do {
            try connection.pipeline([
                (
                    insert,
                    [
                        PostgresBinary.int8Array([7, -5]), PostgresBinary.int4Array([0, 0]),
                        PostgresBinary.boolArray([false, false]), PostgresBinary.byteaArray([[], []]),
                    ]
                ),
                (select, [PostgresBinary.int8(0)]),
            ])
            Issue.record("a duplicate primary key was accepted")
        } catch {
            #expect(error.code == .backendFailure && error.detail.contains("duplicate key value"), "\(error)")
        }
        #expect(connection.isHealthy)
        let after = try connection.pipeline([(select, [PostgresBinary.int8(Int64.min)])])
        #expect(after[0].count == 3, "the failed insert (an implicit transaction) stored nothing")
        #expect(try connection.query("SELECT count(*) FROM \(table)") == [["3"]], "plain queries work after a pipeline")

        // On a fresh connection, a statement prepared in a pipeline whose execution then fails stays prepared: the
        // next pipeline uses it without preparing it again.
        let fresh = try PostgresConnection(url: Self.url())
        defer { fresh.close() }
        let row = { (id: Int64) in
            [
                PostgresBinary.int8Array([id]), PostgresBinary.int4Array([0]), PostgresBinary.boolArray([false]),
                PostgresBinary.byteaArray([[]]),
            ]
        }
        #expect(throws: StoreError.self) { try fresh.pipeline([(insert, row(-5))]) }
        try fresh.pipeline([(insert, row(8))])
        #expect(try fresh.query("SELECT count(*) FROM \(table)") == [["4"]])
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
