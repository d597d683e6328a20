import Foundation
import Testing

/// `kelson migrate` between real stores: Kelson on SQLite, Kelson on PostgreSQL (`KELSON_TEST_POSTGRES_URL`,
/// started by `scripts/test`), and a real etcd 3.4. Each copy is served by a real `kelson etcd` afterwards
/// and compared with etcdctl against the original.
extension IntegrationTests {
    @Suite("kelson migrate")
    struct MigrateTests {
        @Test("sqlite → postgres → sqlite keeps keys, revisions, versions, leases and the store revision")
        func sqlitePostgresRoundTrip() throws {
            let database = try MigrateTestSchema()
            defer { database.drop() }
            let original = try KelsonProcess()
            defer { original.stop() }
            try original.start()
            let leaseID = try fill(original)
            // Large values, so the 1 MiB sort memory below spills sorted runs to files and merges them.
            let big = String(repeating: "v", count: 400_000)
            for name in ["big/1", "big/2", "big/3", "big/4", "big/5"] {
                let put = try Etcdctl.run(endpoint: original.endpoint, ["put", name], stdin: big)
                #expect(put.exitCode == 0, "\(put)")
            }
            _ = try Etcdctl.run(endpoint: original.endpoint, ["put", "big/2", "overwritten"])
            let before = try snapshot(original)
            #expect(before.kvs?.count == 12, "keys: \(before.kvs?.map(\.key) ?? [])")
            original.shutDownProcess()

            let toPostgres = try migrate(
                ["--from", "sqlite://\(original.dataDirectory.path)", "--to", database.url, "--sort-memory", "1"])
            #expect(toPostgres.exitCode == 0, "\(toPostgres)")
            let copy = try KelsonProcess()
            defer { copy.stop() }
            let back = try migrate(
                [
                    "--from", database.url, "--to", "sqlite://\(copy.dataDirectory.path)", "--batch-size", "3",
                ])
            #expect(back.exitCode == 0, "\(back)")
            let digests = [toPostgres.digest("source"), toPostgres.digest("destination"), back.digest("destination")]
            #expect(digests[0] != nil && Set(digests).count == 1, "\(toPostgres)\n\(back)")
            #expect(toPostgres.stdout.contains("revision \(before.revision)"), "\(toPostgres)")

            try copy.start()
            let after = try snapshot(copy)
            #expect(after.kvs == before.kvs)
            #expect(after.revision == before.revision)
            let leases = try Etcdctl.run(endpoint: copy.endpoint, ["lease", "list"])
            #expect(leases.stdout.contains(leaseID), "\(leases)")
            let ttl = try Etcdctl.run(endpoint: copy.endpoint, ["lease", "timetolive", leaseID, "--keys"])
            #expect(ttl.stdout.contains("granted with TTL(600s)") && ttl.stdout.contains("l/2"), "\(ttl)")
            // History before the migration revision is not copied: the copy starts compacted there.
            let old = try Etcdctl.run(endpoint: copy.endpoint, ["get", "a", "--rev", "2"])
            #expect(old.exitCode != 0 && old.stderr.contains("compacted"), "\(old)")
            // A PostgreSQL source without Kelson's tables is refused, and gets none created.
            let empty = "\(database.schema)_none"
            let missing = try migrate(
                ["--from", database.url(schema: empty), "--to", "sqlite://\(copy.workDirectory.path)/unused"])
            #expect(missing.exitCode != 0 && missing.stderr.contains("no Kelson store"), "\(missing)")
            // The copy takes writes at the next revision.
            let put = try Etcdctl.run(endpoint: copy.endpoint, ["put", "a", "after", "-w", "json"])
            #expect(put.stdout.contains("\"revision\":\(before.revision + 1)"), "\(put)")
        }

