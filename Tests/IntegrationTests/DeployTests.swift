import Foundation
import Testing

/// What `deploy/` ships: the systemd units pass `systemd-analyze verify` without a warning, and the example
/// configuration starts a working Kelson.
extension IntegrationTests {
    @Suite("deploy/ files")
    struct DeployTests {
        static let deploy = Locations.packageRoot.appendingPathComponent("deploy")

        @Test("the Containerfile copies every directory that Package.swift's targets live in")
        func containerfileCopiesThePackage() throws {
            // A scratch path of its own: the package's .build may be locked by a build running beside the tests.
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kelson-dump-\(UUID())")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let dump = try KelsonRun.run(
                executable: "/usr/bin/env",
                [
                    "swift", "package", "--package-path", Locations.packageRoot.path, "--scratch-path", scratch.path,
                    "dump-package",
                ], watchdog: 120)
            #expect(dump.exitCode == 0, "\(dump.stderr)")
            let package = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
            let targets = try #require(package["targets"] as? [[String: Any]])
            var needed: Set<String> = ["Package.swift"]
            for target in targets {
                let name = try #require(target["name"] as? String)
                let defaultRoot = (target["type"] as? String) == "test" ? "Tests" : "Sources"
                let path = target["path"] as? String ?? "\(defaultRoot)/\(name)"
                needed.insert(String(path.split(separator: "/")[0]))
            }
            let containerfile = try String(
                contentsOf: Self.deploy.appendingPathComponent("Containerfile"), encoding: .utf8)
            let copied = Set(
                containerfile.split(separator: "\n").compactMap { line -> String? in
                    let words = line.split(separator: " ")
                    guard words.first == "COPY", words.count >= 3, !words[1].hasPrefix("--") else { return nil }
                    return words[1].hasSuffix("/") ? String(words[1].dropLast()) : String(words[1])
                })
            #expect(needed.isSubset(of: copied), "missing from the Containerfile: \(needed.subtracting(copied))")
        }

        @Test("systemd-analyze verify accepts both units without a warning")
        func systemdUnits() throws {
            let analyze = "/usr/bin/systemd-analyze"
            try Locations.requireExecutable(analyze, hint: "install it with `apt-get install -y systemd`")
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kelson-units-\(UUID())")
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: scratch) }
            // verify checks that ExecStart's program and EnvironmentFile exist: point them at this build's kelson.
            let environmentFile = scratch.appendingPathComponent("postgres.env")
            try "KELSON_DATASTORE=postgres://kelson@127.0.0.1/kelson\n".write(
                to: environmentFile, atomically: true, encoding: .utf8)
            var units: [String] = []
            for name in ["kelson.service", "kelson-postgres.service"] {
                let text = try String(contentsOf: Self.deploy.appendingPathComponent(name), encoding: .utf8)
                    .replacingOccurrences(of: "/usr/local/bin/kelson", with: Locations.kelson)
                    .replacingOccurrences(of: "/etc/kelson/postgres.env", with: environmentFile.path)
                let unit = scratch.appendingPathComponent(name)
                try text.write(to: unit, atomically: true, encoding: .utf8)
                units.append(unit.path)
            }
            let output = scratch.appendingPathComponent("output")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: analyze)
            process.arguments = ["verify"] + units
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = try FileHandle(forWritingTo: output)
            try process.run()
            process.waitUntilExit()
            let printed = try String(contentsOf: output, encoding: .utf8)
            #expect(process.terminationStatus == 0, "\(printed)")
            #expect(printed.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "warnings:\n\(printed)")
        }

        @Test("deploy/kelson.yaml starts a Kelson (with its paths and ports moved to a scratch directory)")
        func exampleConfiguration() throws {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("kelson-example-\(UUID()).yaml")
            defer { try? FileManager.default.removeItem(at: file) }
            let server = try ServerProcess.make(
                .kelson, options: ServerOptions(extraArguments: ["--config-file", file.path]))
            defer { server.stop() }
            let metricsPort = try LoopbackPorts.free()
            let text = try String(contentsOf: Self.deploy.appendingPathComponent("kelson.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "/var/lib/kelson", with: server.dataDirectory.path)
                .replacingOccurrences(of: "http://127.0.0.1:2379", with: server.clientURL)
                .replacingOccurrences(of: "http://127.0.0.1:2381", with: "http://127.0.0.1:\(metricsPort)")
            try text.write(to: file, atomically: true, encoding: .utf8)
            try server.start()
            let put = try Etcdctl.run(endpoint: server.endpoint, ["put", "a", "1"])
            #expect(put.exitCode == 0, "\(put)")
            let health = try Curl.run(["http://127.0.0.1:\(metricsPort)/health"])
            #expect(health.statusCode == 200 && health.body == #"{"health":"true"}"#, "\(health)")
            let members = try Etcdctl.run(endpoint: server.endpoint, ["member", "list"])
            #expect(members.stdout.contains(", kelson, "), "the example's name: \(members)")
            // The only warning: the harness's own flags are ignored because a config file is given.
            let warnings = server.logTail(lines: 100).split(separator: "\n").filter {
                $0.contains(" warning ")
                    && !$0.contains("other command line flags and environment variables are ignored")
            }
            #expect(warnings.isEmpty, "\(warnings)")
        }
    }
}
