import Foundation
import Robustness
import SQLiteBackend
import Testing

/// Crash faults: SIGKILL `kelson etcd` at random points under recorded traffic (also in the middle of group
/// commits), restart it on the same data directory, and repeat. Afterwards the whole history, with a last read of
/// every key, must be linearizable: every acknowledged write survived each crash, and failed calls count as "may or
/// may not have happened". The watch, resumed after each crash from its last revision, must have no gap and no
/// duplicate. The same again with simulated power cuts (unsynced bytes dropped). The short form runs 3 cycles of each;
/// `scripts/torture` runs 20 (KELSON_TORTURE_CYCLES).
extension IntegrationTests {
    @Suite("crash faults: SIGKILL under traffic")
    struct CrashTests {
        @Test(
            "SIGKILL at random points, restart, repeat: acknowledged writes survive and the history stays linearizable")
        func killAndRestart() async throws {
            try await crashCycles(powerCut: false)
        }

        /// SIGKILL keeps the page cache, so the test above cannot see a missing fsync. Here every file goes through
        /// the power-cut journals (`SimulatedPowerCut`): after each SIGKILL, everything written since the file's last
        /// completed sync is taken back, and the last unsynced write is torn at a random sector every other time,
        /// as a disk losing power would. An fsync left out anywhere on the path of an acknowledged write loses it.
        @Test(
            "power cut at random points (unsynced bytes dropped, last write torn), restart: no acknowledged write lost",
            .enabled(if: Locations.environment["KELSON_TEST_DATASTORE"] != "postgres", "a power cut of SQLite's files"))
        func powerCutAndRestart() async throws {
            try await crashCycles(powerCut: true)
        }

        private func crashCycles(powerCut: Bool) async throws {
            let cycles = Int(Locations.environment["KELSON_TORTURE_CYCLES"] ?? "") ?? 3
            var options = ServerOptions()
            if powerCut { options.environment[SimulatedPowerCut.environmentVariable] = "1" }
            let server = try ServerProcess.launch(.kelson, options: options)
            defer { server.stop() }
            var recorder = TrafficRecorder()
            // Long enough for every cycle: up to 1.2 s of traffic, a kill and a restart each.
            recorder.duration = .seconds(Int64(cycles) * 3 + 2)
            let port = server.clientPort
            let traffic = Task { [recorder] in try await recorder.run(host: "127.0.0.1", port: port) }
            var crashes = 0
            var dropped: [String] = []
            for cycle in 0..<cycles {
                try await Task.sleep(for: .milliseconds(Int.random(in: 300...1_200)))
                server.kill(signal: SIGKILL)
                crashes += 1
                if powerCut {
                    let data = server.dataDirectory.path
                    for directory in [data, data + "/kelson.db-log"] {
                        dropped += try SimulatedPowerCut.cut(
                            directory: directory, tear: cycle % 2 == 1, seed: UInt64.random(in: 0...UInt64.max))
                    }
                }
                try server.restart()
            }
            let recording = try await traffic.value
            let operations = recording.history.operations
            let unknown = operations.filter { $0.response == nil }.count
            // Failed calls are settled by the watch (see `resolvedHistory`); the watch itself is validated below.
            let verdict = LinearizabilityChecker(initial: KVModel(revision: recording.startRevision))
                .check(recording.resolvedHistory())
            let violations = WatchValidator.validate(recording.watch, writes: recording.committed)
            // The long form's summary (scripts/torture prints these lines).
            print(
                "torture summary\(powerCut ? " (power cut)" : ""): \(operations.count) operations (\(unknown) with "
                    + "unknown outcome), \(crashes) crashes, \(recording.committed.count) acknowledged writes checked, "
                    + "watch resumed \(recording.watchResumptions) times, violations: "
                    + "\((verdict == .linearizable ? 0 : 1) + violations.count)")
            if powerCut { print("power cuts dropped:\n" + dropped.joined(separator: "\n")) }
            let audit = RevisionAudit.problems(recording.resolvedHistory(), startRevision: recording.startRevision)
            #expect(verdict == .linearizable, "\(verdict)\n\(audit.joined(separator: "\n"))")
            #expect(violations.isEmpty, "\(violations.prefix(10))")
            #expect(recording.watchResumptions >= crashes, "the watch resumed after every crash")
            #expect(recording.committed.count > 50, "too little traffic got through: \(recording.committed.count)")
        }
    }
}