        @Test("etcd → sqlite copies etcd's kvs, leases and header revision exactly")
        func fromEtcd() throws {
            let etcd = try ServerProcess.make(.etcd)
            defer { etcd.stop() }
            try etcd.start()
            let leaseID = try fill(etcd)
            let before = try snapshot(etcd)
            #expect(before.kvs?.count == 7)

            let copy = try KelsonProcess()
            defer { copy.stop() }
            let run = try migrate(
                [
                    "--from", "etcd://\(etcd.endpoint)", "--to", "sqlite://\(copy.dataDirectory.path)", "--batch-size",
                    "2",
                ])
            #expect(run.exitCode == 0, "\(run)")
            #expect(run.digest("source") != nil && run.digest("source") == run.digest("destination"), "\(run)")
            #expect(
                run.stdout.contains("keys \(before.kvs?.count ?? 0)  leases 1  revision \(before.revision)"), "\(run)")

            try copy.start()
            let after = try snapshot(copy)
            #expect(after.kvs == before.kvs)
            #expect(after.revision == before.revision)
            #expect(try snapshot(etcd).revision == before.revision, "etcd was not written to")
            let ttl = try Etcdctl.run(endpoint: copy.endpoint, ["lease", "timetolive", leaseID, "--keys"])
            #expect(ttl.stdout.contains("granted with TTL(600s)") && ttl.stdout.contains("l/1"), "\(ttl)")
        }

        @Test("a destination that holds data is refused and left unchanged; bad URLs are refused")
        func refusals() throws {
            let source = try KelsonProcess()
            defer { source.stop() }
            try source.start()
            _ = try Etcdctl.run(endpoint: source.endpoint, ["put", "from-source", "1"])
            source.shutDownProcess()
            let destination = try KelsonProcess()
            defer { destination.stop() }
            try destination.start()
            _ = try Etcdctl.run(endpoint: destination.endpoint, ["put", "already-here", "2"])
            let before = try snapshot(destination)
            destination.shutDownProcess()

            let refused = try migrate(
                [
                    "--from", "sqlite://\(source.dataDirectory.path)",
                    "--to", "sqlite://\(destination.dataDirectory.path)",
                ])
            #expect(refused.exitCode != 0 && refused.stderr.contains("already holds data"), "\(refused)")
            try destination.start()
            let after = try snapshot(destination)
            #expect(after.kvs == before.kvs && after.revision == before.revision)

            let nowhere = source.workDirectory.appendingPathComponent("never-created").path
            let cases: [([String], String)] = [
                (["--from", "sqlite://\(source.dataDirectory.path)", "--to", "etcd://127.0.0.1:2379"], "destination"),
                (["--from", "mysql://x", "--to", "sqlite://\(nowhere)"], "expected sqlite:///path"),
                (["--from", "sqlite://\(nowhere)-missing", "--to", "sqlite://\(nowhere)"], "no Kelson store"),
            ]
            for (arguments, message) in cases {
                let run = try migrate(arguments)
                #expect(run.exitCode != 0 && run.stderr.contains(message), "\(arguments): \(run)")
            }
            #expect(!FileManager.default.fileExists(atPath: nowhere), "a failed migration created its destination")
        }

        // MARK: Helpers

        /// Puts with several revisions of one key, a delete, a txn writing two keys in one revision, and a lease
        /// (TTL 600 s) holding two keys. Returns the lease ID in etcdctl's hex form.
        private func fill(_ server: ServerProcess) throws -> String {
            let steps: [[String]] = [
                ["put", "a", "1"], ["put", "a", "2"], ["put", "b", "x"], ["put", "a", "3"], ["put", "c", "y"],
                ["del", "b"], ["put", "d", "only"], ["del", "d"], ["put", "d", "again"],
            ]
            for step in steps {
                let result = try Etcdctl.run(endpoint: server.endpoint, step)
                #expect(result.exitCode == 0, "\(server.name) \(step): \(result)")
            }
            let txn = try Etcdctl.run(
                endpoint: server.endpoint, ["txn"], stdin: txnInput(success: ["put t/2 two", "put t/1 one"]))
            #expect(txn.exitCode == 0, "\(txn)")
            let grant = try Etcdctl.run(endpoint: server.endpoint, ["lease", "grant", "600"])
            // "lease 694d7e8b8f0a1c05 granted with TTL(600s)"
            let words = grant.stdout.split(separator: " ")
            guard words.count > 1, grant.exitCode == 0 else { throw HarnessError("lease grant: \(grant)") }
            let leaseID = String(words[1])
            for key in ["l/1", "l/2"] {
                let put = try Etcdctl.run(endpoint: server.endpoint, ["put", key, "leased", "--lease", leaseID])
                #expect(put.exitCode == 0, "\(put)")
            }
            return leaseID
        }

