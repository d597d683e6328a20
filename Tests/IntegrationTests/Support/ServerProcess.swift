import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failure of the harness itself (missing binary, server that never became ready, ...).
/// Thrown from a test, it fails the test with this message.
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `kill(2)`; named differently so it does not clash with `ServerProcess.kill(signal:)`.
func sendSignal(_ pid: Int32, _ signal: Int32) -> Int32 {
    #if canImport(Glibc)
        return Glibc.kill(pid, signal)
    #else
        return Darwin.kill(pid, signal)
    #endif
}

// MARK: - Locations

enum Locations {
    /// The package root: the first directory above this file that holds `Package.swift`.
    static let packageRoot: URL = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory
            }
            directory.deleteLastPathComponent()
        }
        // Tests/IntegrationTests/Support/ServerProcess.swift -> three levels up.
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }()

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static var etcd: String { environment["ETCD_BINARY"] ?? "/usr/bin/etcd" }
    static var etcdctl: String { environment["ETCDCTL_BINARY"] ?? "/usr/bin/etcdctl" }
    static var kelson: String {
        environment["KELSON_BINARY"] ?? packageRoot.appendingPathComponent(".build/debug/kelson").path
    }

    /// Fails (throws) when `path` is not an executable file.
    static func requireExecutable(_ path: String, hint: String) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("required binary \(path) is missing or not executable; \(hint)")
        }
    }

    static func requireEtcdTools() throws {
        try requireExecutable(etcd, hint: "install it with `apt-get install -y etcd-server` (or set ETCD_BINARY)")
        try requireExecutable(etcdctl, hint: "install it with `apt-get install -y etcd-client` (or set ETCDCTL_BINARY)")
    }
}

// MARK: - Ports

enum LoopbackPorts {
    /// Ports handed out by this test process, so two servers never get the same one.
    private static let handedOut = Mutex<Set<Int>>([])

    /// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it back, close).
    static func free() throws -> Int {
        for _ in 0..<50 {
            let port = try bindEphemeral()
            let fresh = handedOut.withLock { $0.insert(port).inserted }
            if fresh { return port }
        }
        throw HarnessError("could not find a free loopback port")
    }

