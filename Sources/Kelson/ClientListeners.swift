import Foundation
import GRPCWire
import Logging

/// etcd's client TLS flags. With a certificate and key, `https://` listen URLs serve TLS; `http://` ones stay
/// plain (etcd warns and ignores the files there).
public struct ClientTLSConfiguration: Sendable, Equatable {
    /// `--cert-file`: PEM certificate chain, leaf first.
    public var certificateFile: String?
    /// `--key-file`: PEM private key of that certificate.
    public var keyFile: String?
    /// `--trusted-ca-file`: PEM CA certificates client certificates must chain to.
    public var trustedCAFile: String?
    /// `--client-cert-auth`: refuse clients without a valid certificate.
    public var clientCertificateAuthentication = false

    public init() {}

    /// etcd's `TLSInfo.Empty`: neither a certificate nor a key was given.
    var isEmpty: Bool { certificateFile == nil && keyFile == nil }

    /// etcd 3.4 (`TLSInfo.ServerConfig`) requires client certificates when `--client-cert-auth` is on *or* a
    /// trusted CA file is given; without a CA file the system's roots are trusted.
    var clientCertificates: ClientCertificatePolicy {
        guard clientCertificateAuthentication || trustedCAFile != nil else { return .notRequested }
        return .required(trustedCAPath: trustedCAFile)
    }
}

/// The gRPC server settings for each listen URL, after etcd's checks of the TLS flags against the URL schemes,
/// failing with etcd's messages (people search for them). The TLS files are read once, here, at startup.
func listenerConfigurations(
    _ configuration: KelsonConfiguration, maxReceiveMessageBytes: Int, logger: Logger
) throws(KelsonError) -> [GRPCServerConfiguration] {
    let tls = configuration.clientTLS
    var addresses: [ListenAddress] = []
    for url in configuration.listenClientURLs {
        let address = try ListenAddress(url: url)
        if address.isTLS, tls.isEmpty {
            throw KelsonError(
                "TLS key/cert (--cert-file, --key-file) must be provided for client url \(url) with HTTPS scheme")
        }
        if !address.isTLS, !tls.isEmpty {
            logger.warning(
                "scheme is HTTP while key and cert files are present; ignoring key and cert files",
                metadata: ["client-url": "\(url)"])
        }
        if !address.isTLS, tls.clientCertificateAuthentication {
            logger.warning(
                "scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL",
                metadata: ["client-url": "\(url)"])
        }
        addresses.append(address)
    }
    var plain = GRPCServerConfiguration()
    plain.maxReceiveMessageBytes = maxReceiveMessageBytes
    var secure = plain
    if addresses.contains(where: \.isTLS) {
        guard let certificateFile = tls.certificateFile, let keyFile = tls.keyFile else {
            throw KelsonError(
                "KeyFile and CertFile must both be present[key: \(tls.keyFile ?? ""), cert: \(tls.certificateFile ?? "")]"
            )
        }
        try checkReadable(certificateFile, flag: "--cert-file")
        try checkReadable(keyFile, flag: "--key-file")
        if let trustedCAFile = tls.trustedCAFile { try checkReadable(trustedCAFile, flag: "--trusted-ca-file") }
        do {
            secure.tls = try GRPCServerConfiguration.makeServerTLSContext(
                certificatePath: certificateFile, privateKeyPath: keyFile, clientCertificates: tls.clientCertificates)
        } catch {
            throw KelsonError("client TLS: \(error)")
        }
    }
    return addresses.map { address in
        var listener = address.isTLS ? secure : plain
        listener.host = address.host
        listener.port = address.port
        return listener
    }
}

/// etcd fails at startup with Go's `open <path>: <reason>`; so does Kelson, naming the flag too.
private func checkReadable(_ path: String, flag: String) throws(KelsonError) {
    if FileManager.default.isReadableFile(atPath: path) { return }
    let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file or directory"
    throw KelsonError("\(flag): open \(path): \(reason)")
}
