import EtcdAPI
import EtcdClient
import Foundation
import Synchronization
import Testing

/// Several `kelson etcd` processes on one PostgreSQL (issue 5): serializable writes through both, every watcher
/// sees every event once in order, the maintenance role moves when its holder dies, and a PostgreSQL restart
/// under load loses no acknowledged write.
@Suite("Kelson processes sharing PostgreSQL", .serialized)
struct MultiProcessTests {
    private func kelson(on datastore: String, _ arguments: [String] = []) throws -> ServerProcess {
        var options = ServerOptions()
        options.extraArguments = ["--datastore", datastore] + arguments
        let server = try KelsonProcess(options: options)
        try server.start()
        return server
    }

    private func client(_ server: ServerProcess) async throws -> EtcdClient {
        try await EtcdClient.connect(host: "127.0.0.1", port: server.clientPort)
    }

    /// State shared by a test's load tasks.
    private final class Recorder: Sendable {
        let writes = Mutex<[(revision: Int64, key: String, value: String)]>([])
        let acknowledged = Mutex<[String]>([])
        let failures = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
    }

    /// `etcdctl watch` events as (revision, key, value, version, previous value), in arrival order.
    private func events(
        _ output: String
    ) -> [(revision: Int64, key: String, value: String, version: Int64, previous: String?)] {
        var result: [(Int64, String, String, Int64, String?)] = []
        for line in output.split(separator: "\n") {
            guard let object = JSONNormalizer.object(String(line)), let events = object["Events"] as? [[String: Any]]
            else { continue }
            for event in events {
                guard let kv = event["kv"] as? [String: Any] else { continue }
                func decode(_ name: String, in object: [String: Any]) -> String {
                    (object[name] as? String).flatMap { Data(base64Encoded: $0) }.map {
                        String(decoding: $0, as: UTF8.self)
                    } ?? ""
                }
                let revision = (kv["mod_revision"] as? NSNumber)?.int64Value ?? -1
                let version = (kv["version"] as? NSNumber)?.int64Value ?? -1
                let previous = (event["prev_kv"] as? [String: Any]).map { decode("value", in: $0) }
                result.append((revision, decode("key", in: kv), decode("value", in: kv), version, previous))
            }
        }
        return result
    }

