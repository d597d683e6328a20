// The cluster's security material: PKI generation and reuse on disk, checked from outside with openssl; a real TLS
// handshake over loopback with and without the admin client certificate; service-account JWTs; kubeconfig files;
// the static bearer token.
import Crypto
import Foundation
import KubeServer
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Testing
import X509
import Yams

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fresh directory under the system's temporary directory, removed by `remove()`.
private struct TemporaryDirectory {
    let path: String

    init() throws {
        self.path = FileManager.default.temporaryDirectory.appendingPathComponent("kelson-security-\(UUID())").path
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: self.path) }
}

private func fileMode(_ path: String) -> mode_t {
    var status = stat()
    guard stat(path, &status) == 0 else { return 0 }
    return status.st_mode & 0o7777
}

/// Runs openssl with `arguments`, returning its exit status and combined output.
private func openssl(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try run("openssl", arguments)
}

/// Runs a program found on PATH with standard input closed, returning its exit status and combined output.
private func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [program] + arguments
    let pipe = Pipe()
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

private let extraNames = ["10.43.0.1", "192.168.5.20", "kelson-1.example.internal", "0.0.0.0"]

@Suite("Cluster PKI")
struct ClusterPKITests {
    @Test("first start creates everything with private modes")
    func createsMaterialWithModes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let now = Date()
        let pki = try ClusterPKI.loadOrCreate(
            dataDirectory: directory.path, nodeName: "node-a", extraServingNames: extraNames, now: now)
        #expect(pki.generated == Set(ClusterPKI.Component.allCases))
        #expect(pki.paths.directory == "\(directory.path)/tls")
        #expect(fileMode(pki.paths.directory) == 0o700)
        for key in [
            pki.paths.certificateAuthorityKey, pki.paths.servingKey, pki.paths.adminKey, pki.paths.serviceAccountKey,
        ] {
            #expect(fileMode(key) == 0o600, "\(key)")
        }
        for certificate in [pki.paths.certificateAuthority, pki.paths.servingCertificate, pki.paths.adminCertificate] {
            #expect(fileMode(certificate) == 0o644, "\(certificate)")
        }
        #expect(
            try String(contentsOfFile: pki.paths.certificateAuthority, encoding: .utf8) == pki.certificateAuthorityPEM)
        let authority = pki.certificateAuthority
        #expect("\(authority.subject)" == "CN=kelson-server-ca@\(Int64(now.timeIntervalSince1970))")
        #expect(try authority.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: nil))
        #expect(try authority.extensions.keyUsage?.keyCertSign == true)
        #expect(authority.notValidAfter.timeIntervalSince(now) > 9 * 365 * 24 * 3600)
        let serving = try Certificate(pemEncoded: pki.servingCertificatePEM)
        #expect(serving.notValidAfter.timeIntervalSince(now) > 360 * 24 * 3600)
        #expect(try serving.extensions.extendedKeyUsage?.contains(.serverAuth) == true)
        #expect(pki.servingNames.isCovered(by: serving))
        #expect(pki.servingNames.dnsNames.contains("node-a"))
        #expect(!pki.servingNames.ipAddresses.contains([0, 0, 0, 0]))
        let admin = try Certificate(pemEncoded: pki.adminCertificatePEM)
        #expect("\(admin.subject)" == "CN=system:admin,O=system:masters")  // RFC 4514 order: last RDN first
    }

    @Test("a second start reuses every file byte for byte")
    func reloadReusesMaterial() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try ClusterPKI.loadOrCreate(
            dataDirectory: directory.path, nodeName: "node-a", extraServingNames: extraNames)
        let second = try ClusterPKI.loadOrCreate(
            dataDirectory: directory.path, nodeName: "node-a", extraServingNames: extraNames)
        #expect(second.generated.isEmpty)
        #expect(second.certificateAuthorityPEM == first.certificateAuthorityPEM)
        #expect(second.servingCertificatePEM == first.servingCertificatePEM)
        #expect(second.adminCertificatePEM == first.adminCertificatePEM)
        #expect(second.serviceAccountKeyPEM == first.serviceAccountKeyPEM)
        #expect(second.serviceAccountKey.rawRepresentation == first.serviceAccountKey.rawRepresentation)
    }

    @Test("the serving certificate is reissued only for new names or near expiry; the CA never")
    func servingRenewal() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let now = Date()
        let first = try ClusterPKI.loadOrCreate(
            dataDirectory: directory.path, nodeName: "node-a", extraServingNames: extraNames, now: now)
        let subset = try ClusterPKI.loadOrCreate(
            dataDirectory: directory.path, nodeName: "node-a", extraServingNames: ["10.43.0.1", "LOCALHOST."], now: now)
        #expect(subset.generated.isEmpty)
        let widened = try ClusterPKI.loadOrCreate(
            dataDirectory: directory.path, nodeName: "node-a", extraServingNames: extraNames + ["fd00::10"], now: now)
        #expect(widened.generated == [.servingCertificate])
        #expect(widened.servingCertificatePEM != first.servingCertificatePEM)
        #expect(widened.certificateAuthorityPEM == first.certificateAuthorityPEM)
        #expect(widened.adminCertificatePEM == first.adminCertificatePEM)
        let renamed = try ClusterPKI.loadOrCreate(
            dataDirectory: directory.path, nodeName: "node-b", extraServingNames: extraNames + ["fd00::10"], now: now)
        #expect(renamed.generated == [.servingCertificate])
        // 300 days on, the one-year leaves expire within k3s's 90-day window.
        let later = now.addingTimeInterval(300 * 24 * 3600)
        let renewed = try ClusterPKI.loadOrCreate(
            dataDirectory: directory.path, nodeName: "node-b", extraServingNames: extraNames + ["fd00::10"], now: later)
        #expect(renewed.generated == [.servingCertificate, .adminCertificate])
        #expect(renewed.certificateAuthorityPEM == first.certificateAuthorityPEM)
        #expect(renewed.serviceAccountKeyPEM == first.serviceAccountKeyPEM)
        let serving = try Certificate(pemEncoded: renewed.servingCertificatePEM)
        #expect(serving.notValidAfter.timeIntervalSince(later) > 360 * 24 * 3600)
    }

    @Test("a CA certificate without its key is an error, never a new CA")
    func missingAuthorityKey() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pki = try ClusterPKI.loadOrCreate(dataDirectory: directory.path, nodeName: "node-a")
        try FileManager.default.removeItem(atPath: pki.paths.certificateAuthorityKey)
        #expect {
            _ = try ClusterPKI.loadOrCreate(dataDirectory: directory.path, nodeName: "node-a")
        } throws: { ($0 as? KubeSecurityError)?.code == .invalidMaterial }
        #expect(
            try String(contentsOfFile: pki.paths.certificateAuthority, encoding: .utf8) == pki.certificateAuthorityPEM)
    }

    @Test("openssl verifies the chain, purposes and names")
    func opensslAgrees() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pki = try ClusterPKI.loadOrCreate(
            dataDirectory: directory.path, nodeName: "node-a", extraServingNames: extraNames)
        let paths = pki.paths
        let serving = try openssl([
            "verify", "-CAfile", paths.certificateAuthority, "-purpose", "sslserver", paths.servingCertificate,
        ])
        #expect(serving.status == 0, "\(serving.output)")
        let admin = try openssl([
            "verify", "-CAfile", paths.certificateAuthority, "-purpose", "sslclient", paths.adminCertificate,
        ])
        #expect(admin.status == 0, "\(admin.output)")
        let misuse = try openssl([
            "verify", "-CAfile", paths.certificateAuthority, "-purpose", "sslclient", paths.servingCertificate,
        ])
        #expect(misuse.status != 0)
        let hostname = try openssl([
            "verify", "-CAfile", paths.certificateAuthority, "-verify_hostname", "kubernetes.default.svc",
            paths.servingCertificate,
        ])
        #expect(hostname.status == 0, "\(hostname.output)")
        let text = try openssl(["x509", "-in", paths.servingCertificate, "-noout", "-text"]).output
        for name in ServingNames.defaultDNSNames + ["node-a", "kelson-1.example.internal"] {
            #expect(text.contains("DNS:\(name)"), "\(name)")
        }
        for address in ["127.0.0.1", "0:0:0:0:0:0:0:1", "10.43.0.1", "192.168.5.20"] {
            #expect(text.contains("IP Address:\(address)"), "\(address)")
        }
        #expect(!text.contains("IP Address:0.0.0.0"))
        #expect(text.contains("TLS Web Server Authentication"))
        #expect(text.contains("ecdsa-with-SHA256"))
        let authorityText = try openssl(["x509", "-in", paths.certificateAuthority, "-noout", "-text"]).output
        #expect(authorityText.contains("CA:TRUE"))
        #expect(authorityText.contains("Certificate Sign"))
        #expect(authorityText.contains("NIST CURVE: P-256"))
        let adminSubject = try openssl(["x509", "-in", paths.adminCertificate, "-noout", "-subject"]).output
        #expect(adminSubject.contains("O = system:masters, CN = system:admin"))
        let keyCheck = try openssl(["pkey", "-in", paths.serviceAccountKey, "-noout", "-check"])
        #expect(keyCheck.status == 0, "\(keyCheck.output)")
    }

    @Test("the secure token embeds the CA file's SHA-256")
    func secureToken() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pki = try ClusterPKI.loadOrCreate(dataDirectory: directory.path, nodeName: "node-a")
        let digest = try openssl(["dgst", "-sha256", "-r", pki.paths.certificateAuthority]).output.prefix(64)
        #expect(pki.secureToken(password: "s3cret") == "K10\(digest)::server:s3cret")
    }
}

