import ArgumentParser
import Foundation
import Kelson
import Logging

/// `kelson`: the command line. Everything it runs lives in the `Kelson` library.
@main
struct KelsonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kelson",
        abstract: "An etcd v3-compatible server on SQLite.",
        subcommands: [EtcdCommand.self, SnapshotCommand.self])
}

struct EtcdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "etcd",
        abstract: "Serve etcd's v3 API from one SQLite file.",
        discussion: "Flags use etcd's names. Data lives in <data-dir>/kelson.db (SQLite, WAL mode).")

    @Option(name: .customLong("name"), help: "Human-readable name for this member.")
    var name = "default"

    @Option(name: .customLong("data-dir"), help: "Path to the data directory (default: <name>.kelson).")
    var dataDirectory: String?

    @Option(name: .customLong("listen-client-urls"), help: "Comma-separated URLs to listen on for client traffic.")
    var listenClientURLs = "http://127.0.0.1:2379"

    @Option(
        name: .customLong("advertise-client-urls"),
        help: "Comma-separated client URLs to advertise (default: the listen URLs).")
    var advertiseClientURLs: String?

    @Option(
        name: .customLong("max-request-bytes"), help: "Maximum client request size in bytes the server will accept.")
    var maximumRequestBytes = 1_572_864

    @Option(name: .customLong("max-txn-ops"), help: "Maximum number of operations permitted in a transaction.")
    var maximumTxnOperations = 128

    @Option(name: .customLong("log-level"), help: "Log level: debug, info, warn, error, panic or fatal.")
    var logLevel = "info"

    func run() async throws {
        var configuration = KelsonConfiguration()
        configuration.name = name
        configuration.dataDirectory = dataDirectory
        configuration.listenClientURLs = split(listenClientURLs)
        configuration.advertiseClientURLs = split(advertiseClientURLs ?? listenClientURLs)
        guard maximumRequestBytes > 0 else { throw ValidationError("--max-request-bytes must be positive") }
        guard maximumTxnOperations > 0 else { throw ValidationError("--max-txn-ops must be positive") }
        configuration.maximumRequestBytes = maximumRequestBytes
        configuration.maximumTxnOperations = maximumTxnOperations
        configuration.logLevel = try level(logLevel)

        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "kelson")
        let server = try KelsonServer(configuration: configuration, logger: logger)
        logger.info(
            "starting kelson etcd",
            metadata: [
                "name": "\(configuration.name)", "data-dir": "\(configuration.resolvedDataDirectory)",
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