    private static func bindEphemeral() throws -> Int {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw HarnessError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw HarnessError("bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw HarnessError("getsockname() failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

// MARK: - Server processes

/// Which implementation plays a role in a test.
enum ServerKind: String, Sendable {
    case etcd
    case kelson

    /// The server compared against etcd, and the one the Kelson-only tests run against.
    /// `kelson` unless `INTEGRATION_CANDIDATE=etcd`, which runs the whole suite etcd-vs-etcd to
    /// check the harness and the test cases themselves.
    static var candidate: ServerKind {
        let raw = Locations.environment["INTEGRATION_CANDIDATE"]?.lowercased() ?? "kelson"
        return ServerKind(rawValue: raw) ?? .kelson
    }
}

/// Options a test may ask of a server; both implementations accept the same flags.
struct ServerOptions: Sendable {
    var maxRequestBytes: Int?
    /// More flags for the server (etcd's names), after the usual ones.
    var extraArguments: [String] = []
    /// Serve the client URL as https (pass the TLS flags in `extraArguments`).
    var https = false
    /// etcdctl flags the readiness check needs, e.g. `--cacert`, `--cert`, `--key`.
    var etcdctlArguments: [String] = []
    /// Environment variables for the server, on top of the test's own.
    var environment: [String: String] = [:]
}

/// A server binary running in its own temporary data directory on loopback ports.
/// Not thread-safe; owned by one test. `stop()` (also run by `deinit`) kills the process
/// and removes the temporary directory.
class ServerProcess {
    let kind: ServerKind
    let options: ServerOptions
    let clientPort: Int
    let workDirectory: URL
    let logURL: URL
    private(set) var process: Process?
    private var logHandle: FileHandle?
    private var stopped = false
    /// Set by `kill(signal:)`: the next exit was asked for.
    private var expectingExit = false
    private var deathReported = false

    var endpoint: String { "127.0.0.1:\(clientPort)" }
    var clientURL: String { "\(options.https ? "https" : "http")://\(endpoint)" }
    /// What to pass to etcdctl's `--endpoints`: the bare address over http (as always), the URL over https.
    var etcdctlEndpoint: String { options.https ? clientURL : endpoint }
    var dataDirectory: URL { workDirectory.appendingPathComponent("data") }
    var name: String { kind.rawValue }
    var pid: Int32? { process?.processIdentifier }
    var isRunning: Bool { process?.isRunning ?? false }

    init(kind: ServerKind, options: ServerOptions) throws {
        self.kind = kind
        self.options = options
        self.clientPort = try LoopbackPorts.free()
        self.workDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("kelson-it-\(kind.rawValue)-\(UUID().uuidString.prefix(8))")
        self.logURL = workDirectory.appendingPathComponent("server.log")
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
    }

    deinit { stop() }

    /// Subclasses: the executable and its arguments.
    func commandLine() -> (executable: String, arguments: [String]) { fatalError("abstract") }

    /// Starts the process and waits until it answers `etcdctl endpoint health`.
    func start(readinessTimeout: TimeInterval = 15) throws {
        try launchProcess()
        try waitUntilReady(timeout: readinessTimeout)
    }

    /// Starts the process without waiting for it to become ready.
    func launchProcess() throws {
        precondition(!isRunning, "\(name) is already running")
        let (executable, arguments) = commandLine()
        if !FileManager.default.fileExists(atPath: logURL.path) {
            _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logURL)
        log.seekToEndOfFile()
        log.write(Data("=== start: \(executable) \(arguments.joined(separator: " "))\n".utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = workDirectory
        if !options.environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(options.environment) { $1 }
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        do {
            try process.run()
        } catch {
            try? log.close()
            throw HarnessError("could not launch \(executable): \(error)")
        }
        self.process = process
        self.logHandle = log
        stopped = false
        expectingExit = false
        deathReported = false
    }

    /// Polls `etcdctl endpoint health` until it succeeds, the process dies, or time runs out.
    func waitUntilReady(timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var last: EtcdctlResult?
        while Date() < deadline {
            guard isRunning else {
                expectingExit = true  // reported here; `stop()` need not report it again
                throw HarnessError(
                    """
                    \(name) exited with status \(process?.terminationStatus ?? -1) before becoming ready
                    --- \(logURL.path) (tail) ---
                    \(logTail())
                    """)
            }
            last = try? Etcdctl.run(
                endpoint: etcdctlEndpoint, options.etcdctlArguments + ["endpoint", "health"],
                commandTimeout: "2s", dialTimeout: "1s", watchdog: 5)
            if last?.exitCode == 0 { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        let tail = logTail()
        stop()
        throw HarnessError(
            """
            \(name) on \(endpoint) not ready after \(Int(timeout)) s; last health check: \
            exit \(last?.exitCode ?? -1), \(last?.stderr ?? "")
            --- server log (tail) ---
            \(tail)
            """)
    }

    /// Waits (up to `timeout`) for a process expected to exit on its own, e.g. after a startup error; true if it did.
    func waitForExit(timeout: TimeInterval = 15) -> Bool {
        guard let process else { return false }
        expectingExit = true
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return !process.isRunning
    }

    /// Sends `signal` and waits (up to `timeout`) for the process to go away.
    func kill(signal: Int32, timeout: TimeInterval = 10) {
        guard let process, process.isRunning else { return }
        expectingExit = true
        _ = sendSignal(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
    }

    /// SIGTERM, then SIGKILL if it is still there after 5 s. Keeps the data directory.
    func shutDownProcess() {
        guard let process else { return }
        if process.isRunning {
            kill(signal: SIGTERM, timeout: 5)
            if process.isRunning { kill(signal: SIGKILL, timeout: 5) }
        }
        if !process.isRunning { process.waitUntilExit() }
        try? logHandle?.close()
        logHandle = nil
    }

    /// Stops the process (if running) and starts it again on the same data directory and port.
    func restart(readinessTimeout: TimeInterval = 15) throws {
        shutDownProcess()
        try start(readinessTimeout: readinessTimeout)
    }

    /// Stops the process and removes the temporary directory (unless INTEGRATION_KEEP_DIRS=1).
    func stop() {
        if stopped { return }
        reportIfDied()
        stopped = true
        shutDownProcess()
        if Locations.environment["INTEGRATION_KEEP_DIRS"] == "1" {
            print("[integration] kept \(name) directory \(workDirectory.path)")
        } else {
            try? FileManager.default.removeItem(at: workDirectory)
        }
    }

    /// How the process ended, e.g. "exit status 1" or "signal 11".
    var exitSummary: String {
        guard let process else { return "never started" }
        if process.isRunning { return "running" }
        let reason = process.terminationReason == .uncaughtSignal ? "signal" : "exit status"
        return "\(reason) \(process.terminationStatus)"
    }

    /// Records an issue with the log tail when the process ended without being asked to.
    func reportIfDied(sourceLocation: SourceLocation = #_sourceLocation) {
        guard !stopped, let process, !process.isRunning, !expectingExit, !deathReported else { return }
        deathReported = true
        Issue.record(
            """
            \(name) on \(endpoint) died during the test (\(exitSummary))
            --- \(logURL.path) (tail) ---
            \(logTail())
            """, sourceLocation: sourceLocation)
    }

    /// The last `lines` lines of the server log.
    func logTail(lines: Int = 40) -> String {
        guard let data = FileManager.default.contents(atPath: logURL.path) else { return "(no log)" }
        let text = String(decoding: data, as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Starts a server of `kind` (an `EtcdProcess` or a `KelsonProcess`).
    static func make(_ kind: ServerKind, options: ServerOptions = ServerOptions()) throws -> ServerProcess {
        switch kind {
        case .etcd: return try EtcdProcess(options: options)
        case .kelson: return try KelsonProcess(options: options)
        }
    }

    /// Starts a server of `kind` and waits until it is ready.
    static func launch(_ kind: ServerKind, options: ServerOptions = ServerOptions()) throws -> ServerProcess {
        let server = try make(kind, options: options)
        do {
            try server.start()
        } catch {
            server.stop()
            throw error
        }
        return server
    }
}

/// A single-member etcd 3.4 (`/usr/bin/etcd`).
final class EtcdProcess: ServerProcess {
    let peerPort: Int

    init(options: ServerOptions = ServerOptions()) throws {
        try Locations.requireEtcdTools()
        self.peerPort = try LoopbackPorts.free()
        try super.init(kind: .etcd, options: options)
    }

    override func commandLine() -> (executable: String, arguments: [String]) {
        let peerURL = "http://127.0.0.1:\(peerPort)"
        var arguments = [
            "--name", "default",
            "--data-dir", dataDirectory.path,
            "--listen-client-urls", clientURL,
            "--advertise-client-urls", clientURL,
            "--listen-peer-urls", peerURL,
            "--initial-advertise-peer-urls", peerURL,
            "--initial-cluster", "default=\(peerURL)",
        ]
        if let bytes = options.maxRequestBytes { arguments += ["--max-request-bytes", String(bytes)] }
        return (Locations.etcd, arguments + options.extraArguments)
    }
}

/// `kelson etcd`, from `KELSON_BINARY` or `<package root>/.build/debug/kelson`.
final class KelsonProcess: ServerProcess {
    init(options: ServerOptions = ServerOptions()) throws {
        try Locations.requireExecutable(
            Locations.kelson,
            hint: "build it first with `swift build` (or point KELSON_BINARY at a kelson executable)")
        try Locations.requireExecutable(
            Locations.etcdctl, hint: "install it with `apt-get install -y etcd-client` (or set ETCDCTL_BINARY)")
        // KELSON_TEST_DATASTORE=postgres runs every Kelson of the suite on its own schema of the test PostgreSQL
        // (scripts/test runs the etcdctl side-by-side suite this way too).
        if Locations.environment["KELSON_TEST_DATASTORE"] == "postgres"
            && !options.extraArguments.contains("--datastore")
        {
            postgresDatastore = try TestPostgres.freshSchema()
        }
        try super.init(kind: .kelson, options: options)
    }

    private var postgresDatastore: String?

    override func commandLine() -> (executable: String, arguments: [String]) {
        var arguments = [
            "etcd",
            "--data-dir", dataDirectory.path,
            "--listen-client-urls", clientURL,
            "--advertise-client-urls", clientURL,
        ]
        if let bytes = options.maxRequestBytes { arguments += ["--max-request-bytes", String(bytes)] }
        if let datastore = postgresDatastore { arguments += ["--datastore", datastore] }
        return (Locations.kelson, arguments + options.extraArguments)
    }
}
