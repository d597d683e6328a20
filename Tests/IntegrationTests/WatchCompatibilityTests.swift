import Foundation
import Testing

/// `etcdctl watch` against etcd and Kelson: the same writes must produce the same watch output.
extension IntegrationTests {
    @Suite("etcdctl watch against etcd and Kelson")
    struct WatchCompatibilityTests {
        /// Starts `etcdctl watch <arguments>` on both servers, runs `writes`, and compares the JSON
        /// responses each printed (one per line), after dropping cluster/member/term.
        private func compareWatch(
            _ pair: ServerPair, _ arguments: [String], writes: () -> Void,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            let command = ["watch"] + arguments + ["-w", "json"]
            let reference = try Etcdctl.start(endpoint: pair.reference.endpoint, command, commandTimeout: "30s")
            let candidate = try Etcdctl.start(endpoint: pair.candidate.endpoint, command, commandTimeout: "30s")
            Thread.sleep(forTimeInterval: 0.7)  // let both watchers register before writing
            writes()
            Thread.sleep(forTimeInterval: 0.7)  // let the events arrive
            for running in [reference, candidate] { running.process.terminate() }
            let expected = reference.wait(watchdog: 10)
            let actual = candidate.wait(watchdog: 10)
            let lines = { (text: String) in
                text.split(separator: "\n").map { JSONNormalizer.canonicalJSON(String($0)) ?? String($0) }
            }
            #expect(
                !lines(expected.stdout).isEmpty, "etcd printed no watch response for \(command)",
                sourceLocation: sourceLocation)
            #expect(
                lines(expected.stdout) == lines(actual.stdout),
                """
                etcd and kelson differ for etcdctl \(command.joined(separator: " "))
                --- etcd ---
                \(expected.stdout)\(expected.stderr)
                --- kelson ---
                \(actual.stdout)\(actual.stderr)
                """, sourceLocation: sourceLocation)
        }

        @Test("watch a key, a prefix, from a past revision with --prev-kv, and a compacted start")
        func watches() throws {
            let pair = try ServerPair()
            defer { pair.stop() }
            for value in ["1", "2", "3"] { pair.assertSame("put", "w/a", value) }
            pair.assertSame("put", "w/b", "x")
            pair.assertSame("put", "other", "y")

            try compareWatch(pair, ["w/a"]) {
                pair.assertSame("put", "w/a", "4")
                pair.assertSame("del", "w/a")
            }
            try compareWatch(pair, ["w/", "--prefix", "--prev-kv"]) {
                pair.assertSame("put", "w/c", "new")
                pair.assertSame("put", "w/b", "changed")
                pair.assertSame("txn", stdin: txnInput(success: ["put w/d 1", "put w/e 2", "del w/c"]))
                pair.assertSame("put", "outside", "z")
            }
            // History: replay from revision 2 with previous values, then live events.
            try compareWatch(pair, ["w/", "--prefix", "--rev", "2", "--prev-kv"]) {
                pair.assertSame("put", "w/f", "live")
            }
            pair.assertSame("compaction", "6")
            try compareWatch(pair, ["w/a", "--rev", "3"]) {}
        }
    }
}
