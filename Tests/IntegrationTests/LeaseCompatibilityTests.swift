import Foundation
import Testing

/// Runs the same etcdctl command on both servers and compares outcomes after replacing the
/// values each server picks for itself (lease IDs, member IDs, endpoints) by placeholders.
private struct Substituting {
    let pair: ServerPair
    /// (etcd's text, Kelson's text, placeholder)
    var names: [(reference: String, candidate: String, placeholder: String)] = []

    init(_ pair: ServerPair) {
        self.pair = pair
        names.append((pair.reference.endpoint, pair.candidate.endpoint, "ENDPOINT"))
    }

    func normalize(_ text: String, reference: Bool) -> String {
        var text = text
        for name in names {
            text = text.replacingOccurrences(of: reference ? name.reference : name.candidate, with: name.placeholder)
        }
        return text
    }

    @discardableResult
    func assertSame(
        _ arguments: [String], expect: Expectation = .success, unordered: Bool = false,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> (reference: EtcdctlResult, candidate: EtcdctlResult) {
        let reference = try Etcdctl.run(
            endpoint: pair.reference.endpoint, arguments.map { normalizeArgument($0, reference: true) })
        let candidate = try Etcdctl.run(
            endpoint: pair.candidate.endpoint, arguments.map { normalizeArgument($0, reference: false) })
        var expected = reference
        expected.stdout = normalize(reference.stdout, reference: true)
        expected.stderr = normalize(reference.stderr, reference: true)
        var actual = candidate
        actual.stdout = normalize(candidate.stdout, reference: false)
        actual.stderr = normalize(candidate.stderr, reference: false)
        // Remaining TTLs count down while the two servers are asked one after the other, so a second
        // boundary may fall between them: compare them as "at least 590 of 600 s left".
        for text in [expected.stdout, actual.stdout] {
            for remaining in Self.remainingTTLs(text) {
                #expect(remaining >= 590, "remaining TTL \(remaining) in \(text)", sourceLocation: sourceLocation)
            }
        }
        expected.stdout = Self.maskingRemainingTTLs(expected.stdout)
        actual.stdout = Self.maskingRemainingTTLs(actual.stdout)
        if unordered {
            // etcd lists leases and a lease's keys in Go map order, which is random.
            expected.stdout = Self.unordered(expected.stdout)
            actual.stdout = Self.unordered(actual.stdout)
        }
        switch expect {
        case .success:
            #expect(
                reference.exitCode == 0, "self-check: etcd should succeed: \(reference)", sourceLocation: sourceLocation
            )
        case .failure(let text):
            #expect(
                reference.exitCode != 0 && reference.stderr.contains(text), "self-check: \(reference)",
                sourceLocation: sourceLocation)
        case .anything: break
        }
        #expect(
            Outcome(expected) == Outcome(actual),
            "etcdctl \(arguments.joined(separator: " "))\n--- etcd ---\n\(Outcome(expected))\n--- kelson ---\n\(Outcome(actual))",
            sourceLocation: sourceLocation)
        return (reference, candidate)
    }

    private static let remainingPatterns = [#"remaining\((\d+)s\)"#, #""ttl":(\d+)"#]

    /// Remaining-TTL values printed by `lease timetolive` (simple and JSON formats) and above 100 s,
    /// i.e. those of the long test lease.
    static func remainingTTLs(_ text: String) -> [Int] {
        remainingPatterns.flatMap { pattern -> [Int] in
            let expression = try! NSRegularExpression(pattern: pattern)
            return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
                Range(match.range(at: 1), in: text).flatMap { Int(text[$0]) }
            }.filter { $0 > 100 }
        }
    }

    static func maskingRemainingTTLs(_ text: String) -> String {
        var text = text
        text = text.replacingOccurrences(
            of: #"remaining\(\d{3,}s\)"#, with: "remaining(N)", options: .regularExpression)
        return text.replacingOccurrences(of: #""ttl":\d{3,}"#, with: #""ttl":1"#, options: .regularExpression)
    }

    /// Lines sorted; in JSON, every array sorted.
    static func unordered(_ text: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else {
            return text.split(separator: "\n").sorted().joined(separator: "\n")
        }
        func sortArrays(_ value: Any) -> Any {
            if let dictionary = value as? [String: Any] { return dictionary.mapValues(sortArrays) }
            if let array = value as? [Any] { return array.map(sortArrays).sorted { "\($0)" < "\($1)" } }
            return value
        }
        let data = try? JSONSerialization.data(withJSONObject: sortArrays(object), options: [.sortedKeys])
        return data.map { String(decoding: $0, as: UTF8.self) } ?? text
    }

    /// Arguments may name a placeholder, which each server gets its own value for.
    private func normalizeArgument(_ argument: String, reference: Bool) -> String {
        var argument = argument
        for name in names {
            argument = argument.replacingOccurrences(
                of: name.placeholder, with: reference ? name.reference : name.candidate)
        }
        return argument
    }
}

/// `lease`, `lock`, `elect`, `endpoint hashkv`, `defrag`, `snapshot save`, `move-leader` and member
/// changes against etcd 3.4 and Kelson side by side.
extension IntegrationTests {
    @Suite("etcdctl leases, locks, elections and maintenance against etcd and Kelson")
    struct LeaseCompatibilityTests {
        /// `lease grant` on both; registers the two IDs (hex and decimal) as placeholders.
        private func grant(_ runner: inout Substituting, ttl: Int, placeholder: String) throws {
            let reference = try Etcdctl.run(endpoint: runner.pair.reference.endpoint, ["lease", "grant", "\(ttl)"])
            let candidate = try Etcdctl.run(endpoint: runner.pair.candidate.endpoint, ["lease", "grant", "\(ttl)"])
            // "lease <hex ID> granted with TTL(<n>s)": equal apart from the ID.
            let withoutID = { (text: String) in
                text.replacingOccurrences(of: #"lease \w+ "#, with: "", options: .regularExpression)
            }
            #expect(reference.exitCode == 0 && withoutID(reference.stdout) == withoutID(candidate.stdout))
            func id(_ output: String) throws -> String {
                // "lease 694d7e8b8f0a1c05 granted with TTL(60s)"
                let words = output.split(separator: " ")
                return try #require(words.count > 1 ? String(words[1]) : nil, "lease grant said: \(output)")
            }
            let referenceID = try id(reference.stdout), candidateID = try id(candidate.stdout)
            runner.names.append((referenceID, candidateID, placeholder))
            let decimal = { (hex: String) in String(Int64(bitPattern: UInt64(hex, radix: 16) ?? 0)) }
            // Decimal IDs appear in JSON; a numeric placeholder keeps the JSON parseable.
            runner.names.append((decimal(referenceID), decimal(candidateID), "\(runner.names.count)0000000001"))
        }

        @Test("lease grant, put --lease, timetolive --keys, list, keep-alive --once, revoke")
        func leases() throws {
            let pair = try ServerPair()
            defer { pair.stop() }
            var runner = Substituting(pair)
            try grant(&runner, ttl: 600, placeholder: "LEASE1")
            try grant(&runner, ttl: 1, placeholder: "LEASE2")  // raised to the 2 s minimum
            try runner.assertSame(["lease", "list"], unordered: true)
            try runner.assertSame(["put", "held/a", "1", "--lease", "LEASE1"])
            // The simple format prints the keys on one line in etcd's (random) map order: one key.
            try runner.assertSame(["lease", "timetolive", "LEASE1", "--keys"])
            try runner.assertSame(["put", "held/b", "2", "--lease", "LEASE1"])
            try runner.assertSame(["put", "free", "3"])
            try runner.assertSame(["get", "held/", "--prefix", "-w", "json"])
            try runner.assertSame(["lease", "timetolive", "LEASE1", "--keys", "-w", "json"], unordered: true)
            try runner.assertSame(["lease", "keep-alive", "--once", "LEASE1"])
            try runner.assertSame(["lease", "revoke", "LEASE1"])
            try runner.assertSame(["get", "", "--prefix", "-w", "json"])
            try runner.assertSame(["lease", "timetolive", "LEASE1"])
            try runner.assertSame(["lease", "revoke", "LEASE1"], expect: .failure("requested lease not found"))
            try runner.assertSame(["lease", "keep-alive", "--once", "LEASE1"], expect: .anything)
            try runner.assertSame(
                ["put", "x", "y", "--lease", "1234abcd"], expect: .failure("requested lease not found"))
            try runner.assertSame(["lease", "grant", "9000000001"], expect: .failure("too large lease TTL"))
            // A short lease expires on both and takes its key along. Granted just before use, with room
            // for slow etcdctl starts between the grant and the put.
            try grant(&runner, ttl: 5, placeholder: "LEASE3")
            try runner.assertSame(["put", "short", "s", "--lease", "LEASE3"])
            Thread.sleep(forTimeInterval: 7)
            try runner.assertSame(["get", "short", "-w", "json"])
            try runner.assertSame(["lease", "list"], unordered: true)
        }

        @Test("lock: a second locker waits until the first lets go")
        func lock() throws {
            let pair = try ServerPair()
            defer { pair.stop() }
            for server in [pair.reference, pair.candidate] {
                let first = try Etcdctl.run(endpoint: server.endpoint, ["lock", "mutex", "echo", "first"])
                #expect(first.exitCode == 0 && first.stdout == "first\n", "\(server.name): \(first)")
                // Hold the lock in the background, then ask for it again.
                let holder = try Etcdctl.start(endpoint: server.endpoint, ["lock", "mutex"])
                try waitForKeys(server, prefix: "mutex/", count: 1)
                let waiter = try Etcdctl.start(endpoint: server.endpoint, ["lock", "mutex", "echo", "second"])
                try waitForKeys(server, prefix: "mutex/", count: 2)
                #expect(waiter.process.isRunning, "\(server.name): the second locker must wait")
                _ = sendSignal(holder.process.processIdentifier, SIGINT)
                let held = holder.wait()
                #expect(held.stdout.hasPrefix("mutex/"), "\(server.name): holder printed \(held)")
                let second = waiter.wait()
                #expect(second.exitCode == 0 && second.stdout == "second\n", "\(server.name): \(second)")
                let left = try Etcdctl.run(endpoint: server.endpoint, ["get", "mutex/", "--prefix", "--keys-only"])
                #expect(left.stdout.isEmpty, "\(server.name): lock keys left behind: \(left)")
            }
        }

        @Test("elect: a campaigner wins, an observer sees it, the next one takes over")
        func elect() throws {
            let pair = try ServerPair()
            defer { pair.stop() }
            for server in [pair.reference, pair.candidate] {
                let leader = try Etcdctl.start(endpoint: server.endpoint, ["elect", "office", "alice"])
                try waitForKeys(server, prefix: "office/", count: 1)
                let challenger = try Etcdctl.start(endpoint: server.endpoint, ["elect", "office", "bob"])
                try waitForKeys(server, prefix: "office/", count: 2)
                let observer = try Etcdctl.start(endpoint: server.endpoint, ["elect", "-l", "office"])
                Thread.sleep(forTimeInterval: 1)
                _ = sendSignal(leader.process.processIdentifier, SIGINT)
                let first = leader.wait()
                #expect(first.stdout.hasSuffix("\nalice\n"), "\(server.name): \(first)")
                try waitForKeys(server, prefix: "office/", count: 1)
                Thread.sleep(forTimeInterval: 1)
                _ = sendSignal(challenger.process.processIdentifier, SIGINT)
                _ = sendSignal(observer.process.processIdentifier, SIGINT)
                let second = challenger.wait()
                #expect(second.stdout.hasSuffix("\nbob\n"), "\(server.name): \(second)")
                let seen = observer.wait()
                let values = seen.stdout.split(separator: "\n").filter { !$0.hasPrefix("office/") }
                #expect(values == ["alice", "bob"], "\(server.name): observer saw \(seen)")
            }
        }

        @Test("endpoint hashkv, defrag, snapshot save, move-leader, member changes")
        func maintenance() throws {
            let pair = try ServerPair()
            defer { pair.stop() }
            var runner = Substituting(pair)
            for index in 0..<50 { pair.assertSame("put", "m/\(index % 7)", "\(index)") }
            // Hash values are each server's own; the command and its shape must work alike.
            for server in [pair.reference, pair.candidate] {
                let result = try Etcdctl.run(endpoint: server.endpoint, ["endpoint", "hashkv", "-w", "json"])
                let entries = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [[String: Any]]
                let hashKV = entries?.first?["HashKV"] as? [String: Any]
                #expect(((hashKV?["hash"] as? NSNumber)?.intValue ?? 0) != 0, "\(server.name): \(result)")
                let again = try Etcdctl.run(endpoint: server.endpoint, ["endpoint", "hashkv", "-w", "json"])
                #expect(again.stdout == result.stdout, "\(server.name): hashkv is deterministic")
            }
            runner.names.append((try memberID(pair.reference), try memberID(pair.candidate), "MEMBER"))
            try runner.assertSame(["defrag"])
            try runner.assertSame(["alarm", "list"])
            try runner.assertSame(["alarm", "disarm"])
            try runner.assertSame(["move-leader", "MEMBER"])
            try runner.assertSame(["move-leader", "1234"], expect: .failure("bad leader transferee"))
            try runner.assertSame(["member", "remove", "1234"], expect: .failure("member not found"))
            let added = try Etcdctl.run(
                endpoint: pair.candidate.endpoint, ["member", "add", "second", "--peer-urls", "http://127.0.0.1:2390"])
            #expect(added.exitCode != 0 && added.stderr.contains("one member per database"), "\(added)")

            if Locations.environment["KELSON_TEST_DATASTORE"] == "postgres" {
                // A PostgreSQL datastore is not a file: snapshot save says so (backups use pg_dump or kelson migrate).
                let file = pair.candidate.workDirectory.appendingPathComponent("saved.db").path
                let saved = try Etcdctl.run(endpoint: pair.candidate.endpoint, ["snapshot", "save", file])
                #expect(saved.exitCode != 0 && saved.stderr.contains("kelson migrate"), "\(saved)")
                return
            }
            for server in [pair.reference, pair.candidate] {
                let file = server.workDirectory.appendingPathComponent("saved.db").path
                let saved = try Etcdctl.run(endpoint: server.endpoint, ["snapshot", "save", file])
                #expect(
                    saved.exitCode == 0 && saved.stdout.contains("Snapshot saved at \(file)"),
                    "\(server.name): \(saved)")
                let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? 0
                #expect(size % 512 == 32, "\(server.name): snapshot size \(size)")
            }

            // `kelson snapshot restore` brings Kelson's snapshot back as a new data directory.
            let file = pair.candidate.workDirectory.appendingPathComponent("saved.db").path
            let restored = try KelsonProcess()
            defer { restored.stop() }
            let restore = Process()
            restore.executableURL = URL(fileURLWithPath: Locations.kelson)
            // Without the revision bump, so the copy answers with the same header revision (SnapshotTests covers it).
            restore.arguments = [
                "snapshot", "restore", file, "--data-dir", restored.dataDirectory.path, "--bump-revision", "0",
                "--mark-compacted", "false",
            ]
            try restore.run()
            restore.waitUntilExit()
            #expect(restore.terminationStatus == 0)
            try restored.launchProcess()
            try restored.waitUntilReady(timeout: 15)
            let original = try Etcdctl.run(endpoint: pair.candidate.endpoint, ["get", "m/", "--prefix", "-w", "json"])
            let copy = try Etcdctl.run(endpoint: restored.endpoint, ["get", "m/", "--prefix", "-w", "json"])
            #expect(Outcome(copy) == Outcome(original), "restored: \(copy)\noriginal: \(original)")
            #expect(try memberID(restored) != memberID(pair.candidate), "a restored member gets a new ID")
            // Restoring over an existing database is refused.
            let again = Process()
            again.executableURL = URL(fileURLWithPath: Locations.kelson)
            again.arguments = ["snapshot", "restore", file, "--data-dir", restored.dataDirectory.path]
            again.standardError = FileHandle.nullDevice
            try again.run()
            again.waitUntilExit()
            #expect(again.terminationStatus != 0)
        }

        private func memberID(_ server: ServerProcess) throws -> String {
            let members = try Etcdctl.run(endpoint: server.endpoint, ["member", "list"])
            // "8e9e05c52164694d, started, default, http://..., http://..., false"
            return try #require(members.stdout.split(separator: ",").first.map(String.init), "\(members)")
        }

        /// Waits (bounded) until `count` keys exist under `prefix`.
        private func waitForKeys(_ server: ServerProcess, prefix: String, count: Int) throws {
            for _ in 0..<100 {
                // etcdctl 3.4 has no --count-only.
                let result = try Etcdctl.run(endpoint: server.endpoint, ["get", prefix, "--prefix", "--keys-only"])
                if result.stdout.split(separator: "\n").count == count { return }
                Thread.sleep(forTimeInterval: 0.1)
            }
            Issue.record("\(server.name): never saw \(count) keys under \(prefix)")
        }
    }
}
