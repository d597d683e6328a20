import Foundation
import Testing

/// `kelson etcd --auth` (Kelson's own flag; etcd turns auth on only through the API).
extension IntegrationTests {
    @Suite("kelson etcd --auth")
    struct AuthStartupTests {
        /// Runs `kelson etcd` on `server`'s data directory and port with `extra` flags.
        private func launchKelson(_ server: ServerProcess, _ extra: [String]) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Locations.kelson)
            process.arguments =
                [
                    "etcd", "--data-dir", server.dataDirectory.path,
                    "--listen-client-urls", server.clientURL, "--advertise-client-urls", server.clientURL,
                ] + extra
            let log = server.workDirectory.appendingPathComponent("auth-\(UUID().uuidString).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            return process
        }

        @Test("--auth refuses to start without a root user, and turns auth on when there is one")
        func authAtStartup() throws {
            let server = try ServerProcess.launch(.kelson)
            defer { server.stop() }
            server.shutDownProcess()

            // A fresh store has no root user: startup fails and says what to do.
            let refused = try launchKelson(server, ["--auth"])
            refused.waitUntilExit()
            #expect(refused.terminationStatus != 0)
            let logs = try FileManager.default.contentsOfDirectory(atPath: server.workDirectory.path)
                .filter { $0.hasPrefix("auth-") }
                .map {
                    String(
                        decoding: FileManager.default.contents(atPath: server.workDirectory.path + "/" + $0) ?? Data(),
                        as: UTF8.self)
                }
            #expect(
                logs.contains { $0.contains("root user does not exist") && $0.contains("etcdctl user add root") },
                "\(logs)")

            try server.restart()
            for arguments in [
                ["user", "add", "root:rootpw", "--interactive=false"], ["user", "grant-role", "root", "root"],
            ] {
                let result = try Etcdctl.run(endpoint: server.endpoint, arguments)
                #expect(result.exitCode == 0, "\(arguments): \(result)")
            }
            server.shutDownProcess()

            let process = try launchKelson(server, ["--auth=true"])
            defer {
                process.terminate()
                process.waitUntilExit()
            }
            var asRoot = EtcdctlResult(exitCode: -1, stdout: "", stderr: "")
            for _ in 0..<100 {
                asRoot = try Etcdctl.run(endpoint: server.endpoint, ["--user", "root:rootpw", "put", "k", "v"])
                if asRoot.exitCode == 0 { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(asRoot.exitCode == 0, "\(asRoot)")
            let anonymous = try Etcdctl.run(endpoint: server.endpoint, ["get", "k"])
            #expect(
                anonymous.exitCode != 0 && anonymous.stderr.contains("etcdserver: user name is empty"), "\(anonymous)")
            let status = try Etcdctl.run(endpoint: server.endpoint, ["--user", "root:rootpw", "auth", "disable"])
            #expect(status.exitCode == 0 && status.stdout.contains("Authentication Disabled"), "\(status)")
        }
    }
}
