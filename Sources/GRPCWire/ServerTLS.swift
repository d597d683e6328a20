import NIOSSL

/// Whether a TLS server asks for client certificates.
public enum ClientCertificatePolicy: Sendable, Equatable {
    case notRequested
    /// Clients must present a certificate that chains to a CA in this PEM file; nil trusts the system's roots.
    case required(trustedCAPath: String?)
}

/// A PEM file that could not be used, or a set of files that do not fit together (`path` nil).
public struct ServerTLSError: Error, CustomStringConvertible {
    public let path: String?
    public let reason: String

    public var description: String { path.map { "\($0): \(reason)" } ?? reason }
}

extension GRPCServerConfiguration {
    /// A server context from PEM files for `tls`: TLS 1.2 or later (as etcd), ALPN "h2" first (gRPC clients
    /// insist on it) and "http/1.1" (so HTTP/1-only clients reach the HTTP routes). Certificates are checked for
    /// their chain only, not for a hostname: clients have no name a server could check.
    public static func makeServerTLSContext(
        certificatePath: String, privateKeyPath: String, clientCertificates: ClientCertificatePolicy
    ) throws(ServerTLSError) -> NIOSSLContext {
        let chain = try load(certificatePath) { try NIOSSLCertificate.fromPEMFile($0) }
        guard !chain.isEmpty else { throw ServerTLSError(path: certificatePath, reason: "no PEM certificate found") }
        let key = try load(privateKeyPath) { try NIOSSLPrivateKey(file: $0, format: .pem) }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["h2", "http/1.1"]
        if case .required(let trustedCAPath) = clientCertificates {
            configuration.certificateVerification = .noHostnameVerification
            if let trustedCAPath {
                let authorities = try load(trustedCAPath) { try NIOSSLCertificate.fromPEMFile($0) }
                guard !authorities.isEmpty else {
                    throw ServerTLSError(path: trustedCAPath, reason: "no PEM certificate found")
                }
                configuration.trustRoots = .certificates(authorities)
            }
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw ServerTLSError(path: nil, reason: "cannot use the certificate and key together: \(error)")
        }
    }

    private static func load<Value>(_ path: String, _ body: (String) throws -> Value) throws(ServerTLSError) -> Value {
        do {
            return try body(path)
        } catch {
            throw ServerTLSError(path: path, reason: "\(error)")
        }
    }
}