@Suite("Client certificates")
struct ClientCertificateTests {
    @Test("CN is the user and O the groups; foreign, serving and expired certificates are refused")
    func mapsAndRefuses() throws {
        let directory = try TemporaryDirectory()
        let other = try TemporaryDirectory()
        defer {
            directory.remove()
            other.remove()
        }
        let pki = try ClusterPKI.loadOrCreate(dataDirectory: directory.path, nodeName: "node-a")
        let foreign = try ClusterPKI.loadOrCreate(dataDirectory: other.path, nodeName: "node-a")
        let authenticator = pki.makeClientCertificateAuthenticator()
        let admin = try authenticator.authenticate(certificate: Certificate(pemEncoded: pki.adminCertificatePEM))
        #expect(admin == .clusterAdmin)
        #expect(admin.groups == ["system:masters", "system:authenticated"])
        #expect(try authenticator.authenticate(peerCertificate: nil) == nil)
        let refused: [(Certificate, Date)] = [
            (try Certificate(pemEncoded: foreign.adminCertificatePEM), Date()),
            (try Certificate(pemEncoded: pki.servingCertificatePEM), Date()),
            (try Certificate(pemEncoded: pki.adminCertificatePEM), Date().addingTimeInterval(400 * 24 * 3600)),
            (pki.certificateAuthority, Date()),
        ]
        for (certificate, now) in refused {
            #expect {
                _ = try authenticator.authenticate(certificate: certificate, now: now)
            } throws: { ($0 as? KubeSecurityError)?.code == .untrustedCertificate }
        }
    }
}

