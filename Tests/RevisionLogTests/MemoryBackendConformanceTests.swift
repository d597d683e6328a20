import RevisionLog
import RevisionLogTesting
import Testing

@Suite("RevisionLog conformance on MemoryBackend")
struct MemoryBackendConformanceTests {
    @Test(arguments: RevisionLogConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        try await withFreshStore { store, _ in try await testCase.run(on: store) }
    }

    @Test("a compaction that moves on walks only the rows still in the log")
    func compactionWalk() async throws {
        try await withFreshStore { store, backend in try await CompactionWalk.check(store: store, backend: backend) }
    }

    private func withFreshStore(_ body: (Store, MemoryBackend) async throws -> Void) async throws {
        let backend = MemoryBackend()
        let store = try Store(
            backend: backend, configuration: RevisionLogConformance.configuration(), logger: conformanceLogger())
        defer { store.close() }
        try await body(store, backend)
    }
}
