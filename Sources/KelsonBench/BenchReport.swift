import Foundation
import Histogram

/// What a run measured, printed as text or JSON (`--json`). Latencies are in milliseconds.
public struct BenchReport: Codable, Sendable, Equatable {
    public var workload: String
    public var endpoints: [String]
    public var conns: Int
    public var clients: Int
    /// Workload settings as given (key and value sizes, rate, consistency, …).
    public var parameters: [String: String]
    /// ISO 8601, UTC.
    public var startedAt: String
    public var seconds: Double
    /// Requests that completed successfully.
    public var requests: Int
    /// Successful requests per second over the whole run.
    public var throughput: Double
    /// Failed requests by error message.
    public var errors: [String: Int]
    /// One entry per operation kind, sorted by name. Workloads with one kind have one entry.
    public var operations: [OperationStats]
    /// Figures that are not latencies (e.g. watch events received).
    public var counters: [String: Int]

    public var failed: Int { errors.values.reduce(0, +) }
}

/// Latency statistics of one operation kind.
public struct OperationStats: Codable, Sendable, Equatable {
    public var name: String
    public var count: Int
    public var minMs: Double
    public var meanMs: Double
    public var stddevMs: Double
    public var maxMs: Double
    public var p50Ms: Double
    public var p90Ms: Double
    public var p99Ms: Double
    public var p999Ms: Double
    /// (percentile, milliseconds) points of the latency-by-percentile curve, for charts.
    public var curve: [[Double]]

    public init(name: String, histogram: Histogram<UInt64>) {
        let ms = { (microseconds: UInt64) in Double(microseconds) / 1_000 }
        self.name = name
        count = Int(histogram.totalCount)
        minMs = ms(histogram.min)
        meanMs = histogram.mean / 1_000
        stddevMs = histogram.stdDeviation / 1_000
        maxMs = ms(histogram.max)
        p50Ms = ms(histogram.valueAtPercentile(50))
        p90Ms = ms(histogram.valueAtPercentile(90))
        p99Ms = ms(histogram.valueAtPercentile(99))
        p999Ms = ms(histogram.valueAtPercentile(99.9))
        curve = histogram.percentiles(ticksPerHalfDistance: 5).map { [$0.percentile, ms($0.value)] }
    }
}

extension BenchReport {
    init(
        workload: String, options: LoadOptions, endpoints: [Endpoint], parameters: [String: String],
        startedAt: Date, seconds: Double, recorder: LatencyRecorder, counters: [String: Int],
        countedOperations: Set<String>?
    ) {
        self.workload = workload
        self.endpoints = endpoints.map(\.description)
        conns = options.conns
        clients = options.clients
        self.parameters = parameters
        self.startedAt = ISO8601DateFormatter().string(from: startedAt)
        self.seconds = seconds
        let counted = recorder.histograms.filter { countedOperations?.contains($0.key) ?? true }
        requests = counted.values.reduce(0) { $0 + Int($1.totalCount) }
        throughput = seconds > 0 ? Double(requests) / seconds : 0
        errors = recorder.errors
        operations = recorder.histograms.keys.sorted().map {
            OperationStats(name: $0, histogram: recorder.histograms[$0]!)
        }
        self.counters = counters
    }

    public func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The human-readable report, in the spirit of etcd's `benchmark` summary.
    public var text: String {
        var lines: [String] = []
        lines.append(
            "Workload: \(workload) against \(endpoints.joined(separator: ",")) (\(conns) conns, \(clients) clients)")
        if !parameters.isEmpty {
            lines.append(
                "Parameters: " + parameters.keys.sorted().map { "\($0)=\(parameters[$0]!)" }.joined(separator: " "))
        }
        lines.append("")
        lines.append("Summary:")
        lines.append("  Total:\t\(Self.fixed(seconds, 4)) secs.")
        lines.append("  Requests:\t\(requests)")
        lines.append("  Failed:\t\(failed)")
        lines.append("  Requests/sec:\t\(Self.fixed(throughput, 1))")
        for operation in operations {
            lines.append("")
            lines.append("Latency of \(operation.name) (\(operation.count) samples), ms:")
            lines.append("  Fastest:\t\(Self.fixed(operation.minMs, 3))")
            lines.append("  Average:\t\(Self.fixed(operation.meanMs, 3))")
            lines.append("  Stddev:\t\(Self.fixed(operation.stddevMs, 3))")
            lines.append("  Slowest:\t\(Self.fixed(operation.maxMs, 3))")
            lines.append("  p50:\t\(Self.fixed(operation.p50Ms, 3))")
            lines.append("  p90:\t\(Self.fixed(operation.p90Ms, 3))")
            lines.append("  p99:\t\(Self.fixed(operation.p99Ms, 3))")
            lines.append("  p99.9:\t\(Self.fixed(operation.p999Ms, 3))")
        }
        if !counters.isEmpty {
            lines.append("")
            lines.append("Counters:")
            for name in counters.keys.sorted() { lines.append("  \(name):\t\(counters[name]!)") }
        }
        if !errors.isEmpty {
            lines.append("")
            lines.append("Errors:")
            for message in errors.keys.sorted() { lines.append("  \(errors[message]!)×\t\(message)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
}
