import Foundation

/// What one `etcdctl` run printed.
struct EtcdctlResult: Sendable, CustomStringConvertible {
    var exitCode: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(exitCode)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// Runs the real `etcdctl` (v3 API) against one endpoint.
enum Etcdctl {
    /// `etcdctl --endpoints <endpoint> --command-timeout=<commandTimeout> <args...>`, with `stdin`
    /// (or /dev/null) as standard input. Output goes through temporary files, so large outputs
    /// cannot dead-lock a pipe. `watchdog` seconds after launch a hung etcdctl is SIGKILLed.
    static func run(
        endpoint: String,
        _ arguments: [String],
        stdin: String? = nil,
        commandTimeout: String = "10s",
        dialTimeout: String = "2s",
        watchdog: TimeInterval = 30
    ) throws -> EtcdctlResult {
        let running = try start(
            endpoint: endpoint, arguments, stdin: stdin.map { Data($0.utf8) },
            commandTimeout: commandTimeout, dialTimeout: dialTimeout)
        return running.wait(watchdog: watchdog)
    }

    /// Starts etcdctl without waiting, so several can run at once.
    static func start(
        endpoint: String,
        _ arguments: [String],
        stdin: Data? = nil,
        commandTimeout: String = "10s",
        dialTimeout: String = "2s"
    ) throws -> RunningEtcdctl {
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("kelson-it-etcdctl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let stdoutURL = scratch.appendingPathComponent("stdout")
        let stderrURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Locations.etcdctl)
        process.arguments =
            [
                "--endpoints", endpoint,
                "--command-timeout=\(commandTimeout)",
                "--dial-timeout=\(dialTimeout)",
            ] + arguments
        // A clean environment: no stray ETCDCTL_* settings from the developer's shell.
        var environment = ["ETCDCTL_API": "3"]
        for name in ["PATH", "HOME", "TMPDIR", "LANG"] {
            if let value = Locations.environment[name] { environment[name] = value }
        }
        process.environment = environment
        if let stdin {
            let stdinURL = scratch.appendingPathComponent("stdin")
            _ = FileManager.default.createFile(atPath: stdinURL.path, contents: stdin)
            process.standardInput = try FileHandle(forReadingFrom: stdinURL)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        let stdoutHandle = try FileHandle(forWritingTo: stdoutURL)
        let stderrHandle = try FileHandle(forWritingTo: stderrURL)
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do {
            try process.run()
        } catch {
            try? FileManager.default.removeItem(at: scratch)
            throw HarnessError("could not launch \(Locations.etcdctl): \(error)")
        }
        try? stdoutHandle.close()
        try? stderrHandle.close()
        return RunningEtcdctl(process: process, finished: finished, scratch: scratch)
    }
}

/// An etcdctl that has been started; `wait` collects its result and removes its files.
final class RunningEtcdctl {
    let process: Process
    private let finished: DispatchSemaphore
    private let scratch: URL

    init(process: Process, finished: DispatchSemaphore, scratch: URL) {
        self.process = process
        self.finished = finished
        self.scratch = scratch
    }

    func wait(watchdog: TimeInterval = 30) -> EtcdctlResult {
        var timedOut = false
        if finished.wait(timeout: .now() + watchdog) == .timedOut {
            timedOut = true
            _ = sendSignal(process.processIdentifier, SIGKILL)
            finished.wait()
        }
        process.waitUntilExit()
        let stdout = FileManager.default.contents(atPath: scratch.appendingPathComponent("stdout").path) ?? Data()
        var stderr = String(
            decoding:
                FileManager.default.contents(atPath: scratch.appendingPathComponent("stderr").path) ?? Data(),
            as: UTF8.self)
        try? FileManager.default.removeItem(at: scratch)
        if timedOut { stderr += "\n[harness: etcdctl killed after \(Int(watchdog)) s]" }
        return EtcdctlResult(
            exitCode: timedOut ? -9 : process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self),
            stderr: stderr)
    }
}
