import Foundation
import Synchronization
import Testing

/// Running Kelson the way operators run etcd: a YAML config file, `ETCD_*` environment variables, and
/// Prometheus metrics on `/metrics` (and on `--listen-metrics-urls`).
extension IntegrationTests {
    @Suite("config file, environment and /metrics")
    struct OperationsTests {
        @Test(
            "an etcd YAML config file configures everything; other flags are then ignored; etcd-only keys are ignored")
        func configFile() throws {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("kelson-config-\(UUID()).yaml")
            defer { try? FileManager.default.removeItem(at: file) }
            // The harness's own flags come after --config-file and must be ignored, as etcd ignores them.
            let server = try ServerProcess.make(
                .kelson,
                options: ServerOptions(extraArguments: ["--config-file", file.path, "--name", "from-the-command-line"]))
            defer { server.stop() }
            let metricsPort = try LoopbackPorts.free()
            let yaml = """
                # etcd's sample configuration keys
                name: from-the-file
                data-dir: \(server.dataDirectory.path)
                listen-client-urls: \(server.clientURL)
                advertise-client-urls: \(server.clientURL)
                listen-metrics-urls: http://127.0.0.1:\(metricsPort)
                quota-backend-bytes: 123456789
                auto-compaction-mode: revision
                auto-compaction-retention: "1000"
                max-txn-ops: 64
                log-level: info
                heartbeat-interval: 100
                election-timeout: 1000
                initial-cluster-state: new
                client-transport-security:
                  client-cert-auth: false
                  auto-tls: false
                """
            try yaml.write(to: file, atomically: true, encoding: .utf8)
            try server.start()
            let members = try Etcdctl.run(endpoint: server.endpoint, ["member", "list"])
            #expect(members.stdout.contains("from-the-file"), "\(members)")
            let metrics = try Curl.run(["http://127.0.0.1:\(metricsPort)/metrics"])
            #expect(
                metrics.statusCode == 200 && metrics.body.contains("etcd_server_quota_backend_bytes 123456789"),
                "\(metrics.body.prefix(2000))")
            let log = server.logTail(lines: 200)
            #expect(log.contains("heartbeat-interval does not apply to Kelson"), "\(log)")
            #expect(log.contains("other command line flags and environment variables are ignored"), "\(log)")
            // Txns over the file's --max-txn-ops are refused with etcd's error.
            let txn = try Etcdctl.run(
                endpoint: server.endpoint, ["txn"], stdin: txnInput(success: (0..<65).map { "put k\($0) v" }))
            #expect(txn.stderr.contains("too many operations in txn request"), "\(txn)")
        }