/// Answers with the TLS peer's identity: a line `<alpn> <user>|<groups>` (or `anonymous`) to a line of text, or the
/// same text as the body of a `200` to an HTTP/1.1 request, so kubectl's `get --raw` prints it.
private final class IdentityEchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let authenticator: ClientCertificateAuthenticator
    private var negotiatedProtocol = "-"
    private var received = ""

    init(authenticator: ClientCertificateAuthenticator) { self.authenticator = authenticator }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent {
            self.negotiatedProtocol = negotiated ?? "-"
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.received += String(buffer: self.unwrapInboundIn(data))
        let isHTTP = self.received.hasPrefix("GET ")
        guard self.received.contains(isHTTP ? "\r\n\r\n" : "\n") else { return }
        let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate()
        var answer: String
        do {
            if let identity = try self.authenticator.authenticate(peerCertificate: certificate) {
                answer = "\(identity.user)|\(identity.groups.joined(separator: ","))"
            } else {
                answer = "anonymous"
            }
        } catch {
            answer = "refused"
        }
        answer = "\(self.negotiatedProtocol) \(answer)\n"
        if isHTTP {
            let body = "{\"identity\":\"\(answer.dropLast())\"}"
            answer =
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Connection: close\r\n\r\n\(body)"
        }
        let channel = context.channel
        let buffer = channel.allocator.buffer(string: answer)
        context.writeAndFlush(self.wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }
}

