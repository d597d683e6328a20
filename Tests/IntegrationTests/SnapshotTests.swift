import Foundation
import Testing

/// Backups: an online snapshot taken while clients write, a copy of a stopped server's data directory, and damaged
/// snapshot files, each checked with etcd's HashKV digest.
extension IntegrationTests {
    @Suite("snapshot save, status and restore")
    struct SnapshotTests {
        @Test("an online snapshot under concurrent writes restores to exactly the state at its revision")
        func onlineSnapshotUnderWrites() throws {
            let server = try ServerProcess.launch(.kelson)
            defer { server.stop() }
            let file = server.workDirectory.appendingPathComponent("online.db").path
            // Writers keep going while the snapshot is taken.
            let writers = Process()
            writers.executableURL = URL(fileURLWithPath: Locations.kelson)
            writers.arguments = [
                "bench", "put", "--endpoints", server.endpoint, "--total", "10000", "--clients", "8", "--conns", "4",
                "--key-space-size", "2000",
            ]
            writers.standardOutput = FileHandle.nullDevice
            writers.standardError = FileHandle.nullDevice
            try writers.run()
            Thread.sleep(forTimeInterval: 1)
            let saved = try KelsonRun.run(["snapshot", "save", file, "--endpoints", server.endpoint])
            #expect(saved.exitCode == 0 && saved.stdout.contains("Snapshot saved at \(file)"), "\(saved)")
            #expect(saved.stderr.isEmpty, "no progress bar without a terminal: \(saved.stderr)")
            let writing = writers.isRunning
            writers.waitUntilExit()
            #expect(writing, "the snapshot should be taken while the writers run")

            let status = try snapshotStatus(file)
            #expect(status.revision > 1 && status.totalKey > 0, "\(status)")
            // The digest is etcd's HashKV at the snapshot's revision, on the server it came from...
            #expect(try hashKV(server, revision: status.revision).hash == status.hash)
            // ...and on a server restored from it, whose head is that revision.
            let restored = try ServerProcess.make(.kelson)
            defer { restored.stop() }
            let restore = try KelsonRun.run([
                "snapshot", "restore", file, "--data-dir", restored.dataDirectory.path, "--bump-revision", "0",
                "--mark-compacted", "false",
            ])
            #expect(restore.exitCode == 0, "\(restore)")
            #expect(restore.stderr.isEmpty, "no progress bar without a terminal: \(restore.stderr)")
            try restored.start()
            let head = try hashKV(restored, revision: 0)
            #expect(head.hash == status.hash && head.revision == status.revision, "\(head) vs \(status)")
            let count = try Etcdctl.run(
                endpoint: restored.endpoint, ["get", "", "--prefix", "--limit", "1", "-w", "json"])
            #expect(count.stdout.contains("\"count\":\(status.totalKey)"), "\(count)")

            // By default a restore moves the revision forward by 10^9 and marks it compacted: a client resuming from
            // any revision it saw before gets "compacted" (and lists again); new writes land above everything.
            let bumped = try ServerProcess.make(.kelson)
            defer { bumped.stop() }
            let defaultRestore = try KelsonRun.run([
                "snapshot", "restore", file, "--data-dir", bumped.dataDirectory.path,
            ])
            #expect(defaultRestore.exitCode == 0, "\(defaultRestore)")
            try bumped.start()
            let resumed = try Etcdctl.run(
                endpoint: bumped.endpoint, ["get", "", "--prefix", "--rev", "\(status.revision)"])
            #expect(resumed.stderr.contains("required revision has been compacted"), "\(resumed)")
            // A watcher resuming from a revision it saw is cancelled the same way, so it lists again.
            let watch = try Etcdctl.run(
                endpoint: bumped.endpoint, ["watch", "--rev", "\(status.revision)", "--prefix", ""], watchdog: 15)
            #expect(
                watch.stderr.contains("watch was canceled (etcdserver: mvcc: required revision has been compacted)")
                    && watch.exitCode != 0, "\(watch)")
            let put = try Etcdctl.run(endpoint: bumped.endpoint, ["put", "after-restore", "x", "-w", "json"])
            #expect(put.stdout.contains("\"revision\":\(status.revision + 1_000_000_001)"), "\(put)")
            let keys = try Etcdctl.run(
                endpoint: bumped.endpoint, ["get", "", "--prefix", "--limit", "1", "-w", "json"])
            #expect(keys.stdout.contains("\"count\":\(status.totalKey + 1)"), "every key survives the bump: \(keys)")
        }

