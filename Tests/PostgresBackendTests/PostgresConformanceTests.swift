import RevisionLog
import RevisionLogTesting
import Testing

@testable import PostgresBackend

@Suite("RevisionLog conformance on PostgresBackend", .serialized)
struct PostgresConformanceTests {
    @Test(arguments: RevisionLogConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        try await withFreshStore { store, _ in try await testCase.run(on: store) }
    }

    @Test("a compaction that moves on walks only the rows still in the log")
    func compactionWalk() async throws {
        try await withFreshStore { store, backend in try await CompactionWalk.check(store: store, backend: backend) }
    }

    /// A store on a schema of its own, dropped afterwards.
    private func withFreshStore(_ body: (Store, PostgresBackend) async throws -> Void) async throws {
        let database = try TestDatabase()
        let backend = try PostgresBackend(configuration: PostgresConfiguration(url: database.url))
        let store = try Store(
            backend: backend, configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        defer {
            store.close()
            withExtendedLifetime(database) {}
        }
        try await body(store, backend)
    }
}
