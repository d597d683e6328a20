import ArgumentParser
import Foundation
import Kelson
import KelsonBench
import Logging
import Metrics
import Prometheus
import Synchronization

/// `kelson`: the command line. Everything it runs lives in the `Kelson` library.
@main
struct KelsonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kelson",
        abstract: "An etcd v3-compatible server on SQLite or PostgreSQL.",
        subcommands: [
            ServerCommand.self, AgentCommand.self, EtcdCommand.self, SnapshotCommand.self, DefragCommand.self,
            MigrateCommand.self,
            BenchCommand.self, ClusterBenchCommand.self, PodStartupBenchCommand.self,
        ])

    /// etcd's boolean flags are Go flags: `--client-cert-auth=true` (as kubeadm writes it) must work too.
    /// `kelson etcd` also reads etcd's config file and `ETCD_*` environment variables (`EtcdFlagSources`).
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "etcd" && !arguments.contains(where: { $0 == "--help" || $0 == "-h" }) {
            do {
                let resolved = try EtcdFlagSources.resolve(
                    Array(arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
                arguments = ["etcd"] + resolved.arguments
                startupWarnings.withLock { $0 = resolved.warnings }
            } catch {
                FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
                Foundation.exit(1)
            }
        }
        await main(EtcdCommand.normalizingBooleanFlags(arguments))
    }
}

/// What reading the config file or the environment had to say, logged once logging is set up.
let startupWarnings = Mutex<[String]>([])

