import Foundation
import Testing

/// etcd's client TLS flags (`--cert-file`, `--key-file`, `--trusted-ca-file`, `--client-cert-auth`) on etcd 3.4
/// and Kelson side by side, driven by the real etcdctl and curl, with certificates openssl makes for each test.
extension IntegrationTests {
    @Suite("client TLS and mTLS against etcd and Kelson")
    struct TLSTests {
        /// Both servers on https with the same TLS flags; the readiness check presents the good client certificate.
        private func tlsPair(_ certificates: TestCertificates, clientCertAuth: Bool, trustedCA: Bool) throws
            -> ServerPair
        {
            var options = ServerOptions()
            options.https = true
            options.extraArguments = certificates.serverFlags(clientCertAuth: clientCertAuth, trustedCA: trustedCA)
            options.etcdctlArguments = certificates.clientFlags
            return try ServerPair(options: options)
        }

        private func etcdctl(_ server: ServerProcess, _ flags: [String], _ arguments: String...) throws -> EtcdctlResult
        {
            try Etcdctl.run(
                endpoint: server.etcdctlEndpoint, flags + arguments, commandTimeout: "3s", dialTimeout: "2s",
                watchdog: 20)
        }

        /// Runs the same etcdctl command with the same flags on both servers; their outcomes must be equal.
        @discardableResult
        private func assertSame(
            _ pair: ServerPair, _ flags: [String], _ arguments: String...,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws -> EtcdctlResult {
            let command = ServerPair.render(flags + arguments, stdin: nil)
            let expected = try Etcdctl.run(endpoint: pair.reference.etcdctlEndpoint, flags + arguments)
            let actual = try Etcdctl.run(endpoint: pair.candidate.etcdctlEndpoint, flags + arguments)
            #expect(expected.exitCode == 0, "etcd: \(command)\n\(expected)", sourceLocation: sourceLocation)
            #expect(
                Outcome(expected) == Outcome(actual),
                "\(command)\n--- etcd ---\n\(expected)\n--- kelson ---\n\(actual)",
                sourceLocation: sourceLocation)
            return actual
        }

