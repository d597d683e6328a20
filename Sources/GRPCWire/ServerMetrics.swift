import Metrics
import Synchronization

/// go-grpc-prometheus's server metrics, which etcd exports: `grpc_server_started_total` and
/// `grpc_server_handled_total` with `grpc_type`, `grpc_service`, `grpc_method` (and `grpc_code` on handled), through
/// swift-metrics (whatever backend the process bootstrapped; none: they cost next to nothing). Counters are made
/// once per label set and cached, so a call costs one dictionary look-up under a lock.
enum ServerMetrics {
    private struct Key: Hashable {
        var path: String
        var streaming: Bool
        var code: Int?
    }
    private static let counters = Mutex<[Key: Counter]>([:])

    static func started(path: String, streaming: Bool) {
        counter(Key(path: path, streaming: streaming, code: nil)).increment()
    }

    static func handled(path: String, streaming: Bool, code: GRPCStatus.Code) {
        counter(Key(path: path, streaming: streaming, code: code.rawValue)).increment()
    }

    private static func counter(_ key: Key) -> Counter {
        counters.withLock { counters in
            if let counter = counters[key] { return counter }
            // "/etcdserverpb.KV/Range" -> service "etcdserverpb.KV", method "Range".
            let parts = key.path.split(separator: "/", omittingEmptySubsequences: true)
            var dimensions = [
                ("grpc_type", key.streaming ? "bidi_stream" : "unary"),
                ("grpc_service", parts.first.map(String.init) ?? ""),
                ("grpc_method", parts.count > 1 ? String(parts[1]) : ""),
            ]
            if let code = key.code { dimensions.append(("grpc_code", GRPCStatus.Code(rawValue: code).description)) }
            let counter = Counter(
                label: key.code == nil ? "grpc_server_started_total" : "grpc_server_handled_total",
                dimensions: dimensions)
            counters[key] = counter
            return counter
        }
    }
}
