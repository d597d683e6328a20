// The cluster's PKI on disk, k3s's model. Layout of `<data-dir>/tls/` (mode 0700; keys 0600, certificates 0644,
// all PEM, file names as in k3s's `server/tls/`):
//
//   server-ca.crt, server-ca.key          self-signed CA, ECDSA P-256, ~10 years, CN kelson-server-ca@<unix>
//   serving-kube-apiserver.crt, .key      serverAuth leaf for the API port, ~1 year, SANs = ServingNames
//   client-admin.crt, client-admin.key    clientAuth leaf, CN system:admin, O system:masters, ~1 year
//   service.key                           service-account token signing key (ES256)
//
// Invariants: a CA that exists is never regenerated (kubeconfigs and pods' ca.crt pin it; a CA certificate without
// its key is an error, not a reason to start over), and neither is service.key (issued tokens depend on it). A leaf
// is reissued when it is missing, unreadable, not signed by the CA, not matching its key, expiring within
// `renewalWindow` (k3s renews within 90 days), or, for the serving certificate, not covering the requested names.
import Crypto
import Foundation
import SwiftASN1
import X509

/// The cluster CA, the API server's serving certificate, the admin client certificate and the service-account key.
public struct ClusterPKI: Sendable {
    /// Where each file of the PKI lives.
    public struct Paths: Hashable, Sendable {
        /// The `tls` directory itself.
        public let directory: String
        /// The CA certificate (`server-ca.crt`), what clients trust.
        public var certificateAuthority: String { "\(self.directory)/server-ca.crt" }
        /// The CA key (`server-ca.key`).
        public var certificateAuthorityKey: String { "\(self.directory)/server-ca.key" }
        /// The API server's serving certificate.
        public var servingCertificate: String { "\(self.directory)/serving-kube-apiserver.crt" }
        /// The serving certificate's key.
        public var servingKey: String { "\(self.directory)/serving-kube-apiserver.key" }
        /// The admin client certificate (`system:admin`, `system:masters`).
        public var adminCertificate: String { "\(self.directory)/client-admin.crt" }
        /// The admin client certificate's key.
        public var adminKey: String { "\(self.directory)/client-admin.key" }
        /// The service-account token signing key.
        public var serviceAccountKey: String { "\(self.directory)/service.key" }

        /// The paths under a `tls` directory.
        public init(directory: String) { self.directory = directory }
    }

    /// A piece of the PKI, to report what a start created or renewed.
    public enum Component: String, Hashable, Sendable, CaseIterable {
        /// The cluster CA.
        case certificateAuthority
        /// The serving certificate and key.
        case servingCertificate
        /// The admin client certificate and key.
        case adminCertificate
        /// The service-account signing key.
        case serviceAccountKey
    }

    /// Leaves expiring within this window are reissued at start: 90 days, as k3s does.
    public static let renewalWindow: TimeInterval = 90 * 24 * 3600
    /// The CA's common-name prefix; the creation time in Unix seconds follows an `@`.
    public static let certificateAuthorityNamePrefix = "kelson-server-ca"

    /// The files' locations.
    public let paths: Paths
    /// The names the serving certificate was checked (or issued) for.
    public let servingNames: ServingNames
    /// What this load created or reissued; empty when everything on disk was reused.
    public let generated: Set<Component>

    /// The CA certificate, PEM.
    public let certificateAuthorityPEM: String
    /// The serving certificate, PEM.
    public let servingCertificatePEM: String
    /// The serving key, PEM (PKCS#8).
    public let servingKeyPEM: String
    /// The admin client certificate, PEM.
    public let adminCertificatePEM: String
    /// The admin client key, PEM (PKCS#8).
    public let adminKeyPEM: String
    /// The service-account signing key, PEM (PKCS#8).
    public let serviceAccountKeyPEM: String

