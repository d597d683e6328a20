import ArgumentParser
import EtcdAPI
import Foundation
import GRPCWire
import Kelson
import RevisionLog

/// `kelson bench`: etcd's benchmark vocabulary over plain etcd v3 gRPC, so it measures etcd as well as Kelson.
public struct BenchCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark an etcd v3 server (Kelson or etcd) with etcd's benchmark workloads.",
        discussion: """
            Flags follow etcd's tools/benchmark and come after the workload name, e.g.
              kelson bench put --clients 16 --conns 16 --total 100000 --key-size 16 --val-size 256
            Reports throughput and latency percentiles (HdrHistogram); --json for machines, --svg FILE for a chart.
            The exit status is 1 when any request failed.
            """,
        subcommands: [
            Put.self, RangeCommand.self, TxnPut.self, TxnMixed.self, WatchLatency.self, LeaseKeepAlive.self,
            Kubernetes.self, FirstAnswer.self,
        ])

    public init() {}

    /// A workload subcommand: its load options and the workload they describe.
    protocol WorkloadCommand: AsyncParsableCommand {
        var load: LoadOptions { get }
        func workload() throws -> (any Workload, LoadOptions)
    }

    public struct Put: WorkloadCommand {
        public static let configuration = CommandConfiguration(commandName: "put", abstract: "Puts of generated keys.")
        @OptionGroup var load: LoadOptions
        public init() {}
        func workload() throws -> (any Workload, LoadOptions) { (PutWorkload(), load) }
    }

    public struct RangeCommand: WorkloadCommand {
        public static let configuration = CommandConfiguration(
            commandName: "range", abstract: "The same Range request over and over (one key, [KEY, END) or a prefix).")
        @OptionGroup var load: LoadOptions
        @Argument(help: "The key, or the start of the range.") var key: String
        @Argument(help: "The end of the range (exclusive).") var end: String?
        @Flag(help: "Range over every key starting with KEY.") var prefix = false
        @Option(help: "Maximum keys per response (0: no limit).") var limit: Int64 = 0
        @Flag(name: .customLong("count-only"), help: "Ask only for the count.") var countOnly = false
        public init() {}

        public func validate() throws {
            if prefix, end != nil { throw ValidationError("give END or --prefix, not both") }
            guard limit >= 0 else { throw ValidationError("--limit must not be negative") }
        }

        func workload() throws -> (any Workload, LoadOptions) {
            let key = Array(key.utf8)
            let end = prefix ? KeyRange.prefixEnd(key) : Array((end ?? "").utf8)
            return (RangeWorkload(key: key, end: end, limit: limit, countOnly: countOnly), load)
        }
    }

    public struct TxnPut: WorkloadCommand {
        public static let configuration = CommandConfiguration(
            commandName: "txn-put", abstract: "Txns of Puts with no compare.")
        @OptionGroup var load: LoadOptions
        @Option(name: .customLong("txn-ops"), help: "Puts per txn.") var txnOperations = 1
        public init() {}

        public func validate() throws {
            guard txnOperations > 0 else { throw ValidationError("--txn-ops must be at least 1") }
        }

        func workload() throws -> (any Workload, LoadOptions) { (TxnPutWorkload(operations: txnOperations), load) }
    }

    public struct TxnMixed: WorkloadCommand {
        public static let configuration = CommandConfiguration(
            commandName: "txn-mixed", abstract: "Txns that read [KEY, END) or put a generated key.")
        @OptionGroup var load: LoadOptions
        @Argument(help: "The start of the range read.") var key: String
        @Argument(help: "The end of the range read (default: the prefix end of KEY).") var end: String?
        @Option(name: .customLong("rw-ratio"), help: "Reads per write.") var readWriteRatio = 1.0
        @Option(help: "Maximum keys a read returns (0: no limit).") var limit: Int64 = 0
        public init() {}

        public func validate() throws {
            guard readWriteRatio >= 0, readWriteRatio.isFinite else {
                throw ValidationError("--rw-ratio must be a non-negative number")
            }
            guard limit >= 0 else { throw ValidationError("--limit must not be negative") }
        }

        func workload() throws -> (any Workload, LoadOptions) {
            let start = Array(key.utf8)
            let end = end.map { Array($0.utf8) } ?? KeyRange.prefixEnd(start)
            return (TxnMixedWorkload(key: start, end: end, readWriteRatio: readWriteRatio, limit: limit), load)
        }
    }

    public struct WatchLatency: WorkloadCommand {
        public static let configuration = CommandConfiguration(
            commandName: "watch-latency",
            abstract: "Time from each Put's start to every watcher receiving its event (--rate defaults to 100).")
        @OptionGroup var load: LoadOptions
        @Option(help: "Watch streams (spread over the connections).") var streams = 10
        @Option(name: .customLong("watchers-per-stream"), help: "Watchers on each stream.") var watchersPerStream = 10
        public init() {}

        public func validate() throws {
            guard streams > 0, watchersPerStream > 0 else {
                throw ValidationError("--streams and --watchers-per-stream must be at least 1")
            }
        }

        func workload() throws -> (any Workload, LoadOptions) {
            var load = load
            if load.rate == nil { load.rate = 100 }
            if load.total == nil, load.duration == nil { load.total = 1_000 }
            return (WatchLatencyWorkload(streams: streams, watchersPerStream: watchersPerStream), load)
        }
    }

    public struct LeaseKeepAlive: WorkloadCommand {
        public static let configuration = CommandConfiguration(
            commandName: "lease-keepalive", abstract: "LeaseKeepAlive round trips, one lease and stream per client.")
        @OptionGroup var load: LoadOptions
        public init() {}
        func workload() throws -> (any Workload, LoadOptions) { (LeaseKeepAliveWorkload(), load) }
    }

    public struct Kubernetes: WorkloadCommand {
        public static let configuration = CommandConfiguration(
            commandName: "kubernetes",
            abstract: "kube-apiserver's shapes: guarded create/update/delete Txns, paginated lists, watches.")
        @OptionGroup var load: LoadOptions
        @Option(help: "Watch streams on the prefix.") var watchers = 2
        @Option(name: .customLong("page-size"), help: "Keys per list page.") var pageSize: Int64 = 500
        public init() {}

        public func validate() throws {
            guard watchers >= 0 else { throw ValidationError("--watchers must not be negative") }
            guard pageSize > 0 else { throw ValidationError("--page-size must be at least 1") }
        }

        /// Kubernetes keys are long; the defaults make room for them.
        func workload() throws -> (any Workload, LoadOptions) {
            var load = load
            if load.keyPrefix.isEmpty { load.keyPrefix = "/registry/pods/bench/" }
            if load.keySpaceSize == 1 { load.keySpaceSize = 1_000 }
            load.keySize = max(load.keySize, load.keyPrefix.utf8.count + String(load.keySpaceSize - 1).count)
            return (KubernetesWorkload(watchers: watchers, pageSize: pageSize), load)
        }
    }

    /// Retries one Range until it is answered and prints when: the compare script starts this before a
    /// server and subtracts the server's start time.
    public struct FirstAnswer: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "first-answer",
            abstract: "Wait until the endpoint answers a Range; print the wall-clock time of the answer as JSON.")
        @Option(help: "The endpoint (host:port).") var endpoints = "127.0.0.1:2379"
        @Option(help: "Give up after this long (Go syntax).") var timeout = "30s"
        @Option(help: "Linearizable (l) or serializable (s) read.") var consistency = "l"
        public init() {}

        public func validate() throws {
            guard Endpoint(endpoints) != nil else { throw ValidationError("--endpoints must be one host:port") }
            guard GoDuration.parse(timeout) != nil else { throw ValidationError("--timeout must be a Go duration") }
            guard consistency == "l" || consistency == "s" else {
                throw ValidationError("--consistency must be l (linearizable) or s (serializable)")
            }
        }

        public func run() async throws {
            let endpoint = Endpoint(endpoints)!
            let deadline = ContinuousClock.now + GoDuration.parse(timeout)!
            let request: [UInt8] = try Requests.range(Array("first-answer".utf8), serializable: consistency == "s")
                .serializedBytes()
            var attempts = 0
            while ContinuousClock.now < deadline {
                attempts += 1
                var configuration = GRPCClientConfiguration(host: endpoint.host, port: endpoint.port)
                configuration.connectTimeout = .seconds(1)
                if let client = try? await GRPCClient.connect(configuration) {
                    let answered =
                        (try? await client.unary(Requests.range, request: request, timeout: .seconds(2))) != nil
                    await client.close()
                    if answered {
                        print(#"{"answeredAtUnix": \#(Date().timeIntervalSince1970), "attempts": \#(attempts)}"#)
                        return
                    }
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            throw BenchError("no answer from \(endpoint) within \(timeout)")
        }
    }
}

extension BenchCommand.WorkloadCommand {
    public func run() async throws {
        let (workload, load) = try workload()
        let report = try await LoadDriver.run(workload, options: load)
        print(load.json ? try report.jsonText() : report.text, terminator: load.json ? "\n" : "")
        if let svg = load.svg {
            let series = report.operations.map { SVGChart.Series(name: $0.name, points: $0.curve) }
            let title = "\(report.workload): latency by percentile (\(report.clients) clients)"
            try SVGChart.latencyByPercentile(title: title, series: series)
                .write(toFile: svg, atomically: true, encoding: .utf8)
        }
        if report.failed > 0 { throw ExitCode(1) }
    }
}
