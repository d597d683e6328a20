import Foundation

/// PostgreSQL for integration tests. `scripts/test` starts a throwaway server and exports its URL as
/// `KELSON_TEST_POSTGRES_URL`; without it these tests fail (CI must not pass without PostgreSQL).
enum TestPostgres {
    static func baseURL() throws -> String {
        guard let url = Locations.environment["KELSON_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw HarnessError(
                "KELSON_TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts a throwaway PostgreSQL"
            )
        }
        return url
    }

    /// A new empty schema on `base` (default: the shared test server); returns a URL that selects it.
    static func freshSchema(on base: String? = nil) throws -> String {
        let base = try base ?? baseURL()
        let schema = "kelson_it_\(UInt64.random(in: 0...UInt64.max))"
        try psql(base, "CREATE SCHEMA \(schema)")
        return base + (base.contains("?") ? "&" : "?") + "options=-c%20search_path%3D" + schema
    }

    static func psql(_ url: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = [url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]
        process.standardOutput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        guard finished.wait(timeout: .now() + 30) == .success, process.terminationStatus == 0 else {
            throw HarnessError("psql failed: \(sql)")
        }
    }
}

/// A PostgreSQL server of a test's own (for tests that stop and restart it), via scripts/postgres-test-cluster.
final class OwnPostgres {
    let directory: String
    let url: String

    init() throws {
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "kelson-it-pg-\(UUID().uuidString.prefix(8))"
            ).path
        url = try Self.script("start", directory).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit { _ = try? Self.script("stop", directory) }

    /// Stops the server (fast shutdown: open connections are cut), keeping its data.
    func halt() throws { _ = try Self.script("halt", directory) }
    func resume() throws { _ = try Self.script("resume", directory) }

    @discardableResult
    private static func script(_ command: String, _ directory: String) throws -> String {
        let process = Process()
        process.executableURL = Locations.packageRoot.appendingPathComponent("scripts/postgres-test-cluster")
        process.arguments = [command, directory]
        // Output through a file and the end through terminationHandler: the harness's pattern for child processes
        // (a pipe plus waitUntilExit can miss the exit here).
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("kelson-pg-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        try? handle.close()
        guard finished.wait(timeout: .now() + 60) == .success else {
            throw HarnessError("scripts/postgres-test-cluster \(command) did not finish within 60 s")
        }
        guard process.terminationStatus == 0 else {
            throw HarnessError("scripts/postgres-test-cluster \(command) failed (exit \(process.terminationStatus))")
        }
        return String(decoding: FileManager.default.contents(atPath: output.path) ?? Data(), as: UTF8.self)
    }
}
