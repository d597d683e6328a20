import Foundation
import PostgresBackend
import RevisionLog
import SQLiteBackend

/// Where a store lives, from `--datastore` (and `kelson migrate --from/--to`):
/// - `sqlite:///path/to/dir` — a data directory holding `kelson.db` (the default, same as `--data-dir`);
/// - `postgres://user:pass@host:port/db?sslmode=…` (or `postgresql://`) — a PostgreSQL database that several
///   Kelson processes may share; libpq's URL syntax, including `options=-c%20search_path%3Dschema`;
/// - `etcd://host:port` — a live etcd, read through its API (a migration source only).
public enum Datastore: Sendable, Equatable, CustomStringConvertible {
    case sqlite(directory: String)
    case postgres(url: String)
    case etcd(endpoint: String)

    /// Parses `--datastore` (or `--from`/`--to` of `kelson migrate`); an unknown scheme is an error naming it.
    public init(url: String) throws(KelsonError) {
        if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else {
                throw KelsonError("datastore \(url): give a directory, as sqlite:///path/to/dir")
            }
            self = .sqlite(directory: path)
        } else if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            self = .postgres(url: url)
        } else if url.hasPrefix("etcd://") {
            let endpoint = String(url.dropFirst("etcd://".count)).trimmingCharacters(
                in: CharacterSet(charactersIn: "/"))
            guard endpoint.contains(":") else { throw KelsonError("datastore \(url): expected etcd://host:port") }
            self = .etcd(endpoint: endpoint)
        } else {
            throw KelsonError(
                "datastore \(url): expected sqlite:///path, postgres://user:pass@host:port/db or etcd://host:port")
        }
    }

    /// The URL with any password replaced, for logs.
    public var description: String {
        switch self {
        case .sqlite(let directory): return "sqlite://\(directory)"
        case .etcd(let endpoint): return "etcd://\(endpoint)"
        case .postgres(let url):
            guard var components = URLComponents(string: url), components.password != nil else { return url }
            components.password = "xxxxx"
            return components.string ?? "postgres://…"
        }
    }

    /// Opens (creating when new) the backend of a `sqlite://` or `postgres://` datastore. With `creating`
    /// false, a datastore that holds no Kelson store is an error instead (a migration source).
    public func openBackend(creating: Bool = true) throws -> any LogBackend {
        switch self {
        case .sqlite(let directory):
            let path = directory + "/kelson.db"
            if !creating && !FileManager.default.fileExists(atPath: path) {
                throw KelsonError("\(self): no Kelson store here (\(path) does not exist)")
            }
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw KelsonError("cannot create data directory \(directory): \(error.localizedDescription)")
            }
            var configuration = SQLiteConfiguration(path: path)
            // Tests only (the power-cut torture mode): see `SimulatedPowerCut`.
            configuration.simulatePowerCut =
                ProcessInfo.processInfo.environment[SimulatedPowerCut.environmentVariable] == "1"
            return try SQLiteBackend(configuration: configuration)
        case .postgres(let url):
            var configuration = PostgresConfiguration(url: url)
            configuration.createsTables = creating
            return try PostgresBackend(configuration: configuration)
        case .etcd:
            throw KelsonError("\(self) is a live etcd: it can only be read through its API (kelson migrate --from)")
        }
    }
}
