import Foundation
import Testing

/// `kelson bench` against a real etcd 3.4 and against Kelson: every workload runs to completion with no
/// failed request and does what it says on the server (keys written, events delivered). Speed is not checked.
extension IntegrationTests {
    @Suite("kelson bench")
    struct BenchToolTests {
        struct BenchRun {
            var exitCode: Int32
            var stdout: String
            var stderr: String
            var report: [String: Any] {
                (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any] ?? [:]
            }
            var counters: [String: Int] { report["counters"] as? [String: Int] ?? [:] }
            var operations: [String] {
                (report["operations"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            }
        }

        static func bench(_ arguments: [String], endpoint: String, json: Bool = true) throws -> BenchRun {
            let run = try KelsonRun.run(["bench"] + arguments + ["--endpoints", endpoint] + (json ? ["--json"] : []))
            return BenchRun(exitCode: run.exitCode, stdout: run.stdout, stderr: run.stderr)
        }

        /// Runs `arguments` and checks the report: `requests` completed, nothing failed, `operations` reported.
        static func expectClean(
            _ arguments: [String], on server: ServerProcess, requests: Int, operations: Set<String>,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws -> BenchRun {
            let run = try bench(arguments, endpoint: server.endpoint)
            let context = "\(server.name) \(arguments): \(run.stderr)\n\(run.stdout.prefix(2_000))"
            #expect(run.exitCode == 0, "\(context)", sourceLocation: sourceLocation)
            #expect(run.report["workload"] as? String == arguments[0], "\(context)", sourceLocation: sourceLocation)
            #expect(run.report["requests"] as? Int == requests, "\(context)", sourceLocation: sourceLocation)
            #expect(run.report["errors"] as? [String: Int] == [:], "\(context)", sourceLocation: sourceLocation)
            #expect(Set(run.operations) == operations, "\(context)", sourceLocation: sourceLocation)
            return run
        }

        @Test("every workload runs cleanly against etcd and against Kelson")
        func everyWorkload() throws {
            try Locations.requireExecutable(Locations.kelson, hint: "build it with `swift build`")
            let pair = try ServerPair()
            defer { pair.stop() }
            for server in [pair.reference, pair.candidate] {
                let sizes = ["--key-size", "16", "--val-size", "64"]
                _ = try Self.expectClean(
                    [
                        "put", "--total", "300", "--clients", "4", "--conns", "2", "--key-space-size", "100",
                        "--sequential-keys", "--key-prefix", "/p/",
                    ] + sizes,
                    on: server, requests: 300, operations: ["put"])
                let keys = try Etcdctl.run(endpoint: server.endpoint, ["get", "/p/", "--prefix", "--keys-only"])
                #expect(keys.stdout.split(separator: "\n").count == 100, "\(server.name): \(keys)")

                let list = try Self.expectClean(
                    [
                        "range", "/p/", "--prefix", "--limit", "10", "--total", "50", "--clients", "2",
                        "--consistency", "s",
                    ],
                    on: server, requests: 50, operations: ["range"])
                #expect((list.report["parameters"] as? [String: String])?["limit"] == "10")
                _ = try Self.expectClean(
                    ["range", "/p/0000000000042", "--total", "50"], on: server, requests: 50, operations: ["range"])
                _ = try Self.expectClean(
                    ["txn-put", "--txn-ops", "3", "--total", "40", "--clients", "4", "--key-space-size", "1000"]
                        + sizes, on: server, requests: 40, operations: ["txn-put"])
                let mixed = try Self.expectClean(
                    ["txn-mixed", "/p/", "--rw-ratio", "1", "--total", "200", "--clients", "4"] + sizes,
                    on: server, requests: 200, operations: ["txn-read", "txn-write"])
                _ = mixed
                _ = try Self.expectClean(
                    ["lease-keepalive", "--total", "60", "--clients", "3", "--conns", "3"],
                    on: server, requests: 60, operations: ["keepalive"])
                let leases = try Etcdctl.run(endpoint: server.endpoint, ["lease", "list"])
                #expect(leases.stdout.contains("found 3 leases"), "\(server.name): \(leases)")

                let watch = try Self.expectClean(
                    [
                        "watch-latency", "--total", "20", "--rate", "200", "--streams", "2", "--watchers-per-stream",
                        "3",
                    ],
                    on: server, requests: 20, operations: ["put", "watch"])
                #expect(watch.counters["watchers"] == 6)
                #expect(
                    watch.counters["events-expected"] == 120 && watch.counters["events-received"] == 120,
                    "\(watch.counters)")

                let kubernetes = try Self.expectClean(
                    [
                        "kubernetes", "--total", "300", "--clients", "4", "--conns", "2", "--key-space-size", "40",
                        "--page-size", "7", "--watchers", "2", "--val-size", "100",
                    ],
                    on: server, requests: 300, operations: ["create", "update", "delete", "list"])
                let counters = kubernetes.counters
                #expect(counters["conflicts"] == nil, "\(server.name): \(counters)")
                #expect((counters["writes"] ?? 0) > 200, "\(server.name): \(counters)")
                #expect(counters["watch-events"] == (counters["writes"] ?? 0) * 2, "\(server.name): \(counters)")
            }
        }

        @Test("text output, an SVG chart, --duration; an unreachable endpoint fails with a clear message")
        func textChartAndFailure() throws {
            try Locations.requireExecutable(Locations.kelson, hint: "build it with `swift build`")
            let server = try ServerProcess.launch(.kelson)
            defer { server.stop() }
            let chart = FileManager.default.temporaryDirectory.appendingPathComponent(
                "kelson-bench-\(UUID().uuidString).svg")
            defer { try? FileManager.default.removeItem(at: chart) }
            let run = try Self.bench(
                ["put", "--duration", "300ms", "--clients", "2", "--svg", chart.path], endpoint: server.endpoint,
                json: false)
            #expect(run.exitCode == 0, "\(run.stderr)")
            for line in ["Summary:", "  Failed:\t0", "Latency of put", "  p99.9:\t"] {
                #expect(run.stdout.contains(line), "missing \(line) in \(run.stdout)")
            }
            let svg = try String(contentsOf: chart, encoding: .utf8)
            #expect(svg.hasPrefix("<svg") && svg.contains("<polyline"), "\(svg.prefix(300))")

            let closed = try LoopbackPorts.free()
            let refused = try Self.bench(["put", "--total", "5"], endpoint: "127.0.0.1:\(closed)")
            #expect(refused.exitCode != 0)
            #expect(refused.stderr.contains("connection error"), "\(refused.stderr)")
        }
    }
}