    @Test("concurrent writers through two processes: a serial history, and each process's watcher sees it all in order")
    func twoProcessesSerializable() async throws {
        let datastore = try TestPostgres.freshSchema()
        let first = try kelson(on: datastore)
        let second = try kelson(on: datastore)
        defer {
            first.stop()
            second.stop()
        }
        let start = try await client(first).put("mp/start", "0").header.revision
        let watchers = [first, second].map { server in
            try? Etcdctl.start(
                endpoint: server.etcdctlEndpoint,
                ["watch", "mp/k", "--prefix", "--rev", String(start + 1), "--prev-kv", "-w", "json"],
                commandTimeout: "120s")
        }
        try await Task.sleep(for: .milliseconds(500))

        // 8 writers (4 per process), 50 puts each, over 10 keys.
        let recorder = Recorder()
        let ports = [first.clientPort, second.clientPort]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                let port = ports[writer % 2]
                group.addTask {
                    let connection = try await EtcdClient.connect(host: "127.0.0.1", port: port)
                    for index in 0..<50 {
                        let key = "mp/k\((writer * 7 + index) % 10)"
                        let value = "w\(writer)-\(index)"
                        let revision = try await connection.put(key, value).header.revision
                        recorder.writes.withLock { $0.append((revision, key, value)) }
                    }
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        let history = recorder.writes.withLock { $0 }.sorted { $0.revision < $1.revision }
        #expect(Set(history.map(\.revision)).count == 400, "every put got its own revision")
        #expect(history.first!.revision == start + 1 && history.last!.revision == start + 400, "no gaps")

        // The final state is the serial order's: last value by revision, version = number of puts.
        for server in [first, second] {
            let connection = try await client(server)
            for key in Set(history.map(\.key)) {
                let puts = history.filter { $0.key == key }
                let stored = try await connection.get(key)
                #expect(String(decoding: stored?.value ?? Data(), as: UTF8.self) == puts.last!.value)
                #expect(stored?.version == Int64(puts.count))
                #expect(stored?.modRevision == puts.last!.revision)
            }
            await connection.close()
        }

        // Each watcher saw every put once, in revision order, with the version a serial order gives.
        try await Task.sleep(for: .seconds(1))
        for (index, watcher) in watchers.enumerated() {
            guard let watcher else {
                Issue.record("etcdctl watch did not start")
                continue
            }
            _ = sendSignal(watcher.process.processIdentifier, SIGTERM)
            let seen = events(watcher.wait(watchdog: 10).stdout)
            #expect(seen.map(\.revision) == history.map(\.revision), "watcher on process \(index + 1)")
            #expect(seen.map(\.value) == history.map(\.value), "watcher on process \(index + 1)")
            var versions: [String: Int64] = [:]
            var values: [String: String] = [:]
            for event in seen {
                versions[event.key, default: 0] += 1
                #expect(event.version == versions[event.key], "version of \(event.key) at \(event.revision)")
                // prev_kv: what the key held before, whichever process wrote it.
                #expect(event.previous == values[event.key], "prev_kv of \(event.key) at \(event.revision)")
                values[event.key] = event.value
            }
        }
    }

    @Test("killing the process that expires leases: the other takes over; keep-alives to either process count")
    func maintenanceTakeover() async throws {
        let datastore = try TestPostgres.freshSchema()
        let leader = try kelson(on: datastore)
        defer { leader.stop() }
        try await waitForLog(leader, "now runs lease expiry and compaction")
        let follower = try kelson(on: datastore)
        defer { follower.stop() }

        // A lease granted and kept alive only through the follower outlives its TTL: the leader sees the renewals.
        let granted = try Etcdctl.run(endpoint: follower.etcdctlEndpoint, ["lease", "grant", "3"])
        let lease = try #require(granted.stdout.split(separator: " ").dropFirst().first.map(String.init))
        _ = try Etcdctl.run(endpoint: follower.etcdctlEndpoint, ["put", "lk/kept", "v", "--lease", lease])
        for _ in 0..<6 {
            try await Task.sleep(for: .seconds(1))
            let renewed = try Etcdctl.run(endpoint: follower.etcdctlEndpoint, ["lease", "keep-alive", "--once", lease])
            #expect(renewed.exitCode == 0, "\(renewed)")
        }
        #expect(try await client(follower).get("lk/kept") != nil, "a lease renewed at the other process is alive")

        // Kill the leader: the follower takes the role and the unrenewed lease still expires with its key.
        leader.kill(signal: SIGKILL)
        let started = ContinuousClock.now
        var gone = false
        while ContinuousClock.now - started < .seconds(15) {
            if try await client(follower).get("lk/kept") == nil {
                gone = true
                break
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(gone, "the lease expired after the takeover")
        try await waitForLog(follower, "now runs lease expiry and compaction")
    }

    @Test("auto-compaction runs only in the process holding the maintenance role, and moves with it")
    func autoCompactionFollowsRole() async throws {
        let datastore = try TestPostgres.freshSchema()
        let compaction = ["--auto-compaction-mode", "revision", "--auto-compaction-retention", "5"]
        let leader = try kelson(on: datastore, compaction)
        defer { leader.stop() }
        try await waitForLog(leader, "now runs lease expiry and compaction")
        let follower = try kelson(on: datastore, compaction)
        defer { follower.stop() }
        for index in 0..<20 {
            _ = try Etcdctl.run(endpoint: follower.etcdctlEndpoint, ["put", "ac/\(index % 3)", "\(index)"])
        }
        try await waitForLog(leader, "completed auto compaction")
        // Both sample every second; give the follower a few chances to compact on its own.
        try await Task.sleep(for: .seconds(3))
        let followerLog = (try? String(contentsOf: follower.logURL, encoding: .utf8)) ?? ""
        #expect(!followerLog.contains("auto revision compaction"), "a process without the role compacted")

        leader.kill(signal: SIGKILL)
        try await waitForLog(follower, "now runs lease expiry and compaction")
        for index in 0..<20 {
            _ = try Etcdctl.run(endpoint: follower.etcdctlEndpoint, ["put", "ac/\(index % 3)", "again \(index)"])
        }
        try await waitForLog(follower, "completed auto compaction")
    }

    @Test("auth changed through one process holds at the other: enable, password change, disable")
    func authAcrossProcesses() async throws {
        let datastore = try TestPostgres.freshSchema()
        let first = try kelson(on: datastore)
        defer { first.stop() }
        let second = try kelson(on: datastore)
        defer { second.stop() }
        func etcdctl(_ server: ServerProcess, _ arguments: String...) throws -> EtcdctlResult {
            try Etcdctl.run(endpoint: server.etcdctlEndpoint, arguments)
        }
        /// Runs `arguments` at `server` until `done` holds (a change made at the other process arrives within
        /// milliseconds by notification; the bound only keeps a broken build from hanging).
        func eventually(
            _ server: ServerProcess, _ arguments: [String], _ done: (EtcdctlResult) -> Bool
        ) async throws -> EtcdctlResult {
            var result = try Etcdctl.run(endpoint: server.etcdctlEndpoint, arguments)
            let deadline = ContinuousClock.now + .seconds(10)
            while !done(result) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                result = try Etcdctl.run(endpoint: server.etcdctlEndpoint, arguments)
            }
            return result
        }

        _ = try etcdctl(first, "user", "add", "root", "--new-user-password=rootpw")
        _ = try etcdctl(first, "role", "add", "root")
        _ = try etcdctl(first, "user", "grant-role", "root", "root")
        #expect(try etcdctl(first, "auth", "enable").exitCode == 0)

        let refused = try await eventually(second, ["put", "k", "v"]) { $0.exitCode != 0 }
        #expect(refused.stderr.contains("etcdserver: user name is empty"), "\(refused)")
        #expect(try etcdctl(second, "--user", "root:rootpw", "put", "k", "v").exitCode == 0)

        let changed = try Etcdctl.run(
            endpoint: first.etcdctlEndpoint,
            ["--user", "root:rootpw", "user", "passwd", "root", "--interactive=false"],
            stdin: "newpw\n")
        #expect(changed.exitCode == 0, "\(changed)")
        let oldPassword = try await eventually(second, ["--user", "root:rootpw", "get", "k"]) { $0.exitCode != 0 }
        #expect(oldPassword.stderr.contains("authentication failed"), "\(oldPassword)")
        #expect(try etcdctl(second, "--user", "root:newpw", "get", "k").exitCode == 0)

        #expect(try etcdctl(first, "--user", "root:newpw", "auth", "disable").exitCode == 0)
        let open = try await eventually(second, ["put", "k", "w"]) { $0.exitCode == 0 }
        #expect(open.exitCode == 0, "\(open)")
    }

    @Test("restarting PostgreSQL under load: errors during the outage, then recovery, and no acknowledged write lost")
    func postgresRestart() async throws {
        let postgres = try OwnPostgres()
        let server = try kelson(on: postgres.url)
        defer { server.stop() }
        let recorder = Recorder()
        let port = server.clientPort
        let load = Task {
            let connection = try await EtcdClient.connect(host: "127.0.0.1", port: port)
            var index = 0
            while !recorder.stop.load(ordering: .acquiring) {
                index += 1
                let key = "pr/\(index)"
                do {
                    var request = Etcdserverpb_PutRequest()
                    request.key = Data(key.utf8)
                    request.value = Data("v\(index)".utf8)
                    _ = try await connection.put(request, timeout: .seconds(5))
                    recorder.acknowledged.withLock { $0.append(key) }
                } catch {
                    recorder.failures.add(1, ordering: .relaxed)
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            await connection.close()
        }
        try await Task.sleep(for: .seconds(1))
        let beforeOutage = recorder.acknowledged.withLock { $0.count }
        try postgres.halt()
        try await Task.sleep(for: .seconds(2))
        try postgres.resume()
        let duringOutage = recorder.failures.load(ordering: .relaxed)
        let resumed = recorder.acknowledged.withLock { $0.count }
        try await Task.sleep(for: .seconds(4))
        recorder.stop.store(true, ordering: .releasing)
        try await load.value

        #expect(beforeOutage > 0, "writes went through before the outage")
        #expect(duringOutage > 0, "clients got errors while PostgreSQL was down")
        let all = recorder.acknowledged.withLock { $0 }
        #expect(all.count > resumed, "writes went through again after PostgreSQL came back")
        let connection = try await client(server)
        var request = Etcdserverpb_RangeRequest()
        request.key = Data("pr/".utf8)
        request.rangeEnd = Data("pr0".utf8)
        request.keysOnly = true
        let stored = Set(try await connection.range(request).kvs.map { String(decoding: $0.key, as: UTF8.self) })
        await connection.close()
        let lost = all.filter { !stored.contains($0) }
        #expect(lost.isEmpty, "acknowledged writes missing after the restart: \(lost.prefix(10))")
    }

    private func waitForLog(_ server: ServerProcess, _ text: String) async throws {
        for _ in 0..<100 {
            if let log = try? String(contentsOf: server.logURL, encoding: .utf8), log.contains(text) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("\(server.name) never logged “\(text)”")
    }
}
