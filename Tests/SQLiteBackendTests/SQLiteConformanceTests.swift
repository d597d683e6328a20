import Foundation
import RevisionLog
import RevisionLogTesting
import SQLiteBackend
import Testing

/// A fresh data directory under the system temp dir, removed when the test ends.
final class TemporaryDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "kelson-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    var databasePath: String { path + "/kelson.db" }
}

@Suite("RevisionLog conformance on SQLiteBackend")
struct SQLiteConformanceTests {
    @Test(arguments: RevisionLogConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        try await withFreshStore { store, _ in try await testCase.run(on: store) }
    }

    @Test("a compaction that moves on walks only the rows still in the log")
    func compactionWalk() async throws {
        try await withFreshStore { store, backend in try await CompactionWalk.check(store: store, backend: backend) }
    }

    /// A store on a file of its own, removed afterwards.
    private func withFreshStore(_ body: (Store, SQLiteBackend) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        let backend = try SQLiteBackend(configuration: SQLiteConfiguration(path: directory.databasePath))
        let store = try Store(
            backend: backend, configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        defer { store.close() }
        try await body(store, backend)
    }
}
