import Foundation
import Testing

/// `--quota-backend-bytes` and the NOSPACE alarm, driven the same way with etcdctl against etcd 3.4 and Kelson:
/// fill the store until a put fails, check what still works, then recover exactly as etcd's docs say (compact,
/// defrag, alarm disarm). Sizes differ between the servers, so each is filled until its own quota trips.
extension IntegrationTests {
    @Suite("space quota and the NOSPACE alarm")
    struct QuotaTests {
        static let quota = 2 * 1024 * 1024
        static let noSpace = "etcdserver: mvcc: database space exceeded"

        @Test("writes past the quota fail with NOSPACE; reads and deletes work; compact + defrag + disarm recovers")
        func noSpaceAndRecovery() throws {
            var outputs: [String: [String]] = [:]
            for kind in [ServerKind.etcd, .kelson] {
                let server = try ServerProcess.launch(
                    kind, options: ServerOptions(extraArguments: ["--quota-backend-bytes", "\(Self.quota)"]))
                defer { server.stop() }
                outputs[server.name] = try exercise(server)
            }
            // The same steps gave the same answers (member IDs aside).
            #expect(
                outputs["kelson"] == outputs["etcd"],
                "etcd: \(outputs["etcd"] ?? [])\nkelson: \(outputs["kelson"] ?? [])")
        }

        /// Runs the scenario and returns what each step printed, with member IDs replaced.
        private func exercise(_ server: ServerProcess) throws -> [String] {
            let endpoint = server.endpoint
            func etcdctl(_ arguments: String...) throws -> EtcdctlResult {
                try Etcdctl.run(endpoint: endpoint, arguments)
            }
            var log: [String] = []
            func record(_ step: String, _ result: EtcdctlResult) {
                // etcdctl's JSON retry logs carry timestamps and addresses; its "Error: …" line is what counts.
                let errors = result.stderr.split(separator: "\n").filter { !$0.hasPrefix("{") }.joined(separator: "\n")
                let text = (result.stdout + errors).replacingOccurrences(
                    of: #"memberID:[0-9]+"#, with: "memberID:ID", options: .regularExpression)
                log.append("\(step): exit \(result.exitCode) \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            // 100 KiB values until the quota trips (a 2 MiB quota trips within a few dozen).
            let value = String(repeating: "v", count: 100 * 1024)
            var failed: EtcdctlResult?
            for index in 0..<200 {
                let result = try etcdctl("put", "big/\(index)", value)
                if result.exitCode != 0 {
                    failed = result
                    break
                }
            }
            guard let failed else {
                Issue.record("\(server.name): 200 puts of 100 KiB never passed a 2 MiB quota")
                return log
            }
            #expect(failed.stderr.contains(Self.noSpace), "\(server.name): \(failed)")
            record("put past the quota", failed)
            record("alarm list", try etcdctl("alarm", "list"))
            // Raised: every put is refused now, even a small one; reads and deletes work.
            record("small put", try etcdctl("put", "small", "x"))
            record("get", try etcdctl("get", "big/0", "--print-value-only=false", "--keys-only"))
            let health = try Curl.run([server.clientURL + "/health"])
            log.append("health: \(health.statusCode) \(health.body)")
            let excluded = try Curl.run([server.clientURL + "/health?exclude=NOSPACE"])
            log.append("health excluding NOSPACE: \(excluded.statusCode) \(excluded.body)")
            if server.kind == .kelson {
                // etcd 3.6's probes (3.4, the reference here, has none): not ready while full, but alive.
                let ready = try Curl.run([server.clientURL + "/readyz"])
                #expect(ready.statusCode == 503 && ready.body.contains(#""health":"false""#), "\(ready)")
                let live = try Curl.run([server.clientURL + "/livez"])
                #expect(live.statusCode == 200 && live.body == #"{"health":"true"}"#, "\(live)")
            }
            let deleted = try etcdctl("del", "big/", "--prefix")
            #expect(deleted.exitCode == 0, "\(server.name): \(deleted)")
            log.append("delete: exit \(deleted.exitCode)")
            record("put after delete", try etcdctl("put", "small", "x"))
            // etcd's documented recovery.
            let status = try etcdctl("get", "small", "-w", "json")
            let revision = status.stdout.range(of: #""revision":[0-9]+"#, options: .regularExpression).map {
                String(status.stdout[$0].dropFirst(#""revision":"#.count))
            }
            guard let revision else {
                Issue.record("\(server.name): no revision in \(status)")
                return log
            }
            let compacted = try etcdctl("compact", revision, "--physical")
            #expect(compacted.exitCode == 0, "\(server.name): \(compacted)")
            let defragmented = try etcdctl("defrag")
            #expect(defragmented.exitCode == 0, "\(server.name): \(defragmented)")
            record("disarm", try etcdctl("alarm", "disarm"))
            record("alarm list after disarm", try etcdctl("alarm", "list"))
            record("put after recovery", try etcdctl("put", "small", "x"))
            record("get after recovery", try etcdctl("get", "small", "--print-value-only"))
            let healthy = try Curl.run([server.clientURL + "/health"])
            log.append("health after recovery: \(healthy.statusCode) \(healthy.body)")
            return log
        }
    }
}
