import ArgumentParser
import RevisionLog
import XCTest

@testable import KelsonBench

final class ArgumentTests: XCTestCase {
    private func parse(_ arguments: [String]) throws -> any BenchCommand.WorkloadCommand {
        let command = try BenchCommand.parseAsRoot(arguments)
        return try XCTUnwrap(command as? any BenchCommand.WorkloadCommand, "\(type(of: command))")
    }

    /// The message ArgumentParser prints for a rejected command line.
    private func rejection(_ arguments: [String]) -> String {
        do {
            let command = try BenchCommand.parseAsRoot(arguments)
            return "accepted: \(command)"
        } catch {
            return BenchCommand.message(for: error)
        }
    }

    func testDefaultsAreEtcdBenchmarkDefaults() throws {
        let (workload, load) = try parse(["put"]).workload()
        XCTAssertEqual(workload.name, "put")
        XCTAssertEqual(try load.parsedEndpoints(), [Endpoint("127.0.0.1:2379")!])
        XCTAssertEqual(load.conns, 1)
        XCTAssertEqual(load.clients, 1)
        XCTAssertEqual(try load.stopCondition(), .total(10_000))
        XCTAssertEqual(load.keySize, 8)
        XCTAssertEqual(load.valueSize, 8)
        XCTAssertEqual(load.keySpaceSize, 1)
        XCTAssertNil(load.rate)
        XCTAssertFalse(load.serializable)
        XCTAssertFalse(load.json)
    }

    func testEveryCommonFlagIsRead() throws {
        let (_, load) = try parse([
            "put", "--endpoints", "http://10.0.0.1:2379,127.0.0.1:22379", "--conns", "4", "--clients", "64",
            "--duration", "1m30s", "--key-size", "16", "--val-size", "256", "--key-space-size", "100000",
            "--sequential-keys", "--rate", "500", "--consistency", "s", "--key-prefix", "/b/", "--json",
            "--svg", "/tmp/chart.svg",
        ]).workload()
        XCTAssertEqual(
            try load.parsedEndpoints().map(\.description), ["10.0.0.1:2379", "127.0.0.1:22379"])
        XCTAssertEqual(load.conns, 4)
        XCTAssertEqual(load.clients, 64)
        XCTAssertEqual(try load.stopCondition(), .duration(.seconds(90)))
        XCTAssertEqual(load.keySize, 16)
        XCTAssertEqual(load.valueSize, 256)
        XCTAssertEqual(load.keySpaceSize, 100_000)
        XCTAssertTrue(load.sequentialKeys)
        XCTAssertEqual(load.rate, 500)
        XCTAssertTrue(load.serializable)
        XCTAssertEqual(load.keyPrefix, "/b/")
        XCTAssertTrue(load.json)
        XCTAssertEqual(load.svg, "/tmp/chart.svg")
    }

    func testWorkloadSpecificArguments() throws {
        let range = try parse(["range", "/r/", "--prefix", "--limit", "500", "--count-only"]).workload().0
        let rangeWorkload = try XCTUnwrap(range as? RangeWorkload)
        XCTAssertEqual(rangeWorkload.key, Array("/r/".utf8))
        XCTAssertEqual(rangeWorkload.end, Array("/r0".utf8))
        XCTAssertEqual(rangeWorkload.limit, 500)
        XCTAssertTrue(rangeWorkload.countOnly)

        let single = try XCTUnwrap(try parse(["range", "foo"]).workload().0 as? RangeWorkload)
        XCTAssertEqual(single.end, [])
        let explicit = try XCTUnwrap(try parse(["range", "a", "c"]).workload().0 as? RangeWorkload)
        XCTAssertEqual(explicit.end, Array("c".utf8))

        let txn = try XCTUnwrap(try parse(["txn-put", "--txn-ops", "4"]).workload().0 as? TxnPutWorkload)
        XCTAssertEqual(txn.operations, 4)

        let mixed = try XCTUnwrap(try parse(["txn-mixed", "k", "--rw-ratio", "3"]).workload().0 as? TxnMixedWorkload)
        XCTAssertEqual(mixed.readWriteRatio, 3)
        XCTAssertEqual(mixed.end, Array("l".utf8))

        let (watch, watchLoad) = try parse(["watch-latency", "--streams", "5", "--watchers-per-stream", "20"])
            .workload()
        let watchWorkload = try XCTUnwrap(watch as? WatchLatencyWorkload)
        XCTAssertEqual(watchWorkload.streams * watchWorkload.watchersPerStream, 100)
        XCTAssertEqual(watchLoad.rate, 100, "watch-latency paces puts at 100/s unless told otherwise")
        XCTAssertEqual(try watchLoad.stopCondition(), .total(1_000))

        XCTAssertEqual(try parse(["lease-keepalive"]).workload().0.name, "lease-keepalive")
    }