        /// `/health` over TLS with curl: h2 (what curl negotiates by default) and HTTP/1.1.
        private func expectHealthy(
            _ server: ServerProcess, _ flags: [String], sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            for version in ["--http2", "--http1.1"] {
                let health = try Curl.run([version] + flags + ["\(server.clientURL)/health"])
                #expect(
                    health.statusCode == 200, "\(server.name) \(version): \(health)", sourceLocation: sourceLocation)
                #expect(
                    health.body == #"{"health":"true"}"#, "\(server.name) \(version): \(health)",
                    sourceLocation: sourceLocation)
            }
        }

        @Test("--client-cert-auth: a certificate from the trusted CA works; none, or another CA's, is refused")
        func mutualTLS() throws {
            let certificates = try TestCertificates()
            defer { certificates.remove() }
            let pair = try tlsPair(certificates, clientCertAuth: true, trustedCA: true)
            defer { pair.stop() }
            let good = certificates.clientFlags
            try assertSame(pair, good, "put", "greeting", "hello")
            try assertSame(pair, good, "get", "greeting")

            let noCertificate = ["--cacert", certificates.caCertificate]
            let otherCA = [
                "--cacert", certificates.caCertificate, "--cert", certificates.otherClientCertificate, "--key",
                certificates.otherClientKey,
            ]
            for server in [pair.reference, pair.candidate] {
                let refused = try etcdctl(server, noCertificate, "get", "greeting")
                #expect(refused.exitCode != 0, "\(server.name) without a client certificate: \(refused)")
                #expect(!refused.stdout.contains("hello"), "\(server.name): \(refused)")
                let foreign = try etcdctl(server, otherCA, "put", "greeting", "intruder")
                #expect(foreign.exitCode != 0, "\(server.name) with another CA's certificate: \(foreign)")
                let health = try etcdctl(server, good, "endpoint", "health")
                #expect(health.exitCode == 0 && health.stderr.contains("is healthy"), "\(server.name): \(health)")
                // Refusing a client leaves the server serving the others.
                #expect(server.isRunning, "\(server.name) stopped")
                let after = try etcdctl(server, good, "get", "greeting", "--print-value-only")
                #expect(after.exitCode == 0 && after.stdout == "hello\n", "\(server.name): \(after)")

                try expectHealthy(server, good)  // curl takes the same three flags
                let anonymous = try Curl.run(["--cacert", certificates.caCertificate, "\(server.clientURL)/health"])
                #expect(anonymous.exitCode != 0 && anonymous.statusCode == 0, "\(server.name): \(anonymous)")
            }
        }

        @Test("server TLS only: etcdctl with --cacert works, a plaintext client does not")
        func serverTLSOnly() throws {
            let certificates = try TestCertificates()
            defer { certificates.remove() }
            let pair = try tlsPair(certificates, clientCertAuth: false, trustedCA: false)
            defer { pair.stop() }
            let caOnly = ["--cacert", certificates.caCertificate]
            try assertSame(pair, caOnly, "put", "a", "1")
            try assertSame(pair, caOnly, "get", "a", "-w", "json")
            for server in [pair.reference, pair.candidate] {
                let plaintext = try Etcdctl.run(
                    endpoint: server.endpoint, ["get", "a"], commandTimeout: "3s", dialTimeout: "2s", watchdog: 20)
                #expect(plaintext.exitCode != 0, "\(server.name) answered plaintext gRPC on its TLS port: \(plaintext)")
                try expectHealthy(server, caOnly)
            }
        }

        @Test("--trusted-ca-file alone also requires client certificates (etcd 3.4)")
        func trustedCAImpliesClientCertificates() throws {
            let certificates = try TestCertificates()
            defer { certificates.remove() }
            let pair = try tlsPair(certificates, clientCertAuth: false, trustedCA: true)
            defer { pair.stop() }
            try assertSame(pair, certificates.clientFlags, "put", "a", "1")
            for server in [pair.reference, pair.candidate] {
                let refused = try etcdctl(server, ["--cacert", certificates.caCertificate], "get", "a")
                #expect(refused.exitCode != 0, "\(server.name) without a client certificate: \(refused)")
            }
        }

        @Test("inconsistent TLS flags stop the server at startup with etcd's message")
        func startupErrors() throws {
            let certificates = try TestCertificates()
            defer { certificates.remove() }
            for kind in [ServerKind.etcd, .candidate] {
                var noFiles = ServerOptions()
                noFiles.https = true
                try expectStartupFailure(kind, noFiles) { server in
                    "TLS key/cert (--cert-file, --key-file) must be provided for client url \(server.clientURL) "
                        + "with HTTPS scheme"
                }
                var certificateOnly = noFiles
                certificateOnly.extraArguments = ["--cert-file", certificates.serverCertificate]
                try expectStartupFailure(kind, certificateOnly) { _ in
                    "KeyFile and CertFile must both be present[key: , cert: \(certificates.serverCertificate)]"
                }
            }
        }

        private func expectStartupFailure(
            _ kind: ServerKind, _ options: ServerOptions, message: (ServerProcess) -> String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            let server = try ServerProcess.make(kind, options: options)
            defer { server.stop() }
            try server.launchProcess()
            let exited = server.waitForExit()
            #expect(exited, "\(server.name) kept running", sourceLocation: sourceLocation)
            #expect(server.exitSummary != "exit status 0", "\(server.name)", sourceLocation: sourceLocation)
            let expected = message(server)
            #expect(
                server.logTail().contains(expected), "\(server.name) log lacks \"\(expected)\":\n\(server.logTail())",
                sourceLocation: sourceLocation)
        }
    }
}
