import Logging
import RevisionLog

/// Everything needed to run `kelson etcd`, with etcd's names and defaults where they exist.
public struct KelsonConfiguration: Sendable {
    /// etcd's `--name`; also names the default data directory.
    public var name = "default"
    /// etcd's `--data-dir`. Default: `<name>.kelson` in the working directory (etcd uses `<name>.etcd`).
    public var dataDirectory: String?
    /// `--datastore`: `sqlite:///dir` (the same as `--data-dir dir`) or `postgres://…` (see `Datastore`).
    /// nil: SQLite in the data directory.
    public var datastore: Datastore?
    /// etcd's `--listen-client-urls`: where the gRPC API (and `/health`, `/version`) listens. Loopback only by
    /// default; `https://` URLs need `clientTLS`.
    public var listenClientURLs = ["http://127.0.0.1:2379"]
    /// etcd's `--advertise-client-urls`: what Kelson tells clients to use.
    public var advertiseClientURLs = ["http://127.0.0.1:2379"]
    /// etcd's `--initial-advertise-peer-urls`. Kelson has no peers; MemberList reports these.
    public var advertisePeerURLs = ["http://localhost:2380"]
    /// etcd's `--max-request-bytes`.
    public var maximumRequestBytes = 1_572_864
    /// etcd's `--quota-backend-bytes`: 0 means etcd's default (2 GiB), negative turns the quota off. Past it, writes
    /// that add data fail with `etcdserver: mvcc: database space exceeded` and the NOSPACE alarm is raised.
    public var quotaBackendBytes: Int64 = 0
    /// etcd's `--auto-compaction-mode` and `--auto-compaction-retention` (see `autoCompactionPolicy`); nil: off.
    public var autoCompaction: AutoCompactionPolicy?
    /// The metrics in Prometheus's text format, served on `/metrics` of the client URLs and of
    /// `listenMetricsURLs`. nil: no `/metrics` (a program embedding Kelson may export metrics its own way; Kelson
    /// records them through swift-metrics either way). `kelson etcd` sets it to swift-prometheus's registry.
    public var metricsExposition: (@Sendable () -> [UInt8])?
    /// etcd's `--listen-metrics-urls`: extra plain-HTTP listeners serving only `/metrics` and `/health`.
    public var listenMetricsURLs: [String] = []
    /// etcd's `--max-txn-ops`.
    public var maximumTxnOperations = 128
    /// etcd's `--log-level`.
    public var logLevel: Logger.Level = .info
    /// etcd's `--cert-file`, `--key-file`, `--trusted-ca-file` and `--client-cert-auth`.
    public var clientTLS = ClientTLSConfiguration()
    /// etcd's `--experimental-watch-progress-notify-interval`. As in etcd, zero or less keeps the default (10 min)
    /// and anything under 100 ms becomes 100 ms.
    public var watchProgressNotifyInterval: Duration = .seconds(600)
    /// `kelson etcd --auth`: turn etcd's auth on at startup (as `etcdctl auth enable` would). Needs a
    /// `root` user with the `root` role; startup fails with instructions otherwise.
    public var auth = false
    /// etcd's `--auth-token-ttl`: a simple token lives this long after its last use.
    public var authTokenTTL: Duration = .seconds(300)
    /// Where lease expiry reads the time. Embedders and tests may drive it (`ManualLeaseClock`: leases expire only
    /// when it is advanced); `kelson etcd` uses the system clock.
    public var leaseClock: any LeaseClock = SystemLeaseClock()

    public init() {}

    /// The data directory actually used (for SQLite; also where snapshot copies are staged).
    public var resolvedDataDirectory: String {
        if case .sqlite(let directory) = datastore { return directory }
        return dataDirectory ?? "\(name).kelson"
    }
    /// The datastore actually used.
    public var resolvedDatastore: Datastore { datastore ?? .sqlite(directory: resolvedDataDirectory) }
    /// The SQLite database inside the data directory.
    public var databasePath: String { resolvedDataDirectory + "/kelson.db" }
}

extension KelsonConfiguration {
    /// etcd's `parseCompactionRetention`: a bare integer is hours (`periodic`) or revisions (`revision`); `periodic`
    /// also takes a Go duration (`30m`, `1h30m`). Zero turns auto-compaction off (nil).
    public static func autoCompactionPolicy(mode: String, retention: String) throws(KelsonError)
        -> AutoCompactionPolicy?
    {
        switch mode {
        case "periodic":
            if let hours = Int64(retention), hours >= 0 {
                return hours == 0 ? nil : .periodic(.seconds(hours * 3600))
            }
            guard let duration = GoDuration.parse(retention), duration >= .zero else {
                throw KelsonError(
                    "--auto-compaction-retention \(retention): expected hours (e.g. 1) or a duration (e.g. 30m)")
            }
            return duration == .zero ? nil : .periodic(duration)
        case "revision":
            guard let revisions = Int64(retention), revisions >= 0 else {
                throw KelsonError("--auto-compaction-retention \(retention): revision mode takes a number of revisions")
            }
            return revisions == 0 ? nil : .revisions(revisions)
        default:
            throw KelsonError("unknown auto-compaction-mode \"\(mode)\"")
        }
    }
}

/// A listen URL split into what a socket needs.
struct ListenAddress: Equatable {
    var host: String
    var port: Int
    /// An `https://` URL: the listener serves TLS.
    var isTLS = false

    /// Accepts `http://host:port`, `https://host:port` (and `host:port`); unix sockets are not served.
    init(url: String) throws(KelsonError) {
        var rest = Substring(url)
        if rest.hasPrefix("http://") {
            rest = rest.dropFirst("http://".count)
        } else if rest.hasPrefix("https://") {
            rest = rest.dropFirst("https://".count)
            isTLS = true
        } else if rest.hasPrefix("unixs://") || rest.hasPrefix("unix://") {
            throw KelsonError("listen URL \(url): only http:// and https:// URLs are supported")
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw KelsonError("listen URL \(url) has no valid port (expected http://host:port)")
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { host = "127.0.0.1" }
        if host.isEmpty { throw KelsonError("listen URL \(url) has no host") }
        self.host = host
        self.port = port
    }
}

/// A configuration or startup problem, explained for the person running Kelson.
public struct KelsonError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