        @Test("a copy of a stopped server's data directory is a complete backup")
        func copyOfStoppedDataDirectory() throws {
            let server = try ServerProcess.launch(.kelson)
            defer { server.stop() }
            let writes = try KelsonRun.run([
                "bench", "put", "--endpoints", server.endpoint, "--total", "2000", "--key-space-size", "300",
            ])
            #expect(writes.exitCode == 0, "\(writes)")
            let before = try hashKV(server, revision: 0)
            server.kill(signal: SIGTERM)
            let copy = try ServerProcess.make(.kelson)
            defer { copy.stop() }
            try FileManager.default.copyItem(at: server.dataDirectory, to: copy.dataDirectory)
            try copy.start()
            let after = try hashKV(copy, revision: 0)
            #expect(after == before, "copy \(after) vs original \(before)")
        }

        @Test("a damaged, cut-off or foreign file is refused with a clear error and restores nothing")
        func damagedFiles() throws {
            let server = try ServerProcess.launch(.kelson)
            defer { server.stop() }
            for index in 0..<20 { _ = try Etcdctl.run(endpoint: server.endpoint, ["put", "k\(index)", "v"]) }
            let good = server.workDirectory.appendingPathComponent("good.db")
            let saved = try KelsonRun.run(["snapshot", "save", good.path, "--endpoints", server.endpoint])
            #expect(saved.exitCode == 0, "\(saved)")
            var bytes = try Data(contentsOf: good)

            var flipped = bytes
            flipped[flipped.count / 2] ^= 0xff
            let damaged = server.workDirectory.appendingPathComponent("damaged.db")
            try flipped.write(to: damaged)
            let cut = server.workDirectory.appendingPathComponent("cut.db")
            try bytes.prefix(bytes.count - 100).write(to: cut)
            bytes = Data(repeating: 0x42, count: 8192)
            let foreign = server.workDirectory.appendingPathComponent("foreign.db")
            try bytes.write(to: foreign)

            for (file, extra, expected) in [
                (damaged, [String](), "SHA-256 mismatch (the file is damaged)"),
                (cut, [], "has no SHA-256 trailer"),
                (foreign, ["--skip-hash-check"], "is not a Kelson snapshot"),
            ] {
                let target = server.workDirectory.appendingPathComponent("restore-\(UUID())")
                let restore = try KelsonRun.run(["snapshot", "restore", file.path, "--data-dir", target.path] + extra)
                #expect(
                    restore.exitCode != 0 && restore.stderr.contains(expected), "\(file.lastPathComponent): \(restore)")
                let leftover = FileManager.default.fileExists(atPath: target.appendingPathComponent("kelson.db").path)
                #expect(!leftover, "\(file.lastPathComponent): a refused restore must not leave a database behind")
                if extra.isEmpty {
                    let status = try KelsonRun.run(["snapshot", "status", file.path])
                    #expect(status.exitCode != 0 && status.stderr.contains(expected), "\(status)")
                }
            }
            // Saving over an existing file is refused.
            let again = try KelsonRun.run(["snapshot", "save", good.path, "--endpoints", server.endpoint])
            #expect(again.exitCode != 0 && again.stderr.contains("already exists"), "\(again)")
        }

        @Test(
            "kelson defrag --data-dir shrinks a stopped server's file and keeps its state; a running server's directory is refused, to defrag and to a second server"
        )
        func offlineDefragAndDataDirectoryLock() throws {
            let server = try ServerProcess.launch(.kelson)
            defer { server.stop() }
            let writes = try KelsonRun.run([
                "bench", "put", "--endpoints", server.endpoint, "--total", "6000", "--key-space-size", "50",
                "--val-size", "1024",
            ])
            #expect(writes.exitCode == 0, "\(writes)")
            let status = try Etcdctl.run(endpoint: server.endpoint, ["endpoint", "status", "-w", "json"])
            let revision = status.stdout.range(of: #""revision":[0-9]+"#, options: .regularExpression).map {
                String(status.stdout[$0].dropFirst(#""revision":"#.count))
            }
            let compact = try Etcdctl.run(endpoint: server.endpoint, ["compact", try #require(revision, "\(status)")])
            #expect(compact.exitCode == 0, "\(compact)")

            // While the server runs, its file belongs to it.
            let refused = try KelsonRun.run(["defrag", "--data-dir", server.dataDirectory.path])
            #expect(
                refused.exitCode != 0 && refused.stderr.contains("is in use by another Kelson process"), "\(refused)")
            let second = try KelsonRun.run(
                ["etcd", "--data-dir", server.dataDirectory.path, "--listen-client-urls", "http://127.0.0.1:0"],
                watchdog: 30)
            #expect(second.exitCode != 0 && second.stderr.contains("is in use by another Kelson process"), "\(second)")
            let stillServing = try Etcdctl.run(endpoint: server.endpoint, ["put", "after-refusals", "x"])
            #expect(stillServing.exitCode == 0, "the refused processes must leave the server alone: \(stillServing)")

            let before = try hashKV(server, revision: 0)
            server.kill(signal: SIGTERM)
            let file = server.dataDirectory.appendingPathComponent("kelson.db").path
            let sizeBefore = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)
            let defrag = try KelsonRun.run(["defrag", "--data-dir", server.dataDirectory.path])
            #expect(defrag.exitCode == 0 && defrag.stdout.contains("Finished defragmenting"), "\(defrag)")
            #expect(defrag.stderr.isEmpty, "no progress bar without a terminal: \(defrag.stderr)")
            let sizeAfter = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)
            // 50 live keys of 1 KiB against 6,000 revisions of history (compacted, with free pages left behind).
            #expect(sizeAfter.intValue * 4 < sizeBefore.intValue, "\(sizeBefore) → \(sizeAfter) bytes")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: server.dataDirectory.path)
            #expect(leftovers == ["kelson.db"], "\(leftovers)")

            try server.start()
            let after = try hashKV(server, revision: 0)
            #expect(after == before, "defragmented \(after) vs original \(before)")
        }

        private struct Hash: Equatable, CustomStringConvertible {
            var hash: UInt32
            var revision: Int64
            var description: String { "hash \(hash) at revision \(revision)" }
        }

        private struct SnapshotStatus: Decodable {
            var hash: UInt32
            var revision: Int64
            var totalKey: Int64
            var totalSize: Int64
        }

        private func snapshotStatus(_ file: String) throws -> SnapshotStatus {
            let run = try KelsonRun.run(["snapshot", "status", file, "-w", "json"])
            #expect(run.exitCode == 0, "\(run)")
            return try JSONDecoder().decode(SnapshotStatus.self, from: Data(run.stdout.utf8))
        }

        /// `etcdctl endpoint hashkv [--rev R] -w json`: the hash and the header's revision.
        private func hashKV(_ server: ServerProcess, revision: Int64) throws -> Hash {
            let result = try Etcdctl.run(
                endpoint: server.endpoint, ["endpoint", "hashkv", "--rev", "\(revision)", "-w", "json"])
            let entries = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [[String: Any]]
            let response = entries?.first?["HashKV"] as? [String: Any]
            let header = response?["header"] as? [String: Any]
            let hash = try #require((response?["hash"] as? NSNumber)?.uint32Value, "\(result)")
            let headerRevision = (header?["revision"] as? NSNumber)?.int64Value ?? -1
            return Hash(hash: hash, revision: revision == 0 ? headerRevision : revision)
        }
    }
}
