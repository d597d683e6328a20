import Foundation
import Testing

/// The short form of the soak (`scripts/soak` runs 30 minutes and checks memory too): heavy mixed load over many
/// connections, streams, watches and leases, plus clients that come and go; once they are gone the server holds no
/// more file descriptors or threads than before they came. Memory is a benchmark matter (`scripts/soak`).
extension IntegrationTests {
    @Suite("resources under load")
    struct ResourceTests {
        private static func descriptors(_ pid: Int32) -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
        }

        private static func threads(_ pid: Int32) -> Int {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("Threads:") }
            return line.flatMap { Int($0.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)) } ?? -1
        }

        /// 10 s of load: 8 connections of Kubernetes-like traffic with watches, lease keep-alive streams, watch
        /// streams, and 30 one-shot etcdctl clients (a connection each), all at once.
        private static func load(_ endpoint: String) async throws {
            let loads = [
                ["bench", "kubernetes", "--conns", "8", "--clients", "32", "--watchers", "8", "--duration", "10s"],
                ["bench", "lease-keepalive", "--conns", "4", "--clients", "8", "--duration", "10s"],
                ["bench", "watch-latency", "--streams", "20", "--watchers-per-stream", "5", "--duration", "10s"],
            ]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for load in loads {
                    group.addTask {
                        let run = try KelsonRun.run(load + ["--endpoints", endpoint])
                        #expect(run.exitCode == 0, "\(load): \(run.stderr)")
                    }
                }
                group.addTask {
                    for index in 0..<30 {
                        _ = try Etcdctl.run(endpoint: endpoint, ["put", "churn/\(index)", "\(index)"])
                        _ = try Etcdctl.run(endpoint: endpoint, ["lease", "grant", "2"])
                    }
                }
                try await group.waitForAll()
            }
        }

        /// Descriptors and threads once the clients are gone: sampled until they are at most `bound`, or for 5 s.
        private static func settle(_ pid: Int32, toAtMost bound: (Int, Int)?) async throws -> (Int, Int) {
            var settled = (descriptors(pid), threads(pid))
            for _ in 0..<50 {
                if let bound, settled.0 <= bound.0, settled.1 <= bound.1 + 4 { break }
                try await Task.sleep(for: .milliseconds(100))
                settled = (descriptors(pid), threads(pid))
            }
            return settled
        }

        @Test(
            "a second round of heavy load, with clients coming and going, leaves no more descriptors than the first, nor a thread per client"
        )
        func noDescriptorOrThreadGrowth() async throws {
            let server = try ServerProcess.launch(.kelson)
            defer { server.stop() }
            let pid = try #require(server.pid)
            // The first round opens what is opened lazily and kept (SQLite reader connections up to their pool's
            // bound, the WAL, thread pools); the second must end where the first did.
            try await Self.load(server.endpoint)
            let (baseDescriptors, baseThreads) = try await Self.settle(pid, toAtMost: nil)
            try await Self.load(server.endpoint)
            let settled = try await Self.settle(pid, toAtMost: (baseDescriptors, baseThreads))
            #expect(
                settled.0 <= baseDescriptors,
                "descriptors: \(baseDescriptors) after the first round, \(settled.0) after the second")
            #expect(
                // Thread pools (Dispatch, NIO) grow and shrink by a few on their own; a thread per client would be more.
                settled.1 <= baseThreads + 4,
                "threads: \(baseThreads) after the first round, \(settled.1) after the second"
            )
        }
    }
}
