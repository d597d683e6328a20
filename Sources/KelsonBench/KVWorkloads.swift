import EtcdAPI
import Foundation

/// `put`: one Put per request, keys from the key generator.
public struct PutWorkload: Workload {
    public init() {}
    public var name: String { "put" }

    public func unaryStep(_ context: LoadContext) throws -> UnaryStep? {
        UnaryStep(path: Requests.put) { request in
            (try Requests.put(context.keys.key(forRequest: request), context.value).serializedBytes(), "put")
        }
    }
}

/// `range KEY [END]`: the same Range every request (one key, `[KEY, END)`, or the prefix with `--prefix`).
public struct RangeWorkload: Workload {
    public var key: [UInt8]
    public var end: [UInt8]
    public var limit: Int64
    public var countOnly: Bool

    public init(key: [UInt8], end: [UInt8], limit: Int64, countOnly: Bool) {
        self.key = key
        self.end = end
        self.limit = limit
        self.countOnly = countOnly
    }

    public var name: String { "range" }

    public var parameters: [String: String] {
        var parameters = ["key": String(decoding: key, as: UTF8.self)]
        if !end.isEmpty { parameters["range-end"] = String(decoding: end, as: UTF8.self) }
        if limit > 0 { parameters["limit"] = String(limit) }
        if countOnly { parameters["count-only"] = "true" }
        return parameters
    }

    public func unaryStep(_ context: LoadContext) throws -> UnaryStep? {
        let range: [UInt8] = try Requests.range(
            key, end: end, limit: limit, serializable: context.options.serializable, countOnly: countOnly
        ).serializedBytes()
        return UnaryStep(path: Requests.range) { _ in (range, "range") }
    }
}

/// `txn-put`: a Txn of `operations` Puts with no compare (etcd's `txn-put --txn-ops`).
public struct TxnPutWorkload: Workload {
    public var operations: Int

    public init(operations: Int) { self.operations = operations }

    public var name: String { "txn-put" }
    public var parameters: [String: String] { ["txn-ops": String(operations)] }

    public func unaryStep(_ context: LoadContext) throws -> UnaryStep? {
        let operations = operations
        return UnaryStep(path: Requests.txn) { request in
            var txn = Etcdserverpb_TxnRequest()
            // Distinct keys: etcd refuses a txn that puts one key twice.
            var seen = Set<[UInt8]>()
            for offset in 0..<operations {
                let key = context.keys.key(forRequest: request * operations + offset)
                guard seen.insert(key).inserted else { continue }
                txn.success.append(Requests.operation(Requests.put(key, context.value)))
            }
            return (try txn.serializedBytes(), "txn-put")
        }
    }
}

/// `txn-mixed KEY [END]`: Txns that either read `[KEY, END)` or put a generated key, `rwRatio` reads per write
/// on average (etcd's `txn-mixed --rw-ratio`). Reads and writes are reported separately.
public struct TxnMixedWorkload: Workload {
    public var key: [UInt8]
    public var end: [UInt8]
    public var readWriteRatio: Double
    public var limit: Int64

    public init(key: [UInt8], end: [UInt8], readWriteRatio: Double, limit: Int64) {
        self.key = key
        self.end = end
        self.readWriteRatio = readWriteRatio
        self.limit = limit
    }

    public var name: String { "txn-mixed" }

    public var parameters: [String: String] {
        [
            "key": String(decoding: key, as: UTF8.self), "range-end": String(decoding: end, as: UTF8.self),
            "rw-ratio": String(readWriteRatio), "limit": String(limit),
        ]
    }

    public func unaryStep(_ context: LoadContext) throws -> UnaryStep? {
        var read = Etcdserverpb_TxnRequest()
        read.success = [
            Requests.operation(
                Requests.range(key, end: end, limit: limit, serializable: context.options.serializable))
        ]
        let readBytes: [UInt8] = try read.serializedBytes()
        let readShare = readWriteRatio / (readWriteRatio + 1)
        return UnaryStep(path: Requests.txn) { request in
            if Double.random(in: 0..<1) < readShare { return (readBytes, "txn-read") }
            var write = Etcdserverpb_TxnRequest()
            write.success = [Requests.operation(Requests.put(context.keys.key(forRequest: request), context.value))]
            return (try write.serializedBytes(), "txn-write")
        }
    }
}
