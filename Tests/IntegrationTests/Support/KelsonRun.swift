import Foundation

/// One finished `kelson <subcommand>` run: its exit code and what it printed.
struct KelsonRun {
    var exitCode: Int32
    var stdout: String
    var stderr: String

    /// Runs the kelson binary with `arguments` (output through files, stdin empty) and waits for it; kills it
    /// after `watchdog` seconds.
    static func run(_ arguments: [String], watchdog: TimeInterval = 120) throws -> KelsonRun {
        try run(executable: Locations.kelson, arguments, watchdog: watchdog)
    }

    /// Runs another executable of this build the same way.
    static func run(executable: String, _ arguments: [String], watchdog: TimeInterval = 120) throws -> KelsonRun {
        try Locations.requireExecutable(executable, hint: "build it with `swift build`")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kelson-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("out"), err = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let timer = DispatchWorkItem { _ = sendSignal(process.processIdentifier, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + watchdog, execute: timer)
        process.waitUntilExit()
        timer.cancel()
        return KelsonRun(
            exitCode: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
            stderr: try String(contentsOf: err, encoding: .utf8))
    }
}
