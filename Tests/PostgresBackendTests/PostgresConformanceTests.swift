import RevisionLog
import RevisionLogTesting
import Testing

@testable import PostgresBackend

@Suite("RevisionLog conformance on PostgresBackend", .serialized)
struct PostgresConformanceTests {
    @Test(arguments: RevisionLogConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        let database = try TestDatabase()
        let backend = try PostgresBackend(configuration: PostgresConfiguration(url: database.url))
        let store = try Store(
            backend: backend, configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        defer {
            store.close()
            withExtendedLifetime(database) {}
        }
        try await testCase.run(on: store)
    }
}
