import Foundation
import Synchronization
import Testing

/// Acknowledged writes, collected from several threads.
final class AckLog: Sendable {
    struct Ack: Sendable {
        var key: String
        var value: String?  // nil: an acknowledged delete
        var revision: Int
    }

    private let state = Mutex<(acks: [Ack], failures: [String], stop: Bool)>(([], [], false))

    func record(_ ack: Ack) { state.withLock { $0.acks.append(ack) } }
    func fail(_ message: String) { state.withLock { $0.failures.append(message) } }
    func requestStop() { state.withLock { $0.stop = true } }
    var shouldStop: Bool { state.withLock { $0.stop } }
    var acks: [Ack] { state.withLock { $0.acks } }
    var failures: [String] { state.withLock { $0.failures } }
    var count: Int { state.withLock { $0.acks.count } }
}

/// Tests against the candidate alone (Kelson; etcd with `INTEGRATION_CANDIDATE=etcd`).
extension IntegrationTests {
    @Suite("Kelson alone: durability and rejected requests")
    struct CandidateOnlyTests {
        /// `put -w json` of `key`; records the ack (with its revision) when etcdctl exits 0.
        private static func put(
            _ endpoint: String, _ key: String, _ value: String, into log: AckLog,
            commandTimeout: String = "10s"
        ) -> Bool {
            do {
                let result = try Etcdctl.run(
                    endpoint: endpoint, ["put", key, value, "-w", "json"], commandTimeout: commandTimeout)
                guard result.exitCode == 0 else {
                    log.fail("put \(key): \(result)")
                    return false
                }
                guard let revision = headerRevision(result) else {
                    log.fail("put \(key): acknowledged without a header revision: \(result.stdout)")
                    return false
                }
                log.record(.init(key: key, value: value, revision: revision))
                return true
            } catch {
                log.fail("put \(key): \(error)")
                return false
            }
        }

        @Test("acknowledged writes survive SIGKILL and restart on the same data directory")
        func acknowledgedWritesSurviveSIGKILL() throws {
            let server = try ServerProcess.launch(.candidate)
            defer { server.stop() }
            let endpoint = server.endpoint

            // Phase 1: 300 acknowledged writes (two 100-put txns, 100 single puts from 4 concurrent
            // etcdctl workers), then acknowledged overwrites and deletes.
            var history: [AckLog.Ack] = []
            var firstTxnRevision = 0
            for batch in 0..<2 {
                let ops = (0..<100).map { "put crash/txn\(batch)-\(pad($0)) value-\(batch)-\($0)" }
                let result = try Etcdctl.run(endpoint: endpoint, ["txn", "-w", "json"], stdin: txnInput(success: ops))
                try #require(result.exitCode == 0, "txn of 100 puts failed: \(result)\n\(server.logTail())")
                let revision = try #require(headerRevision(result), "txn answer without revision: \(result.stdout)")
                if batch == 0 { firstTxnRevision = revision }
                history += (0..<100).map {
                    .init(key: "crash/txn\(batch)-\(pad($0))", value: "value-\(batch)-\($0)", revision: revision)
                }
            }
            let singles = AckLog()
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                for index in stride(from: worker, to: 100, by: 4) {
                    _ = Self.put(endpoint, "crash/single-\(pad(index))", "single-\(index)", into: singles)
                }
            }
            #expect(singles.failures.isEmpty, "single puts failed: \(singles.failures)")
            history += singles.acks
            for index in 0..<5 {
                let key = "crash/single-\(pad(index))"
                let result = try Etcdctl.run(endpoint: endpoint, ["del", key, "-w", "json"])
                try #require(result.exitCode == 0, "del \(key): \(result)")
                history.append(.init(key: key, value: nil, revision: headerRevision(result) ?? 0))
            }
            let overwrites = AckLog()
            for index in 5..<10 {
                _ = Self.put(endpoint, "crash/single-\(pad(index))", "overwritten-\(index)", into: overwrites)
            }
            #expect(overwrites.failures.isEmpty, "overwrites failed: \(overwrites.failures)")
            history += overwrites.acks

