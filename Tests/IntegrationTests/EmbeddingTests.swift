import Foundation
import Testing

/// Examples/embedded, built with the package: Kelson started from another Swift program, used in-process and over
/// gRPC, then shut down.
extension IntegrationTests {
    @Suite("Examples/embedded")
    struct EmbeddingTests {
        @Test("the embedded example writes in-process, reads over gRPC and shuts down cleanly")
        func embeddedExample() throws {
            // Built next to the kelson binary (same build directory).
            let example = URL(fileURLWithPath: Locations.kelson).deletingLastPathComponent()
                .appendingPathComponent("kelson-embedded-example").path
            let run = try KelsonRun.run(executable: example, [], watchdog: 60)
            let printed = run.stdout
            let logged = run.stderr
            #expect(run.exitCode == 0, "\(printed)\n\(logged)")
            #expect(printed.contains("in-process put: revision 2"), "\(printed)")
            #expect(printed.contains("greeting = hello"), "\(printed)")
            #expect(printed.contains("shut down at revision 3"), "\(printed)")
            #expect(logged.contains("store closed"), "\(logged)")
        }
    }
}
