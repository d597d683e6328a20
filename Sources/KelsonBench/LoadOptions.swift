import ArgumentParser
import Kelson

/// The flags every workload shares, with etcd's `tools/benchmark` names and defaults.
public struct LoadOptions: ParsableArguments, Sendable {
    @Option(help: "Comma-separated gRPC endpoints (host:port or http://host:port).")
    public var endpoints = "127.0.0.1:2379"

    @Option(help: "Total number of gRPC connections, spread over the endpoints.")
    public var conns = 1

    @Option(help: "Total number of concurrent clients, spread over the connections.")
    public var clients = 1

    @Option(help: "Total number of requests (default 10000; not with --duration).")
    public var total: Int?

    @Option(help: "Run for this long instead of a request count (Go syntax: 30s, 1m).")
    public var duration: String?

    @Option(name: .customLong("key-size"), help: "Key size in bytes, including --key-prefix.")
    public var keySize = 8

    @Option(name: .customLong("val-size"), help: "Value size in bytes.")
    public var valueSize = 8

    @Option(name: .customLong("key-space-size"), help: "Number of distinct keys written.")
    public var keySpaceSize = 1

    @Flag(name: .customLong("sequential-keys"), help: "Write keys in order (0, 1, 2, …) instead of at random.")
    public var sequentialKeys = false

    @Option(name: .customLong("key-prefix"), help: "Prefix of every written key (e.g. /bench/).")
    public var keyPrefix = ""

    @Option(help: "Maximum requests per second over all clients (default: no limit; watch-latency: 100).")
    public var rate: Int?

    @Option(help: "Linearizable (l) or serializable (s) reads.")
    public var consistency = "l"

    @Flag(help: "Print the report as JSON instead of text.")
    public var json = false

    @Option(help: "Also write a latency-by-percentile chart to this SVG file.")
    public var svg: String?

    public init() {}

    public mutating func validate() throws {
        _ = try parsedEndpoints()
        guard conns > 0 else { throw ValidationError("--conns must be at least 1") }
        guard clients > 0 else { throw ValidationError("--clients must be at least 1") }
        guard keySize > 0 else { throw ValidationError("--key-size must be at least 1") }
        guard valueSize >= 0 else { throw ValidationError("--val-size must not be negative") }
        guard keySpaceSize > 0 else { throw ValidationError("--key-space-size must be at least 1") }
        if let rate, rate <= 0 { throw ValidationError("--rate must be at least 1") }
        guard consistency == "l" || consistency == "s" else {
            throw ValidationError("--consistency must be l (linearizable) or s (serializable)")
        }
        if total != nil, duration != nil { throw ValidationError("give --total or --duration, not both") }
        if let total, total <= 0 { throw ValidationError("--total must be at least 1") }
        _ = try stopCondition()
        _ = try keys()
    }

    public var serializable: Bool { consistency == "s" }

    public func parsedEndpoints() throws -> [Endpoint] {
        let parts = endpoints.split(separator: ",").map(String.init).filter { !$0.isEmpty }
        guard !parts.isEmpty else { throw ValidationError("--endpoints must name at least one host:port") }
        return try parts.map { part in
            guard let endpoint = Endpoint(part) else {
                throw ValidationError("--endpoints: '\(part)' is not host:port or http://host:port")
            }
            return endpoint
        }
    }

    public func stopCondition() throws -> StopCondition {
        if let duration {
            guard let parsed = GoDuration.parse(duration), parsed > .zero else {
                throw ValidationError("--duration: '\(duration)' is not a positive Go duration such as 30s")
            }
            return .duration(parsed)
        }
        return .total(total ?? 10_000)
    }

    public func keys() throws -> KeyGenerator {
        try KeyGenerator(
            prefix: keyPrefix, size: keySize, space: keySpaceSize, sequential: sequentialKeys)
    }
}

/// When a run ends.
public enum StopCondition: Sendable, Equatable {
    case total(Int)
    case duration(Duration)
}

/// One server address. TLS endpoints are not supported by the benchmark (etcd's numbers here are plain TCP).
public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        var rest = Substring(text)
        if rest.hasPrefix("http://") { rest = rest.dropFirst("http://".count) }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
            (1...65_535).contains(port)
        else { return nil }
        var host = rest[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty, !host.contains("/") else { return nil }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