            // Phase 2: three writers keep putting; SIGKILL lands while writes are in flight.
            let live = AckLog()
            let writers = DispatchGroup()
            for writer in 0..<3 {
                DispatchQueue.global().async(group: writers) {
                    var index = 0
                    while !live.shouldStop {
                        _ = Self.put(
                            endpoint, "crash/live-\(writer)-\(pad(index))", "live-\(writer)-\(index)",
                            into: live, commandTimeout: "3s")
                        index += 1
                    }
                }
            }
            let deadline = Date().addingTimeInterval(60)
            while live.count < 30 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            server.kill(signal: SIGKILL)
            live.requestStop()
            writers.wait()
            try #require(!server.isRunning, "server survived SIGKILL")
            #expect(live.count >= 30, "only \(live.count) live writes were acknowledged before the kill")
            history += live.acks

            // Restart on the same data directory; every acknowledged write must be there.
            try server.restart()
            let dump = try StoreDump.read(server)
            var expected: [String: String?] = [:]
            var lastAckedRevision = 0
            for ack in history.sorted(by: { $0.revision < $1.revision }) {
                expected[ack.key] = ack.value
                lastAckedRevision = max(lastAckedRevision, ack.revision)
            }
            var missing: [String] = []
            for (key, value) in expected.sorted(by: { $0.key < $1.key }) {
                if dump.pairs[key] != value {
                    missing.append("\(key): expected \(value ?? "<deleted>"), found \(dump.pairs[key] ?? "<absent>")")
                }
            }
            #expect(
                missing.isEmpty,
                """
                \(missing.count) of \(expected.count) acknowledged writes lost or wrong after SIGKILL:
                \(missing.prefix(20).joined(separator: "\n"))
                --- server log (tail) ---
                \(server.logTail())
                """)
            #expect(
                dump.revision >= lastAckedRevision,
                "revision after restart \(dump.revision) < last acknowledged revision \(lastAckedRevision)")
            let phaseOneKeys = dump.pairs.keys.filter { !$0.hasPrefix("crash/live-") }
            #expect(
                phaseOneKeys.count == 295, "expected 295 non-live keys (300 - 5 deleted), found \(phaseOneKeys.count)")

            // History survives too: the first txn's revision still reads back its 100 keys.
            let historical = try Etcdctl.run(
                endpoint: server.endpoint,
                ["get", "crash/txn0-", "--prefix", "--rev", String(firstTxnRevision), "--keys-only", "-w", "json"])
            let count = (JSONNormalizer.object(historical.stdout)?["count"] as? NSNumber)?.intValue
            #expect(historical.exitCode == 0 && count == 100, "historical read at \(firstTxnRevision): \(historical)")

            // And the server keeps counting from there.
            let after = try Etcdctl.run(endpoint: server.endpoint, ["put", "crash/after-restart", "x", "-w", "json"])
            #expect(after.exitCode == 0, "put after restart: \(after)")
            #expect(
                (headerRevision(after) ?? 0) == dump.revision + 1,
                "put after restart got revision \(headerRevision(after) ?? -1), expected \(dump.revision + 1)")
        }

        @Test("rejected requests change neither data nor revision")
        func rejectedRequestsChangeNothing() throws {
            let server = try ServerProcess.launch(.candidate)
            defer { server.stop() }
            let endpoint = server.endpoint

            func run(_ arguments: [String], stdin: String? = nil) throws -> EtcdctlResult {
                try Etcdctl.run(endpoint: endpoint, arguments, stdin: stdin)
            }
            for (key, value) in [("a", "1"), ("b", "2"), ("c", "3"), ("a", "1b"), ("d/x", "4"), ("b", "2b")] {
                let result = try run(["put", key, value])
                try #require(result.exitCode == 0, "put \(key): \(result)")
            }
            let compaction = try run(["compaction", "3"])
            try #require(compaction.exitCode == 0, "compaction 3: \(compaction)")
            let before = try StoreDump.read(server)
            let historyBefore = try run(["get", "", "--prefix", "--rev", "4", "-w", "json"])

            let puts129 = (0..<129).map { "put many/\($0) v" }
            let bad: [(label: String, arguments: [String], stdin: String?, error: String)] = [
                ("empty key", ["put", "", "v"], nil, "etcdserver: key is not provided"),
                (
                    "value over the 1.5 MiB cap", ["put", "big"], String(repeating: "a", count: 1_677_722),
                    "etcdserver: request is too large"
                ),
                (
                    "129 ops in a txn", ["txn"], txnInput(success: puts129),
                    "etcdserver: too many operations in txn request"
                ),
                (
                    "duplicate puts in a txn", ["txn"], txnInput(success: ["put a x", "put a y"]),
                    "etcdserver: duplicate key given in txn request"
                ),
                (
                    "put and delete of one key in a txn", ["txn"], txnInput(success: ["put e 1", "del e"]),
                    "etcdserver: duplicate key given in txn request"
                ),
                (
                    "txn with an empty-key put", ["txn"], txnInput(success: ["put a x", "put \"\" y"]),
                    "etcdserver: key is not provided"
                ),
                (
                    "txn reading a future revision", ["txn"], txnInput(success: ["put a x", "get a --rev 1000"]),
                    "etcdserver: mvcc: required revision is a future revision"
                ),
                (
                    "txn reading a compacted revision", ["txn"], txnInput(success: ["put a x", "get a --rev 2"]),
                    "etcdserver: mvcc: required revision has been compacted"
                ),
                (
                    "future revision", ["get", "a", "--rev", "1000"], nil,
                    "etcdserver: mvcc: required revision is a future revision"
                ),
                (
                    "compacted revision", ["get", "a", "--rev", "2"], nil,
                    "etcdserver: mvcc: required revision has been compacted"
                ),
                (
                    "compacting twice at the same revision", ["compaction", "3"], nil,
                    "etcdserver: mvcc: required revision has been compacted"
                ),
                (
                    "compacting an older revision", ["compaction", "2"], nil,
                    "etcdserver: mvcc: required revision has been compacted"
                ),
                (
                    "compacting a future revision", ["compaction", "1000"], nil,
                    "etcdserver: mvcc: required revision is a future revision"
                ),
                (
                    "--ignore-value on a missing key", ["put", "missing", "--ignore-value"], nil,
                    "etcdserver: key not found"
                ),
                (
                    "--ignore-lease on a missing key", ["put", "missing", "v", "--ignore-lease"], nil,
                    "etcdserver: key not found"
                ),
                ("unknown lease", ["put", "a", "v", "--lease", "1234"], nil, "etcdserver: requested lease not found"),
                (
                    "txn put with unknown lease", ["txn"], txnInput(success: ["put z 1", "put a v --lease 1234"]),
                    "etcdserver: requested lease not found"
                ),
            ]
            for request in bad {
                let result = try run(request.arguments, stdin: request.stdin)
                #expect(result.exitCode != 0, "\(request.label) was accepted: \(result)")
                let stderr = JSONNormalizer.normalizedStderr(result.stderr)
                #expect(
                    stderr.contains("Error: \(request.error)"),
                    "\(request.label): expected \"Error: \(request.error)\", got: \(stderr)")
                let now = try StoreDump.read(server)
                #expect(
                    now == before,
                    """
                    \(request.label) changed the store
                    --- before ---
                    \(before)
                    --- after ---
                    \(now)
                    """)
            }
            let historyAfter = try run(["get", "", "--prefix", "--rev", "4", "-w", "json"])
            #expect(Outcome(historyAfter) == Outcome(historyBefore), "history at revision 4 changed")
        }
    }
}

private func pad(_ number: Int) -> String {
    let text = String(number)
    return String(repeating: "0", count: max(0, 3 - text.count)) + text
}
