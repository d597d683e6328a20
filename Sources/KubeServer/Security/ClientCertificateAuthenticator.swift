// x509 client-certificate authentication, kube-apiserver's rules: the subject's CN is the user name, each O is a
// group, the certificate must chain to the client CA and carry the clientAuth usage (or no extended key usage at
// all, which Go treats as any). BoringSSL already verified the chain during the handshake; this re-checks it against
// the CA so the identity never rests on a TLS setting elsewhere, and so the serving certificate (same CA, serverAuth
// only) cannot be replayed as a client identity.
import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// Maps a TLS peer certificate to an identity, after checking it was issued by the cluster CA for client auth.
public struct ClientCertificateAuthenticator: Sendable {
    /// The CA client certificates must be issued by.
    public let certificateAuthority: Certificate

    /// Creates an authenticator trusting one CA.
    public init(certificateAuthority: Certificate) {
        self.certificateAuthority = certificateAuthority
    }

    /// The identity of the certificate NIOSSL saw (`channel.pipeline.syncOperations.nioSSL_peerCertificate()`);
    /// nil when the peer presented none, so the caller tries a bearer token next.
    public func authenticate(peerCertificate: NIOSSLCertificate?, now: Date = Date()) throws -> AuthenticatedIdentity? {
        guard let peerCertificate else { return nil }
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: try peerCertificate.toDERBytes())
        } catch {
            throw KubeSecurityError(code: .untrustedCertificate, message: "unreadable client certificate: \(error)")
        }
        return try self.authenticate(certificate: certificate, now: now)
    }

    /// The identity of a parsed client certificate: CN as user, O values as groups, plus `system:authenticated`.
    public func authenticate(certificate: Certificate, now: Date = Date()) throws -> AuthenticatedIdentity {
        guard CertificateFactory.isIssued(certificate, by: self.certificateAuthority) else {
            throw KubeSecurityError(
                code: .untrustedCertificate, message: "client certificate not issued by the cluster CA")
        }
        for checked in [certificate, self.certificateAuthority]
        where now < checked.notValidBefore || now > checked.notValidAfter {
            throw KubeSecurityError(
                code: .untrustedCertificate, message: "certificate \(checked.subject) is outside its validity period")
        }
        if let usages = try? certificate.extensions.extendedKeyUsage,
            !usages.contains(.clientAuth) && !usages.contains(.any)
        {
            throw KubeSecurityError(
                code: .untrustedCertificate, message: "certificate is not for client authentication")
        }
        if case .isCertificateAuthority = try? certificate.extensions.basicConstraints {
            throw KubeSecurityError(code: .untrustedCertificate, message: "a CA certificate cannot authenticate a user")
        }
        let commonNames = CertificateFactory.attributeValues(.RDNAttributeType.commonName, in: certificate.subject)
        guard let user = commonNames.first, !user.isEmpty else {
            throw KubeSecurityError(code: .untrustedCertificate, message: "client certificate has no common name")
        }
        let groups = CertificateFactory.attributeValues(.RDNAttributeType.organizationName, in: certificate.subject)
        return AuthenticatedIdentity(user: user, groups: groups)
    }
}