        @Test(
            "SIGTERM under write load: calls in flight are answered, the process exits 0 and leaves one checkpointed file holding exactly the acknowledged writes"
        )
        func gracefulShutdownUnderLoad() throws {
            let server = try ServerProcess.launch(.kelson)
            defer { server.stop() }
            let finished = DispatchSemaphore(value: 0)
            let load = Mutex<Result<KelsonRun, any Error>?>(nil)
            let endpoint = server.endpoint
            DispatchQueue.global().async {
                let run = Result {
                    try KelsonRun.run([
                        "bench", "put", "--endpoints", endpoint, "--clients", "16", "--conns", "4",
                        "--duration", "8s", "--json",
                    ])
                }
                load.withLock { $0 = run }
                finished.signal()
            }
            Thread.sleep(forTimeInterval: 2)
            server.kill(signal: SIGTERM, timeout: 15)
            let process = try #require(server.process)
            #expect(!process.isRunning, "still running 15 s after SIGTERM (the bound is 10 s for calls in flight)")
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "exit status after SIGTERM")
            finished.wait()
            let bench = try #require(try load.withLock { $0 }?.get())
            let report = try #require(
                try JSONSerialization.jsonObject(with: Data(bench.stdout.utf8)) as? [String: Any], "\(bench)")
            // `requests` counts answered calls only; failed ones (refused after the GOAWAY) are under `errors`.
            let acknowledged = try #require(report["requests"] as? Int, "\(report)")
            #expect(acknowledged > 100, "the load ran before the signal: \(report)")
            let files = try FileManager.default.contentsOfDirectory(atPath: server.dataDirectory.path)
            #expect(files == ["kelson.db"], "the WAL is checkpointed into the file and removed: \(files)")

            // Every answered put is there, and nothing else: a call cut off mid-way would leave a write applied
            // but unanswered (revision above the count) or answered but lost (below it).
            try server.start()
            let status = try Etcdctl.run(endpoint: server.endpoint, ["endpoint", "status", "-w", "json"])
            let revision = status.stdout.range(of: #""revision":[0-9]+"#, options: .regularExpression).flatMap {
                Int(status.stdout[$0].dropFirst(#""revision":"#.count))
            }
            #expect(
                revision == 1 + acknowledged, "revision \(String(describing: revision)), acknowledged \(acknowledged)")
        }

        @Test("a config file with an unknown key, or a bad value, stops startup with an error naming it")
        func configFileErrors() throws {
            for (yaml, expected) in [
                ("name: x\nquota-bakend-bytes: 5\n", "unknown key quota-bakend-bytes"),
                ("client-transport-security:\n  cert-fil: a\n", "unknown key client-transport-security.cert-fil"),
                ("client-cert-auth: maybe\n", "client-cert-auth must be true or false"),
                ("name: [a, b\n", "is not valid YAML"),
            ] {
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("kelson-bad-\(UUID()).yaml")
                defer { try? FileManager.default.removeItem(at: file) }
                try yaml.write(to: file, atomically: true, encoding: .utf8)
                let run = try KelsonRun.run(["etcd", "--config-file", file.path], watchdog: 30)
                #expect(run.exitCode != 0 && run.stderr.contains(expected), "\(yaml): \(run.stderr)")
            }
        }

        @Test("ETCD_* environment variables set flags the command line leaves out")
        func environment() throws {
            let metricsPort = try LoopbackPorts.free()
            let server = try ServerProcess.launch(
                .kelson,
                options: ServerOptions(
                    extraArguments: ["--max-txn-ops", "3"],
                    environment: [
                        "ETCD_QUOTA_BACKEND_BYTES": "7777777",
                        "ETCD_LISTEN_METRICS_URLS": "http://127.0.0.1:\(metricsPort)",
                        "ETCD_MAX_TXN_OPS": "500", "ETCD_NAME": "from-the-environment",
                        "ETCD_CLIENT_CERT_AUTH": "false",
                    ]))
            defer { server.stop() }
            let metrics = try Curl.run(["http://127.0.0.1:\(metricsPort)/metrics"])
            #expect(metrics.body.contains("etcd_server_quota_backend_bytes 7777777"), "\(metrics.body.prefix(2000))")
            let members = try Etcdctl.run(endpoint: server.endpoint, ["member", "list"])
            #expect(members.stdout.contains("from-the-environment"), "\(members)")
            // The command line wins over the environment: 4 operations are too many with --max-txn-ops 3.
            let txn = try Etcdctl.run(
                endpoint: server.endpoint, ["txn"],
                stdin: txnInput(success: ["put a 1", "put b 1", "put c 1", "put d 1"]))
            #expect(txn.stderr.contains("too many operations in txn request"), "\(txn)")
            #expect(server.logTail(lines: 200).contains("ignoring environment variable ETCD_MAX_TXN_OPS"))
        }

        @Test("/metrics is Prometheus text with etcd's names and Kelson's own, and its values move")
        func metrics() throws {
            let server = try ServerProcess.launch(.kelson)
            defer { server.stop() }
            for index in 0..<20 { _ = try Etcdctl.run(endpoint: server.endpoint, ["put", "k\(index)", "v"]) }
            _ = try Etcdctl.run(endpoint: server.endpoint, ["get", "nope"])
            _ = try Etcdctl.run(endpoint: server.endpoint, ["compact", "5"])
            let scrape = try Curl.run([server.clientURL + "/metrics"])
            #expect(scrape.statusCode == 200, "\(scrape)")
            #expect(scrape.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
            // Every sample line is `name{labels} value`, every value a number.
            var samples: [String: [(labels: String, value: Double)]] = [:]
            for line in scrape.body.split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                    Issue.record("not a sample: \(line)")
                    continue
                }
                let series = line[..<space]
                let name = String(series.prefix { $0 != "{" })
                samples[name, default: []].append((String(series.dropFirst(name.count)), value))
            }
            func value(_ name: String, _ labels: String = "") -> Double? {
                samples[name]?.first { labels.isEmpty || $0.labels.contains(labels) }?.value
            }
            #expect(value("etcd_server_has_leader") == 1)
            #expect((value("etcd_mvcc_db_total_size_in_bytes") ?? 0) > 0)
            #expect((value("etcd_mvcc_db_total_size_in_use_in_bytes") ?? 0) > 0)
            #expect(value("etcd_server_quota_backend_bytes") == 2_147_483_648)
            #expect((value("etcd_disk_backend_commit_duration_seconds_count") ?? 0) >= 20)
            #expect(samples["etcd_disk_backend_commit_duration_seconds_bucket"]?.isEmpty == false)
            #expect(value("etcd_mvcc_put_total") == 20)
            #expect(value("etcd_debugging_mvcc_current_revision") == 21)
            #expect(value("etcd_debugging_mvcc_compact_revision") == 5)
            #expect(
                value("grpc_server_handled_total", #"grpc_method="Put",grpc_code="OK""#) == 20,
                "\(samples["grpc_server_handled_total"] ?? [])")
            #expect(value("grpc_server_started_total", #"grpc_method="Range""#) != nil)
            #expect((value("kelson_commit_group_size_count") ?? 0) >= 20)
            #expect(value("kelson_compaction_pending_revisions") != nil)
            #expect(value("kelson_watch_lag_revisions") == 0)
        }

        @Test("--log-format json writes one JSON object per line with etcd's level, ts and msg fields")
        func jsonLogs() throws {
            let server = try ServerProcess.launch(
                .kelson, options: ServerOptions(extraArguments: ["--log-format", "json"]))
            defer { server.stop() }
            _ = try Etcdctl.run(endpoint: server.endpoint, ["put", "a", "1"])
            let lines = server.logTail(lines: 50).split(separator: "\n").filter { $0.hasPrefix("{") }
            #expect(lines.count >= 2, "\(server.logTail(lines: 50))")
            for line in lines {
                let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
                #expect(object?["level"] as? String == "info" && object?["ts"] is String, "\(line)")
                #expect(object?["msg"] is String, "\(line)")
            }
            #expect(lines.contains { $0.contains(#""msg":"ready to serve client requests""#) })
            let refused = try KelsonRun.run(["etcd", "--log-format", "xml"], watchdog: 30)
            #expect(refused.exitCode != 0 && refused.stderr.contains("--log-format must be console or json"))
        }

        @Test("kelson etcd --help documents every flag")
        func help() throws {
            let run = try KelsonRun.run(["etcd", "--help"], watchdog: 30)
            // Every flag `kelson etcd` takes (EtcdFlagSources.flags plus --config-file), each on a help line of its
            // own with a description; and --help names no flag that does not exist.
            let flags: Set<String> = [
                "--config-file", "--name", "--data-dir", "--datastore", "--listen-client-urls", "--listen-metrics-urls",
                "--advertise-client-urls", "--max-request-bytes", "--quota-backend-bytes", "--auto-compaction-mode",
                "--auto-compaction-retention", "--max-txn-ops", "--log-level", "--cert-file", "--key-file",
                "--trusted-ca-file", "--client-cert-auth", "--experimental-watch-progress-notify-interval",
                "--watch-progress-notify-interval", "--auth", "--auth-token-ttl", "--log-format",
            ]
            let named = Set(
                run.stdout.matches(of: /--[a-z0-9-]+/).map { String($0.output) }.filter { $0 != "--help" })
            #expect(named == flags, "missing: \(flags.subtracting(named)); unknown: \(named.subtracting(flags))")
            for flag in flags {
                // An option line of its own ("  --auth <auth> ...", or an alias after a comma), not only a mention
                // inside a longer flag's name.
                let line = run.stdout.split(separator: "\n").first { line in
                    let words = line.split(whereSeparator: { $0 == " " || $0 == "," })
                    return words.first == Substring(flag) || line.contains(", \(flag) ") || line.hasSuffix(", \(flag)")
                }
                #expect(line != nil, "\(flag) has no line of its own in --help")
            }
        }
    }
}