@Suite("TLS over loopback")
struct TLSHandshakeTests {
    /// Starts a server on 127.0.0.1 with the PKI's server configuration; returns its channel.
    private func startServer(_ pki: ClusterPKI, configuration: TLSConfiguration? = nil) async throws -> Channel {
        let context = try NIOSSLContext(configuration: configuration ?? pki.makeServerTLSConfiguration())
        let authenticator = pki.makeClientCertificateAuthenticator()
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(IdentityEchoHandler(authenticator: authenticator))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// Connects with `configuration`, says hello and returns what the server answered (empty if it hung up).
    private func exchange(port: Int, configuration: TLSConfiguration, hostname: String = "localhost") async throws
        -> String
    {
        let context = try NIOSSLContext(configuration: configuration)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLClientHandler(context: context, serverHostname: hostname))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "hello\n"))
            var answer = ""
            for try await buffer in inbound { answer += String(buffer: buffer) }
            return answer
        }
    }

    @Test("the server sees the admin identity, an anonymous client, and refuses a foreign certificate")
    func handshakes() async throws {
        let directory = try TemporaryDirectory()
        let other = try TemporaryDirectory()
        defer {
            directory.remove()
            other.remove()
        }
        let pki = try ClusterPKI.loadOrCreate(dataDirectory: directory.path, nodeName: "node-a")
        let server = try await self.startServer(pki)
        let port = try #require(server.localAddress?.port)

        let admin = try await self.exchange(
            port: port, configuration: pki.makeClientTLSConfiguration(presentingAdminCertificate: true))
        #expect(admin == "h2 system:admin|system:masters,system:authenticated\n")

        var http1 = try pki.makeClientTLSConfiguration(presentingAdminCertificate: false)
        http1.applicationProtocols = ["http/1.1"]
        let anonymous = try await self.exchange(port: port, configuration: http1, hostname: "kubernetes.default.svc")
        #expect(anonymous == "http/1.1 anonymous\n")

        // A certificate from another cluster's CA: the server's BoringSSL refuses it during the handshake.
        let foreign = try ClusterPKI.loadOrCreate(dataDirectory: other.path, nodeName: "node-a")
        var impostor = try pki.makeClientTLSConfiguration(presentingAdminCertificate: false)
        impostor.certificateChain = [
            .certificate(try NIOSSLCertificate(bytes: Array(foreign.adminCertificatePEM.utf8), format: .pem))
        ]
        impostor.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(foreign.adminKeyPEM.utf8), format: .pem))
        let refused = try? await self.exchange(port: port, configuration: impostor)
        #expect(refused == nil || refused == "")

        // A client that trusts another CA refuses this server.
        let distrustful = try foreign.makeClientTLSConfiguration(presentingAdminCertificate: false)
        await #expect(throws: (any Error).self) {
            _ = try await self.exchange(port: port, configuration: distrustful)
        }
        try await server.close()
    }

    @Test("openssl s_client sees h2, the chain, and the CA named in the certificate request")
    func opensslClient() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pki = try ClusterPKI.loadOrCreate(dataDirectory: directory.path, nodeName: "node-a")
        let server = try await self.startServer(pki)
        let port = try #require(server.localAddress?.port)
        let result = try openssl([
            "s_client", "-connect", "127.0.0.1:\(port)", "-alpn", "h2,http/1.1", "-CAfile",
            pki.paths.certificateAuthority,
            "-verify_hostname", "kubernetes.default.svc.cluster.local", "-verify_return_error",
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("ALPN protocol: h2"))
        #expect(result.output.contains("Verify return code: 0 (ok)"))
        #expect(result.output.contains("Acceptable client certificate CA names\nCN = kelson-server-ca@"))
        try await server.close()
    }

    /// kubectl's Go TLS stack is the client that matters: it must pick the admin certificate from the kubeconfig
    /// when the server asks for one, and connect without one when it holds only a token. HTTP/1.1 only here, as the
    /// echo handler speaks no HTTP/2.
    @Test("kubectl presents the admin certificate from the kubeconfig, and none with a bare token")
    func kubectlClient() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pki = try ClusterPKI.loadOrCreate(dataDirectory: directory.path, nodeName: "node-a")
        var configuration = try pki.makeServerTLSConfiguration()
        configuration.applicationProtocols = ["http/1.1"]
        let server = try await self.startServer(pki, configuration: configuration)
        let port = try #require(server.localAddress?.port)
        let kubeconfig = "\(directory.path)/kubeconfig.yaml"
        try pki.writeAdminKubeconfig(to: kubeconfig, server: "https://127.0.0.1:\(port)")
        let common = ["get", "--raw", "/whoami", "--request-timeout=20s", "--cache-dir", "\(directory.path)/cache"]
        let admin = try run("kubectl", common + ["--kubeconfig", kubeconfig])
        #expect(admin.status == 0, "\(admin.output)")
        #expect(admin.output.contains(#"{"identity":"http/1.1 system:admin|system:masters,system:authenticated"}"#))
        let tokenOnly = try run(
            "kubectl",
            common + [
                "--kubeconfig", "/dev/null", "--server", "https://localhost:\(port)", "--token", "abc",
                "--certificate-authority", pki.paths.certificateAuthority,
            ])
        #expect(tokenOnly.status == 0, "\(tokenOnly.output)")
        #expect(tokenOnly.output.contains(#"{"identity":"http/1.1 anonymous"}"#))
        try await server.close()
    }
}