struct EtcdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "etcd",
        abstract: "Serve etcd's v3 API from one SQLite file.",
        discussion: "Flags use etcd's names. Data lives in <data-dir>/kelson.db (SQLite, WAL mode).")

    @Option(
        name: .customLong("config-file"),
        help:
            "Path to etcd's YAML configuration file; when given, other flags and ETCD_* environment variables are ignored (as in etcd)."
    )
    var configFile: String?

    @Option(name: .customLong("name"), help: "Human-readable name for this member.")
    var name = "default"

    @Option(name: .customLong("data-dir"), help: "Path to the data directory (default: <name>.kelson).")
    var dataDirectory: String?

    @Option(
        name: .customLong("datastore"),
        help:
            "Where data lives: sqlite:///dir (default: the data directory) or postgres://user:pass@host:port/db?sslmode=… (several kelson processes may share one database)."
    )
    var datastore: String?

    @Option(name: .customLong("listen-client-urls"), help: "Comma-separated URLs to listen on for client traffic.")
    var listenClientURLs = "http://127.0.0.1:2379"

    @Option(
        name: .customLong("listen-metrics-urls"),
        help:
            "Comma-separated plain-HTTP URLs to serve /metrics, /health, /readyz and /livez on (they are on the client URLs too)."
    )
    var listenMetricsURLs = ""

    @Option(
        name: .customLong("advertise-client-urls"),
        help: "Comma-separated client URLs to advertise (default: the listen URLs).")
    var advertiseClientURLs: String?

    @Option(
        name: .customLong("max-request-bytes"), help: "Maximum client request size in bytes the server will accept.")
    var maximumRequestBytes = 1_572_864

    @Option(
        name: .customLong("quota-backend-bytes"),
        help: "Raise alarms when backend size exceeds the given quota (0 defaults to 2 GiB; negative disables it).")
    var quotaBackendBytes: Int64 = 0

    @Option(
        name: .customLong("auto-compaction-mode"),
        help:
            "Interpret --auto-compaction-retention as periodic (a duration, hours when no unit) or revision (a count).")
    var autoCompactionMode = "periodic"

    @Option(
        name: .customLong("auto-compaction-retention"),
        help: "Auto compaction retention for the key-value history. 0 means disable auto compaction.")
    var autoCompactionRetention = "0"

    @Option(name: .customLong("max-txn-ops"), help: "Maximum number of operations permitted in a transaction.")
    var maximumTxnOperations = 128

    @Option(name: .customLong("log-level"), help: "Log level: debug, info, warn, error, panic or fatal.")
    var logLevel = "info"

    @Option(
        name: .customLong("log-format"),
        help: "Log format: console (text) or json (one object per line, as etcd's zap logger writes).")
    var logFormat = "console"

    @Option(name: .customLong("cert-file"), help: "Path to the client server TLS cert file.")
    var certificateFile = ""

    @Option(name: .customLong("key-file"), help: "Path to the client server TLS key file.")
    var keyFile = ""

    @Option(name: .customLong("trusted-ca-file"), help: "Path to the client server TLS trusted CA cert file.")
    var trustedCAFile = ""

    @Flag(name: .customLong("client-cert-auth"), help: "Enable client cert authentication.")
    var clientCertificateAuthentication = false

    @Option(
        name: [
            .customLong("experimental-watch-progress-notify-interval"), .customLong("watch-progress-notify-interval"),
        ],
        help: "Duration of periodic watch progress notifications (Go syntax: 10m, 5s, 500ms).")
    var watchProgressNotifyInterval = GoDurationArgument(text: "10m", duration: .seconds(600))

    @Flag(name: .customLong("auth"), help: "Turn on authentication at startup (needs a root user with the root role).")
    var auth = false

    @Option(name: .customLong("auth-token-ttl"), help: "Seconds a simple auth token lives after its last use.")
    var authTokenTTL = 300

    /// Go boolean flags written `--flag=true` / `--flag=false`, rewritten to what ArgumentParser takes.
    static let booleanFlags = ["--client-cert-auth", "--auth"]

    static func normalizingBooleanFlags(_ arguments: [String]) -> [String] {
        arguments.compactMap { argument in
            for flag in booleanFlags where argument.hasPrefix(flag + "=") {
                switch argument.dropFirst(flag.count + 1).lowercased() {
                case "true", "t", "1": return flag
                case "false", "f", "0": return nil
                default: return argument  // left for ArgumentParser to reject
                }
            }
            return argument
        }
    }

    func run() async throws {
        var configuration = KelsonConfiguration()
        configuration.name = name
        configuration.dataDirectory = dataDirectory
        if let datastore {
            configuration.datastore = try Datastore(url: datastore)
            if dataDirectory != nil, case .sqlite = configuration.datastore {
                throw ValidationError("give either --data-dir or --datastore sqlite://…, not both")
            }
        }
        configuration.listenClientURLs = split(listenClientURLs)
        configuration.advertiseClientURLs = split(advertiseClientURLs ?? listenClientURLs)
        guard maximumRequestBytes > 0 else { throw ValidationError("--max-request-bytes must be positive") }
        guard maximumTxnOperations > 0 else { throw ValidationError("--max-txn-ops must be positive") }
        configuration.maximumRequestBytes = maximumRequestBytes
        configuration.maximumTxnOperations = maximumTxnOperations
        configuration.quotaBackendBytes = quotaBackendBytes
        configuration.listenMetricsURLs = split(listenMetricsURLs)
        do {
            configuration.autoCompaction = try KelsonConfiguration.autoCompactionPolicy(
                mode: autoCompactionMode, retention: autoCompactionRetention)
        } catch {
            throw ValidationError(error.description)
        }
        configuration.logLevel = try level(logLevel)
        configuration.clientTLS.certificateFile = certificateFile.isEmpty ? nil : certificateFile
        configuration.clientTLS.keyFile = keyFile.isEmpty ? nil : keyFile
        configuration.clientTLS.trustedCAFile = trustedCAFile.isEmpty ? nil : trustedCAFile
        configuration.clientTLS.clientCertificateAuthentication = clientCertificateAuthentication
        configuration.watchProgressNotifyInterval = watchProgressNotifyInterval.duration
        configuration.auth = auth
        guard authTokenTTL > 0 else { throw ValidationError("--auth-token-ttl must be a positive number of seconds") }
        configuration.authTokenTTL = .seconds(authTokenTTL)

        let level = configuration.logLevel
        switch logFormat {
        case "json":
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        case "console", "text":
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        default:
            throw ValidationError("--log-format must be console or json")
        }
        let logger = Logger(label: "kelson")
        // Metrics recorded through swift-metrics are exported in Prometheus's format on /metrics.
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(4), .milliseconds(8),
            .milliseconds(16), .milliseconds(32), .milliseconds(64), .milliseconds(128), .milliseconds(256),
            .milliseconds(512), .milliseconds(1024), .milliseconds(2048), .milliseconds(4096), .milliseconds(8192),
        ]
        factory.defaultValueHistogramBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
        MetricsSystem.bootstrap(factory)
        configuration.metricsExposition = { registry.emitToBuffer() }
        for warning in startupWarnings.withLock({ $0 }) { logger.warning("\(warning)") }
        let server = try KelsonServer(configuration: configuration, logger: logger)
        logger.info(
            "starting kelson etcd",
            metadata: [
                "name": "\(configuration.name)", "datastore": "\(configuration.resolvedDatastore)",
                "revision": "\(server.store.revision)",
            ])
        try await server.run()
    }

    private func split(_ urls: String) -> [String] {
        urls.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    private func level(_ text: String) throws -> Logger.Level {
        switch text.lowercased() {
        case "debug": return .debug
        case "info": return .info
        case "warn", "warning": return .warning
        case "error": return .error
        case "panic", "fatal": return .critical
        default: throw ValidationError("--log-level must be one of debug, info, warn, error, panic, fatal")
        }
    }
}

/// A duration flag in Go's syntax.
struct GoDurationArgument: ExpressibleByArgument {
    var text: String
    var duration: Duration

    init(text: String, duration: Duration) {
        self.text = text
        self.duration = duration
    }

    init?(argument: String) {
        guard let duration = GoDuration.parse(argument) else { return nil }
        self.init(text: argument, duration: duration)
    }

    var defaultValueDescription: String { text }
}