    /// The parsed CA certificate.
    public let certificateAuthority: Certificate
    /// The service-account signing key.
    public var serviceAccountKey: P256.Signing.PrivateKey {
        // Rebuilt from its scalar: swift-crypto 3's keys are not Sendable, and this struct is shared across tasks.
        try! P256.Signing.PrivateKey(rawRepresentation: self.serviceAccountKeyScalar)
    }

    private let serviceAccountKeyScalar: [UInt8]

    /// Loads `<dataDirectory>/tls`, creating what is missing and reissuing leaves that need it (see the file header).
    public static func loadOrCreate(
        dataDirectory: String,
        nodeName: String,
        extraServingNames: [String] = [],
        now: Date = Date()
    ) throws -> ClusterPKI {
        let paths = Paths(directory: "\(dataDirectory)/tls")
        try SecureFiles.ensureDirectory(paths.directory, enforcedMode: 0o700)
        var generated = Set<Component>()
        let authority = try Self.loadOrCreateAuthority(paths: paths, now: now, generated: &generated)
        let names = ServingNames(nodeName: nodeName, extraNames: extraServingNames)
        let serving = try Self.loadOrCreateLeaf(
            certificatePath: paths.servingCertificate, keyPath: paths.servingKey,
            subject: try DistinguishedName {
                OrganizationName("kelson")
                CommonName("kelson")
            },
            usage: .serving(names), authority: authority, now: now)
        if serving.created { generated.insert(.servingCertificate) }
        let admin = try Self.loadOrCreateLeaf(
            certificatePath: paths.adminCertificate, keyPath: paths.adminKey,
            subject: try DistinguishedName {
                OrganizationName("system:masters")
                CommonName("system:admin")
            },
            usage: .client, authority: authority, now: now)
        if admin.created { generated.insert(.adminCertificate) }
        let serviceAccount = try Self.loadOrCreateKey(path: paths.serviceAccountKey)
        if serviceAccount.created { generated.insert(.serviceAccountKey) }
        return ClusterPKI(
            paths: paths, servingNames: names, generated: generated,
            certificateAuthorityPEM: authority.certificatePEM,
            servingCertificatePEM: serving.certificatePEM, servingKeyPEM: serving.keyPEM,
            adminCertificatePEM: admin.certificatePEM, adminKeyPEM: admin.keyPEM,
            serviceAccountKeyPEM: serviceAccount.pem,
            certificateAuthority: authority.certificate,
            serviceAccountKeyScalar: Array(serviceAccount.key.rawRepresentation))
    }

    /// k3s's "secure" token for `password`: `K10<sha256 of the CA PEM, hex>::server:<password>`, which lets a joining
    /// client pin the CA (hash of `/cacerts`) before it sends the password.
    public func secureToken(password: String) -> String {
        let digest = SHA256.hash(data: Data(self.certificateAuthorityPEM.utf8))
        return "K10\(digest.map { String(format: "%02x", $0) }.joined())::server:\(password)"
    }
}

extension ClusterPKI {
    private struct Authority {
        var certificate: Certificate
        var key: P256.Signing.PrivateKey
        var certificatePEM: String
    }

    private struct Leaf {
        var certificatePEM: String
        var keyPEM: String
        var created: Bool
    }