@Suite("Service-account tokens")
struct ServiceAccountTokenTests {
    private static let start = Date(timeIntervalSince1970: 1_800_000_000)

    private func decodeSegment(_ segment: Substring) throws -> [String: Any] {
        var base64 = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        let data = try #require(Data(base64Encoded: base64))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("a token round-trips with kube's header and claims")
    func roundTrip() throws {
        let tokens = ServiceAccountTokens(signingKey: P256.Signing.PrivateKey(), now: { Self.start })
        let token = try tokens.issue(
            namespace: "default", serviceAccount: TokenBoundObject(name: "builder", uid: "sa-uid"),
            pod: TokenBoundObject(name: "web-0", uid: "pod-uid"), expirationSeconds: 3600)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count == 3)
        let header = try self.decodeSegment(parts[0])
        #expect(header["alg"] as? String == "ES256")
        #expect(header["kid"] as? String == tokens.keyID)
        #expect(header.count == 2)
        let claims = try self.decodeSegment(parts[1])
        #expect(claims["iss"] as? String == "https://kubernetes.default.svc.cluster.local")
        #expect(claims["aud"] as? [String] == ["https://kubernetes.default.svc.cluster.local"])
        #expect(claims["sub"] as? String == "system:serviceaccount:default:builder")
        #expect(claims["iat"] as? Int == 1_800_000_000)
        #expect(claims["nbf"] as? Int == 1_800_000_000)
        #expect(claims["exp"] as? Int == 1_800_003_600)
        let kubernetes = try #require(claims["kubernetes.io"] as? [String: Any])
        #expect(kubernetes["namespace"] as? String == "default")
        #expect((kubernetes["serviceaccount"] as? [String: String]) == ["name": "builder", "uid": "sa-uid"])
        #expect((kubernetes["pod"] as? [String: String]) == ["name": "web-0", "uid": "pod-uid"])
        #expect(parts[2].count == 86)  // 64 raw bytes (r‖s), unpadded base64url

        let verified = try tokens.verify(token)
        #expect(verified.serviceAccount == TokenBoundObject(name: "builder", uid: "sa-uid"))
        let identity = verified.identity
        #expect(identity.user == "system:serviceaccount:default:builder")
        #expect(identity.uid == "sa-uid")
        #expect(
            identity.groups == ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"])
        #expect(identity.extra["authentication.kubernetes.io/pod-name"] == ["web-0"])
    }

