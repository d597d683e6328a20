// TLS for the API port. kube-apiserver asks every client for a certificate but requires none: kubectl with the
// admin kubeconfig presents `client-admin.crt`, while pods and `--token` users present nothing and send a bearer
// token. NIOSSL's `.optionalVerification` is exactly that (BoringSSL's SSL_VERIFY_PEER without
// SSL_VERIFY_FAIL_IF_NO_PEER_CERT): a presented chain must verify against `trustRoots`, an absent one is accepted.
// The CA's name goes out in the CertificateRequest, as Go's server does, so Go clients pick the matching certificate.
import NIOSSL

extension ClusterPKI {
    /// ALPN protocols the API port offers, HTTP/2 first like kube-apiserver.
    public static let applicationProtocols = ["h2", "http/1.1"]

    /// A server configuration presenting the serving certificate, offering h2 and http/1.1, and requesting (not
    /// requiring) client certificates, which must chain to the cluster CA when presented.
    public func makeServerTLSConfiguration() throws -> TLSConfiguration {
        let certificate = try NIOSSLCertificate(bytes: Array(self.servingCertificatePEM.utf8), format: .pem)
        let key = try NIOSSLPrivateKey(bytes: Array(self.servingKeyPEM.utf8), format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = Self.applicationProtocols
        configuration.certificateVerification = .optionalVerification
        configuration.trustRoots = .certificates(try self.certificateAuthorityForNIOSSL())
        configuration.sendCANameList = true
        return configuration
    }

    /// A client configuration trusting only the cluster CA, presenting the admin certificate when asked to; for
    /// in-process clients and tests.
    public func makeClientTLSConfiguration(presentingAdminCertificate: Bool) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = Self.applicationProtocols
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = .certificates(try self.certificateAuthorityForNIOSSL())
        if presentingAdminCertificate {
            let certificate = try NIOSSLCertificate(bytes: Array(self.adminCertificatePEM.utf8), format: .pem)
            let key = try NIOSSLPrivateKey(bytes: Array(self.adminKeyPEM.utf8), format: .pem)
            configuration.certificateChain = [.certificate(certificate)]
            configuration.privateKey = .privateKey(key)
        }
        return configuration
    }

    /// An authenticator that maps client certificates issued by this cluster's CA to identities.
    public func makeClientCertificateAuthenticator() -> ClientCertificateAuthenticator {
        ClientCertificateAuthenticator(certificateAuthority: self.certificateAuthority)
    }

    private func certificateAuthorityForNIOSSL() throws -> [NIOSSLCertificate] {
        try NIOSSLCertificate.fromPEMBytes(Array(self.certificateAuthorityPEM.utf8))
    }
}
