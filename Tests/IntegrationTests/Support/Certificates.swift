import Foundation

/// A throwaway PKI made with the real `openssl` at test time, in a temporary directory removed by `remove()`:
/// a CA, a server certificate for 127.0.0.1 and localhost, a client certificate from that CA, and a client
/// certificate from a second, unrelated CA (which a server trusting only the first must refuse).
final class TestCertificates {
    let directory: URL

    var caCertificate: String { path("ca.crt") }
    var serverCertificate: String { path("server.crt") }
    var serverKey: String { path("server.key") }
    var clientCertificate: String { path("client.crt") }
    var clientKey: String { path("client.key") }
    var otherCACertificate: String { path("other-ca.crt") }
    var otherClientCertificate: String { path("other-client.crt") }
    var otherClientKey: String { path("other-client.key") }

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("kelson-it-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            try makeAuthority("ca")
            try makeLeaf(
                "server", authority: "ca",
                extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
            try makeLeaf("client", authority: "ca", extensions: "extendedKeyUsage=clientAuth\n")
            try makeAuthority("other-ca")
            try makeLeaf("other-client", authority: "other-ca", extensions: "extendedKeyUsage=clientAuth\n")
        } catch {
            remove()
            throw error
        }
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// etcd's client TLS flags for a server using these files.
    func serverFlags(clientCertAuth: Bool, trustedCA: Bool) -> [String] {
        var flags = ["--cert-file", serverCertificate, "--key-file", serverKey]
        if trustedCA { flags += ["--trusted-ca-file", caCertificate] }
        if clientCertAuth { flags += ["--client-cert-auth"] }
        return flags
    }

    /// etcdctl flags for a client trusting the CA and presenting the good client certificate.
    var clientFlags: [String] { ["--cacert", caCertificate, "--cert", clientCertificate, "--key", clientKey] }

    private func makeAuthority(_ name: String) throws {
        try openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "\(name).key", "-out", "\(name).crt", "-days", "1", "-subj", "/CN=kelson test \(name)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    }

    private func makeLeaf(_ name: String, authority: String, extensions: String) throws {
        try openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=kelson test \(name)")
        try Data((extensions + "basicConstraints=CA:FALSE\n").utf8).write(to: URL(fileURLWithPath: path("\(name).ext")))
        try openssl(
            "x509", "-req", "-in", "\(name).csr", "-CA", "\(authority).crt", "-CAkey", "\(authority).key",
            "-CAcreateserial", "-out", "\(name).crt", "-days", "1", "-extfile", "\(name).ext")
    }

    private func openssl(_ arguments: String...) throws {
        let executable = "/usr/bin/openssl"
        try Locations.requireExecutable(executable, hint: "install it with `apt-get install -y openssl`")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError(
                "openssl \(arguments.joined(separator: " ")) failed: \(String(decoding: message, as: UTF8.self))")
        }
    }
}