    @Test("openssl agrees on the key ID and the ES256 signature")
    func opensslAgrees() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pki = try ClusterPKI.loadOrCreate(dataDirectory: directory.path, nodeName: "node-a")
        let tokens = pki.makeServiceAccountTokens()
        let publicKeyPath = "\(directory.path)/sa.pub"
        #expect(
            try openssl(["pkey", "-in", pki.paths.serviceAccountKey, "-pubout", "-out", publicKeyPath]).status == 0)
        let derPath = "\(directory.path)/sa.der"
        #expect(try openssl(["pkey", "-pubin", "-in", publicKeyPath, "-outform", "DER", "-out", derPath]).status == 0)
        let der = try Data(contentsOf: URL(fileURLWithPath: derPath))
        let expectedKeyID = Data(SHA256.hash(data: der)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        #expect(tokens.keyID == expectedKeyID)

        let token = try tokens.issue(
            namespace: "kube-system", serviceAccount: TokenBoundObject(name: "coredns", uid: "u1"))
        let parts = token.split(separator: ".")
        var signature = String(parts[2]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(
            of: "_", with: "/")
        signature += String(repeating: "=", count: (4 - signature.count % 4) % 4)
        let raw = try #require(Data(base64Encoded: signature))
        #expect(raw.count == 64)
        let inputPath = "\(directory.path)/input"
        let signaturePath = "\(directory.path)/signature"
        try Data("\(parts[0]).\(parts[1])".utf8).write(to: URL(fileURLWithPath: inputPath))
        try P256.Signing.ECDSASignature(rawRepresentation: raw).derRepresentation
            .write(to: URL(fileURLWithPath: signaturePath))
        let verified = try openssl([
            "dgst", "-sha256", "-verify", publicKeyPath, "-signature", signaturePath, inputPath,
        ])
        #expect(verified.status == 0, "\(verified.output)")
    }

    @Test("tampered, expired, early, foreign, wrong-audience and unsigned tokens are refused")
    func refusals() throws {
        let key = P256.Signing.PrivateKey()
        let tokens = ServiceAccountTokens(signingKey: key, now: { Self.start })
        let account = TokenBoundObject(name: "builder", uid: "sa-uid")
        let token = try tokens.issue(namespace: "default", serviceAccount: account, expirationSeconds: 600)
        let parts = token.split(separator: ".").map(String.init)

        func expectRefusal(
            _ candidate: String, by verifier: ServiceAccountTokens = tokens, _ code: KubeSecurityError.Code
        ) {
            #expect {
                _ = try verifier.verify(candidate)
            } throws: { ($0 as? KubeSecurityError)?.code == code }
        }
        var flipped = Array(parts[2])
        flipped[10] = flipped[10] == "A" ? "B" : "A"
        expectRefusal("\(parts[0]).\(parts[1]).\(String(flipped))", .invalidToken)
        let otherClaims = try tokens.issue(namespace: "kube-system", serviceAccount: account).split(separator: ".")[1]
        expectRefusal("\(parts[0]).\(otherClaims).\(parts[2])", .invalidToken)
        let foreign = ServiceAccountTokens(signingKey: P256.Signing.PrivateKey(), now: { Self.start })
        expectRefusal(try foreign.issue(namespace: "default", serviceAccount: account), .invalidToken)
        let none = Data(#"{"alg":"none"}"#.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
        expectRefusal("\(none).\(parts[1]).", .invalidToken)
        expectRefusal("not-a-token", .invalidToken)
        expectRefusal(String(repeating: "a", count: 20_000), .invalidToken)

        let withinLeeway = ServiceAccountTokens(signingKey: key, now: { Self.start.addingTimeInterval(650) })
        #expect(throws: Never.self) { _ = try withinLeeway.verify(token) }
        let expired = ServiceAccountTokens(signingKey: key, now: { Self.start.addingTimeInterval(661) })
        expectRefusal(token, by: expired, .tokenExpired)
        let early = ServiceAccountTokens(signingKey: key, now: { Self.start.addingTimeInterval(-120) })
        expectRefusal(token, by: early, .tokenNotYetValid)
        let otherAudience = ServiceAccountTokens(signingKey: key, audiences: ["vault"], now: { Self.start })
        expectRefusal(token, by: otherAudience, .wrongAudience)
        let vaultToken = try otherAudience.issue(namespace: "default", serviceAccount: account)
        expectRefusal(vaultToken, .wrongAudience)
        let otherIssuer = ServiceAccountTokens(signingKey: key, issuer: "https://example.test", now: { Self.start })
        expectRefusal(token, by: otherIssuer, .wrongIssuer)
        #expect(throws: KubeSecurityError.self) {
            _ = try tokens.issue(namespace: "a:b", serviceAccount: account)
        }
    }

    @Test("the JWK set carries the key under its kid")
    func jsonWebKeySet() throws {
        let tokens = ServiceAccountTokens(signingKey: P256.Signing.PrivateKey())
        let object = try JSONSerialization.jsonObject(with: Data(tokens.jsonWebKeySet().utf8)) as? [String: Any]
        let keys = try #require(object?["keys"] as? [[String: String]])
        #expect(keys.count == 1)
        #expect(keys[0]["kid"] == tokens.keyID)
        #expect(keys[0]["kty"] == "EC" && keys[0]["crv"] == "P-256" && keys[0]["alg"] == "ES256")
    }
}