    private static func loadOrCreateAuthority(
        paths: Paths,
        now: Date,
        generated: inout Set<Component>
    ) throws -> Authority {
        let certificateText = try SecureFiles.readIfPresent(paths.certificateAuthority)
        let keyText = try SecureFiles.readIfPresent(paths.certificateAuthorityKey)
        if let certificateText {
            guard let keyText else {
                throw KubeSecurityError(
                    code: .invalidMaterial,
                    message: "\(paths.certificateAuthority) exists but \(paths.certificateAuthorityKey) does not")
            }
            let certificate = try Self.parseCertificate(certificateText, path: paths.certificateAuthority)
            let key = try Self.parseKey(keyText, path: paths.certificateAuthorityKey)
            guard CertificateFactory.matches(certificate, key: key) else {
                throw KubeSecurityError(
                    code: .invalidMaterial,
                    message: "\(paths.certificateAuthorityKey) is not the key of \(paths.certificateAuthority)")
            }
            return Authority(certificate: certificate, key: key, certificatePEM: certificateText)
        }
        let (certificate, key) = try CertificateFactory.makeCertificateAuthority(
            commonNamePrefix: Self.certificateAuthorityNamePrefix, now: now)
        let certificatePEM = try certificate.serializeAsPEM().pemString + "\n"
        // Key first: a crash between the two writes leaves a stray key, which the next start overwrites.
        try SecureFiles.writeAtomically(key.pemRepresentation + "\n", to: paths.certificateAuthorityKey, mode: 0o600)
        try SecureFiles.writeAtomically(certificatePEM, to: paths.certificateAuthority, mode: 0o644)
        generated.insert(.certificateAuthority)
        return Authority(certificate: certificate, key: key, certificatePEM: certificatePEM)
    }

    private static func loadOrCreateLeaf(
        certificatePath: String,
        keyPath: String,
        subject: DistinguishedName,
        usage: CertificateFactory.Usage,
        authority: Authority,
        now: Date
    ) throws -> Leaf {
        if let certificateText = try SecureFiles.readIfPresent(certificatePath),
            let keyText = try SecureFiles.readIfPresent(keyPath),
            let certificate = try? Certificate(pemEncoded: certificateText),
            let key = try? P256.Signing.PrivateKey(pemRepresentation: keyText),
            Self.isReusable(certificate, key: key, usage: usage, authority: authority.certificate, now: now)
        {
            return Leaf(certificatePEM: certificateText, keyPEM: keyText, created: false)
        }
        let (certificate, key) = try CertificateFactory.makeLeaf(
            subject: subject, usage: usage, issuer: authority.certificate, issuerKey: authority.key, now: now)
        let leaf = Leaf(
            certificatePEM: try certificate.serializeAsPEM().pemString + "\n",
            keyPEM: key.pemRepresentation + "\n",
            created: true)
        try SecureFiles.writeAtomically(leaf.keyPEM, to: keyPath, mode: 0o600)
        try SecureFiles.writeAtomically(leaf.certificatePEM, to: certificatePath, mode: 0o644)
        return leaf
    }

    private static func isReusable(
        _ certificate: Certificate,
        key: P256.Signing.PrivateKey,
        usage: CertificateFactory.Usage,
        authority: Certificate,
        now: Date
    ) -> Bool {
        guard CertificateFactory.isIssued(certificate, by: authority),
            CertificateFactory.matches(certificate, key: key),
            certificate.notValidBefore <= now,
            certificate.notValidAfter > now.addingTimeInterval(Self.renewalWindow)
        else { return false }
        switch usage {
        case .serving(let names): return names.isCovered(by: certificate)
        case .client: return true
        }
    }

    private static func loadOrCreateKey(path: String) throws -> (
        key: P256.Signing.PrivateKey, pem: String, created: Bool
    ) {
        if let text = try SecureFiles.readIfPresent(path) {
            return (try Self.parseKey(text, path: path), text, false)
        }
        let key = P256.Signing.PrivateKey()
        let pem = key.pemRepresentation + "\n"
        try SecureFiles.writeAtomically(pem, to: path, mode: 0o600)
        return (key, pem, true)
    }

    private static func parseCertificate(_ text: String, path: String) throws -> Certificate {
        do {
            return try Certificate(pemEncoded: text)
        } catch {
            throw KubeSecurityError(code: .invalidMaterial, message: "\(path) is not a PEM certificate: \(error)")
        }
    }

    private static func parseKey(_ text: String, path: String) throws -> P256.Signing.PrivateKey {
        do {
            return try P256.Signing.PrivateKey(pemRepresentation: text)
        } catch {
            throw KubeSecurityError(code: .invalidMaterial, message: "\(path) is not a PEM P-256 key: \(error)")
        }
    }
}