        /// Every key with its revisions, version, value and lease, and the header revision.
        private func snapshot(_ server: ServerProcess) throws -> GetOutput {
            let result = try Etcdctl.run(endpoint: server.endpoint, ["get", "", "--prefix", "-w", "json"])
            guard result.exitCode == 0 else { throw HarnessError("\(server.name) get: \(result)") }
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            return try decoder.decode(GetOutput.self, from: Data(result.stdout.utf8))
        }

        private func migrate(_ arguments: [String]) throws -> MigrateRun {
            let run = try KelsonRun.run(["migrate"] + arguments)
            // Standard error is a file here, not a terminal: no progress bar (it redraws with "\r").
            #expect(!run.stderr.contains("\r"), "a progress bar without a terminal: \(run.stderr)")
            return MigrateRun(exitCode: run.exitCode, stdout: run.stdout, stderr: run.stderr)
        }
    }
}

/// `etcdctl get -w json`, decoded with exact 64-bit integers.
struct GetOutput: Decodable {
    struct Header: Decodable {
        var revision: Int64
    }

    struct KeyValue: Decodable, Equatable {
        var key: String
        var value: String?
        var createRevision: Int64
        var modRevision: Int64
        var version: Int64
        var lease: Int64?
    }

    var header: Header
    var kvs: [KeyValue]?
    var revision: Int64 { header.revision }
}

/// What one `kelson migrate` run printed.
struct MigrateRun: CustomStringConvertible {
    var exitCode: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(exitCode)\nstdout: \(stdout)\nstderr: \(stderr)" }

    /// The digest on the summary line starting with `role` ("source" or "destination").
    func digest(_ role: String) -> String? {
        for line in stdout.split(separator: "\n") where line.hasPrefix(role + " ") {
            if let range = line.range(of: "digest ") { return String(line[range.upperBound...].prefix(8)) }
        }
        return nil
    }
}

/// A schema of its own on the test PostgreSQL (`KELSON_TEST_POSTGRES_URL`), created with psql and dropped at
/// the end. Without the variable the test fails: CI must not pass without PostgreSQL.
struct MigrateTestSchema {
    let adminURL: String
    let schema: String
    var url: String { url(schema: schema) }

    /// The server's URL with `search_path` set to `schema`.
    func url(schema: String) -> String {
        adminURL + (adminURL.contains("?") ? "&" : "?") + "options=-c%20search_path%3D" + schema
    }

    init() throws {
        guard let url = Locations.environment["KELSON_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw HarnessError(
                "KELSON_TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts a throwaway PostgreSQL"
            )
        }
        adminURL = url
        schema = "kelson_m_\(UInt32.random(in: 0...UInt32.max))"
        try psql("CREATE SCHEMA \(schema)")
    }

    func drop() { try? psql("SET client_min_messages = warning; DROP SCHEMA \(schema) CASCADE") }

    private func psql(_ sql: String) throws {
        let binary = ["/usr/lib/postgresql/15/bin/psql", "/usr/bin/psql"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let binary else { throw HarnessError("psql is missing: install postgresql-client-15") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [adminURL, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw HarnessError("psql \(sql) failed") }
    }
}
