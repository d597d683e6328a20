import Foundation
import Yams

/// etcd's other ways to give `kelson etcd` its flags, turned into command-line arguments so one parser checks
/// them all:
/// - `--config-file FILE`: etcd's YAML configuration (keys are flag names; TLS settings may also sit under
///   `client-transport-security:` as in etcd). As in etcd, the file then replaces every other flag and
///   environment variable. Unknown keys are an error naming the key; etcd keys that mean nothing to a
///   single-member Kelson (peers, raft timings, WAL settings) are accepted and ignored with a warning.
/// - `ETCD_<FLAG>` environment variables (`ETCD_DATA_DIR`, `ETCD_QUOTA_BACKEND_BYTES`, …), for flags not given on
///   the command line, as etcd reads them.
enum EtcdFlagSources {
    enum Kind {
        case value
        case boolean
    }

    /// Every flag `kelson etcd` takes (`EtcdCommand`); OperationsTests checks that `--help` names exactly these (and
    /// `--config-file`), so keep its list in step.
    static let flags: [String: Kind] = [
        "name": .value, "data-dir": .value, "datastore": .value, "listen-client-urls": .value,
        "advertise-client-urls": .value, "max-request-bytes": .value, "quota-backend-bytes": .value,
        "auto-compaction-mode": .value, "auto-compaction-retention": .value, "max-txn-ops": .value,
        "log-level": .value, "log-format": .value, "cert-file": .value, "key-file": .value, "trusted-ca-file": .value,
        "client-cert-auth": .boolean, "experimental-watch-progress-notify-interval": .value,
        "watch-progress-notify-interval": .value, "auth": .boolean, "auth-token-ttl": .value,
        "listen-metrics-urls": .value,
    ]

    /// etcd settings a single-member Kelson has no use for.
    static let ignored: Set<String> = [
        "initial-cluster", "initial-cluster-token", "initial-cluster-state", "initial-advertise-peer-urls",
        "listen-peer-urls", "peer-transport-security", "heartbeat-interval", "election-timeout", "snapshot-count",
        "wal-dir", "max-snapshots", "max-wals", "enable-v2", "enable-pprof", "strict-reconfig-check", "logger",
        "log-outputs", "metrics", "discovery", "discovery-srv", "discovery-fallback", "discovery-proxy",
        "force-new-cluster", "proxy", "debug", "enable-grpc-gateway", "auto-compaction-retention-unit",
    ]

    /// etcd's TLS keys under `client-transport-security:`.
    static let clientSecurityKeys: Set<String> = ["cert-file", "key-file", "trusted-ca-file", "client-cert-auth"]

    /// The arguments `kelson etcd` runs with, and warnings to log once logging is up.
    static func resolve(_ arguments: [String], environment: [String: String]) throws -> (
        arguments: [String], warnings: [String]
    ) {
        if let path = configFile(in: arguments) {
            var warnings: [String] = []
            let others = arguments.filter { $0.hasPrefix("--") && !$0.hasPrefix("--config-file") }
            if !others.isEmpty {
                warnings.append(
                    "loaded server configuration from \(path); other command line flags and environment variables are ignored"
                )
            }
            let (fromFile, ignoredKeys) = try Self.arguments(fromConfigFile: path)
            warnings += ignoredKeys.map { "config file key \($0) does not apply to Kelson; ignored" }
            return (fromFile, warnings)
        }
        return fromEnvironment(arguments, environment)
    }

    private static func configFile(in arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--config-file", index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--config-file=") { return String(argument.dropFirst("--config-file=".count)) }
        }
        return nil
    }

    /// The file's settings as arguments, plus the etcd keys it ignored.
    static func arguments(fromConfigFile path: String) throws -> (arguments: [String], ignored: [String]) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError("cannot read config file \(path): \(error.localizedDescription)")
        }
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch {
            throw ConfigError("config file \(path) is not valid YAML: \(error)")
        }
        guard let root else { return ([], []) }
        guard let settings = root as? [String: Any] else {
            throw ConfigError("config file \(path): expected a mapping of etcd setting names to values")
        }
        var arguments: [String] = []
        var ignoredKeys: [String] = []
        func add(_ key: String, _ value: Any, in section: String? = nil) throws {
            let place = section.map { "\($0).\(key)" } ?? key
            guard let kind = flags[key] else { throw ConfigError("config file \(path): unknown key \(place)") }
            if value is NSNull { return }
            switch kind {
            case .boolean:
                guard let flag = value as? Bool else {
                    throw ConfigError("config file \(path): \(place) must be true or false")
                }
                if flag { arguments.append("--\(key)") }
            case .value:
                if value is [Any] || value is [String: Any] {
                    throw ConfigError(
                        "config file \(path): \(place) must be a single value (lists are comma-separated)")
                }
                arguments += ["--\(key)", "\(value)"]
            }
        }
        for key in settings.keys.sorted() {
            let value = settings[key]!
            if key == "client-transport-security" {
                guard let section = value as? [String: Any] else {
                    throw ConfigError("config file \(path): client-transport-security must be a mapping")
                }
                for (inner, innerValue) in section.sorted(by: { $0.key < $1.key }) {
                    if inner == "auto-tls" {
                        if innerValue as? Bool == true {
                            throw ConfigError(
                                "config file \(path): client-transport-security.auto-tls is not supported; give cert-file and key-file"
                            )
                        }
                        continue
                    }
                    guard clientSecurityKeys.contains(inner) else {
                        throw ConfigError("config file \(path): unknown key client-transport-security.\(inner)")
                    }
                    try add(inner, innerValue, in: key)
                }
            } else if ignored.contains(key) {
                ignoredKeys.append(key)
            } else {
                try add(key, value)
            }
        }
        return (arguments, ignoredKeys)
    }

    /// `arguments` plus `--flag value` for every `ETCD_FLAG` whose flag the command line does not give.
    static func fromEnvironment(_ arguments: [String], _ environment: [String: String]) -> (
        arguments: [String], warnings: [String]
    ) {
        let given = Set(
            arguments.filter { $0.hasPrefix("--") }.map { String($0.dropFirst(2).prefix { $0 != "=" }) })
        var result = arguments
        var warnings: [String] = []
        for (variable, value) in environment.sorted(by: { $0.key < $1.key }) where variable.hasPrefix("ETCD_") {
            let flag = variable.dropFirst("ETCD_".count).lowercased().replacingOccurrences(of: "_", with: "-")
            guard let kind = flags[flag] else {
                if !ignored.contains(flag) && !["ETCDCTL_API"].contains(variable) {
                    warnings.append("unrecognized environment variable \(variable)=\(value)")
                }
                continue
            }
            if given.contains(flag) {
                warnings.append("ignoring environment variable \(variable): the flag --\(flag) is set")
                continue
            }
            switch kind {
            case .boolean: result.append("--\(flag)=\(value)")
            case .value: result += ["--\(flag)", value]
            }
        }
        return (result, warnings)
    }
}

struct ConfigError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
