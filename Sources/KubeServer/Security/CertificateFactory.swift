// How the cluster's certificates are made: one self-signed ECDSA P-256 CA, and leaves it signs directly (no
// intermediates, so a verifier needs only the CA). Validity starts a few minutes back to absorb clock skew between
// the server and its clients, as client-go's certificate helpers do.
import Crypto
import Foundation
import SwiftASN1
import X509

enum CertificateFactory {
    /// How long the CA lives: about 10 years, like k3s's `server-ca`.
    static let certificateAuthorityLifetime: TimeInterval = 10 * 365 * 24 * 3600
    /// How long leaves live: about 1 year, like k3s's serving and client certificates.
    static let leafLifetime: TimeInterval = 365 * 24 * 3600
    /// How far back `notBefore` is set, for clients whose clocks run behind.
    static let backdate: TimeInterval = 5 * 60

    /// What a leaf certificate is for.
    enum Usage {
        case serving(ServingNames)
        case client
    }

    /// A self-signed CA named `<prefix>@<unix seconds>`, k3s's naming, so a regenerated CA never shares a name.
    static func makeCertificateAuthority(
        commonNamePrefix: String,
        now: Date
    ) throws -> (certificate: Certificate, key: P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let name = try DistinguishedName {
            CommonName("\(commonNamePrefix)@\(Int64(now.timeIntervalSince1970))")
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: true, keyCertSign: true))
            SubjectKeyIdentifier(hash: publicKey)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-Self.backdate),
            notValidAfter: now.addingTimeInterval(Self.certificateAuthorityLifetime),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        return (certificate, key)
    }

    /// A leaf signed by the CA, with a fresh key.
    static func makeLeaf(
        subject: DistinguishedName,
        usage: Usage,
        issuer: Certificate,
        issuerKey: P256.Signing.PrivateKey,
        now: Date
    ) throws -> (certificate: Certificate, key: P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let authorityKeyIdentifier = try issuer.extensions.subjectKeyIdentifier?.keyIdentifier
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
            switch usage {
            case .serving(let names):
                try ExtendedKeyUsage([.serverAuth])
                names.subjectAlternativeNames
            case .client:
                try ExtendedKeyUsage([.clientAuth])
            }
            AuthorityKeyIdentifier(keyIdentifier: authorityKeyIdentifier)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-Self.backdate),
            notValidAfter: min(now.addingTimeInterval(Self.leafLifetime), issuer.notValidAfter),
            issuer: issuer.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(issuerKey)
        )
        return (certificate, key)
    }

    /// Whether `certificate` was signed by `issuer`'s key under `issuer`'s name.
    static func isIssued(_ certificate: Certificate, by issuer: Certificate) -> Bool {
        certificate.issuer == issuer.subject
            && issuer.publicKey.isValidSignature(certificate.signature, for: certificate)
    }

    /// Whether `certificate` carries `key`'s public half.
    static func matches(_ certificate: Certificate, key: P256.Signing.PrivateKey) -> Bool {
        certificate.publicKey == Certificate.PublicKey(key.publicKey)
    }

    /// The values of one attribute type in a name, e.g. every `O` of a subject.
    static func attributeValues(_ type: ASN1ObjectIdentifier, in name: DistinguishedName) -> [String] {
        name.flatMap { relativeName in
            relativeName.filter { $0.type == type }.compactMap { String($0.value) }
        }
    }
}