    func testKubernetesMakesRoomForItsKeys() throws {
        let (workload, load) = try parse(["kubernetes", "--watchers", "3", "--page-size", "100"]).workload()
        let kubernetes = try XCTUnwrap(workload as? KubernetesWorkload)
        XCTAssertEqual(kubernetes.watchers, 3)
        XCTAssertEqual(kubernetes.pageSize, 100)
        XCTAssertEqual(load.keyPrefix, "/registry/pods/bench/")
        XCTAssertEqual(load.keySpaceSize, 1_000)
        XCTAssertEqual(load.keySize, "/registry/pods/bench/".count + 3)
        XCTAssertEqual(try load.keys().key(index: 7), Array("/registry/pods/bench/007".utf8))
    }

    func testBadArgumentsAreRefusedWithAClearMessage() {
        let cases: [([String], String)] = [
            (["put", "--consistency", "x"], "--consistency must be l (linearizable) or s (serializable)"),
            (["put", "--total", "5", "--duration", "1s"], "give --total or --duration, not both"),
            (["put", "--duration", "soon"], "--duration: 'soon' is not a positive Go duration such as 30s"),
            (["put", "--total", "0"], "--total must be at least 1"),
            (["put", "--clients", "0"], "--clients must be at least 1"),
            (["put", "--conns=-1"], "--conns must be at least 1"),
            (["put", "--rate", "0"], "--rate must be at least 1"),
            (["put", "--endpoints", "localhost"], "--endpoints: 'localhost' is not host:port or http://host:port"),
            (["put", "--endpoints", "h:99999"], "--endpoints: 'h:99999' is not host:port or http://host:port"),
            (
                ["put", "--key-size", "4", "--key-space-size", "100000"],
                "--key-size 4 is too small: --key-prefix takes 0 bytes and --key-space-size 100000 needs 5 more"
            ),
            (["range", "a", "b", "--prefix"], "give END or --prefix, not both"),
            (["txn-put", "--txn-ops", "0"], "--txn-ops must be at least 1"),
            (["txn-mixed", "k", "--rw-ratio=-1"], "--rw-ratio must be a non-negative number"),
            (["watch-latency", "--streams", "0"], "--streams and --watchers-per-stream must be at least 1"),
            (["kubernetes", "--page-size", "0"], "--page-size must be at least 1"),
            (["first-answer", "--timeout", "never"], "--timeout must be a Go duration"),
        ]
        for (arguments, message) in cases {
            XCTAssertEqual(rejection(arguments), message, "\(arguments)")
        }
        XCTAssertTrue(rejection(["range"]).contains("Missing expected argument '<key>'"), rejection(["range"]))
        XCTAssertTrue(rejection(["nonsense"]).contains("nonsense"), rejection(["nonsense"]))
    }

    func testEndpointForms() {
        XCTAssertEqual(Endpoint("http://127.0.0.1:2379/")?.description, "127.0.0.1:2379")
        XCTAssertEqual(Endpoint("[::1]:2379")?.host, "::1")
        XCTAssertEqual(Endpoint("[::1]:2379")?.description, "[::1]:2379")
        XCTAssertEqual(Endpoint("example.com:443")?.port, 443)
        XCTAssertNil(Endpoint(":2379"))
        XCTAssertNil(Endpoint("https://h:1/x"))
    }

    func testKeysHaveTheRequestedSize() throws {
        let sequential = try KeyGenerator(prefix: "/p/", size: 16, space: 1_000, sequential: true)
        XCTAssertEqual(sequential.key(forRequest: 0), Array("/p/0000000000000".utf8))
        XCTAssertEqual(sequential.key(forRequest: 1_001), Array("/p/0000000000001".utf8))
        let random = try KeyGenerator(prefix: "", size: 16, space: 10, sequential: false)
        let keys = Set((0..<500).map { random.key(forRequest: $0) })
        XCTAssertEqual(keys.count, 10, "random keys cover the key space and stay inside it")
        XCTAssertTrue(keys.allSatisfy { $0.count == 16 })
        XCTAssertEqual(KeyRange.prefixEnd(Array("/r/".utf8)), Array("/r0".utf8))
        XCTAssertEqual(KeyRange.prefixEnd([0x61, 0xff]), [0x62])
        XCTAssertEqual(KeyRange.prefixEnd([0xff]), [0])
    }
}