@Suite("Kubeconfig")
struct KubeconfigTests {
    @Test("the admin kubeconfig parses with k3s's fields and gets the requested mode")
    func writesAdminKubeconfig() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pki = try ClusterPKI.loadOrCreate(dataDirectory: "\(directory.path)/data", nodeName: "node-a")
        let path = "\(directory.path)/etc/kelson/kelson.yaml"
        try pki.writeAdminKubeconfig(to: path, server: "https://127.0.0.1:6443", mode: Kubeconfig.parseMode("0644"))
        #expect(fileMode(path) == 0o644)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect(root["apiVersion"] as? String == "v1")
        #expect(root["kind"] as? String == "Config")
        #expect(root["current-context"] as? String == "default")
        let cluster = try #require((root["clusters"] as? [[String: Any]])?.first)
        #expect(cluster["name"] as? String == "default")
        let clusterBody = try #require(cluster["cluster"] as? [String: String])
        #expect(clusterBody["server"] == "https://127.0.0.1:6443")
        let authority = try #require(clusterBody["certificate-authority-data"].flatMap { Data(base64Encoded: $0) })
        #expect(String(decoding: authority, as: UTF8.self) == pki.certificateAuthorityPEM)
        let context = try #require((root["contexts"] as? [[String: Any]])?.first)
        #expect(context["name"] as? String == "default")
        #expect((context["context"] as? [String: String]) == ["cluster": "default", "user": "default"])
        let user = try #require((root["users"] as? [[String: Any]])?.first)
        #expect(user["name"] as? String == "default")
        let userBody = try #require(user["user"] as? [String: String])
        let certificate = try #require(userBody["client-certificate-data"].flatMap { Data(base64Encoded: $0) })
        let key = try #require(userBody["client-key-data"].flatMap { Data(base64Encoded: $0) })
        #expect(String(decoding: certificate, as: UTF8.self) == pki.adminCertificatePEM)
        #expect(String(decoding: key, as: UTF8.self) == pki.adminKeyPEM)

        // Rewritten in place with the default mode; no temporary file is left behind.
        try pki.writeAdminKubeconfig(to: path, server: "https://10.0.0.5:6443")
        #expect(fileMode(path) == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory.path)/etc/kelson") == ["kelson.yaml"])
    }

    @Test("modes parse as octal and nothing else")
    func parsesModes() throws {
        #expect(try Kubeconfig.parseMode("0644") == 0o644)
        #expect(try Kubeconfig.parseMode("600") == 0o600)
        #expect(try Kubeconfig.parseMode("0o640") == 0o640)
        for invalid in ["", "0999", "abc", "+644", "-644", "1777", "07777", "0x644"] {
            #expect(throws: KubeSecurityError.self, "\(invalid)") { _ = try Kubeconfig.parseMode(invalid) }
        }
    }
}

@Suite("Static bearer token")
struct StaticTokenTests {
    @Test("matches exactly, and a k3s secure token's password too")
    func matches() {
        let plain = StaticTokenAuthenticator(token: "s3cret")
        #expect(plain.authenticate(bearerToken: "s3cret") == .clusterAdmin)
        #expect(plain.authenticate(bearerToken: "s3cre") == nil)
        #expect(plain.authenticate(bearerToken: "s3cret ") == nil)
        #expect(plain.authenticate(bearerToken: "") == nil)
        let secure = StaticTokenAuthenticator(token: "K10abcdef::server:pa55")
        #expect(secure.authenticate(bearerToken: "K10abcdef::server:pa55") != nil)
        #expect(secure.authenticate(bearerToken: "pa55") != nil)
        #expect(secure.authenticate(bearerToken: "server:pa55") == nil)
        #expect(StaticTokenAuthenticator.bearerToken(fromAuthorization: "Bearer abc") == "abc")
        #expect(StaticTokenAuthenticator.bearerToken(fromAuthorization: "bearer  abc ") == "abc")
        #expect(StaticTokenAuthenticator.bearerToken(fromAuthorization: "Basic abc") == nil)
        #expect(StaticTokenAuthenticator.bearerToken(fromAuthorization: "Bearer ") == nil)
    }
}
