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
            try Locations.requireExecutable(example, hint: "build it with `swift build`")
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kelson-embed-\(UUID())")
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: scratch) }
            let out = scratch.appendingPathComponent("out"), err = scratch.appendingPathComponent("err")
            _ = FileManager.default.createFile(atPath: out.path, contents: nil)
            _ = FileManager.default.createFile(atPath: err.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: example)
            process.standardOutput = try FileHandle(forWritingTo: out)
            process.standardError = try FileHandle(forWritingTo: err)
            try process.run()
            let timer = DispatchWorkItem { _ = sendSignal(process.processIdentifier, SIGKILL) }
            DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: timer)
            process.waitUntilExit()
            timer.cancel()
            let printed = try String(contentsOf: out, encoding: .utf8)
            let logged = try String(contentsOf: err, encoding: .utf8)
            #expect(process.terminationStatus == 0, "\(printed)\n\(logged)")
            #expect(printed.contains("in-process put: revision 2"), "\(printed)")
            #expect(printed.contains("greeting = hello"), "\(printed)")
            #expect(printed.contains("shut down at revision 3"), "\(printed)")
            #expect(logged.contains("store closed"), "\(logged)")
        }
    }
}
