// Bound service-account tokens, as kube-apiserver's TokenRequest API and the kubelet's projected volumes use them.
// Header `{"alg":"ES256","kid":…}` where kid is kube's key ID: unpadded base64url of SHA-256 over the public key's
// PKIX (SubjectPublicKeyInfo) DER. Claims: iss, sub `system:serviceaccount:<ns>:<name>`, aud, exp, iat, nbf, jti and
// the private `kubernetes.io` claim {namespace, serviceaccount{name,uid}, pod?{name,uid}}. Verification mirrors
// kube-apiserver's: signature, then exp/nbf/iat with go-jose's one-minute leeway, then issuer, then audience overlap.
// Whether the service account (and pod) still exist with those UIDs is the caller's check: it owns the store.
import Crypto
import Foundation

/// Issues and verifies service-account JWTs signed with the cluster's ES256 key.
public struct ServiceAccountTokens: Sendable {
    /// kube-apiserver's default `--service-account-issuer` in k3s.
    public static let defaultIssuer = "https://kubernetes.default.svc.cluster.local"
    /// Allowed clock skew on exp, nbf and iat: go-jose's `DefaultLeeway`.
    public static let leewaySeconds: Int64 = 60
    /// Tokens longer than this are rejected before decoding.
    public static let tokenBytesMaximum = 16 * 1024
    /// The longest lifetime `issue` accepts: TokenRequest's bound (expirationSeconds < 2^32).
    public static let expirationSecondsMaximum: Int64 = (1 << 32) - 1

    /// The `iss` written and required.
    public let issuer: String
    /// The audiences accepted on verification, and written when `issue` is given none.
    public let audiences: [String]
    /// The JOSE `kid` of the signing key.
    public let keyID: String
    /// The verification key.
    public var publicKey: P256.Signing.PublicKey { self.signingKey.publicKey }

    // Kept as the scalar: swift-crypto 3's keys are not Sendable.
    private let signingKeyScalar: [UInt8]
    private var signingKey: P256.Signing.PrivateKey {
        try! P256.Signing.PrivateKey(rawRepresentation: self.signingKeyScalar)
    }
    private let now: @Sendable () -> Date

    /// Creates an issuer/verifier; `now` is the clock for iat/exp on issue and for validity on verify.
    public init(
        signingKey: P256.Signing.PrivateKey,
        issuer: String = Self.defaultIssuer,
        audiences: [String] = [Self.defaultIssuer],
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.signingKeyScalar = Array(signingKey.rawRepresentation)
        self.issuer = issuer
        self.audiences = audiences
        self.keyID = Self.keyID(of: signingKey.publicKey)
        self.now = now
    }

    /// kube's key ID for a public key: base64url(SHA-256(PKIX DER)), unpadded.
    public static func keyID(of publicKey: P256.Signing.PublicKey) -> String {
        Base64URL.encode(SHA256.hash(data: publicKey.derRepresentation))
    }

    /// A signed token for a service account, optionally bound to a pod, valid from now for `expirationSeconds`.
    public func issue(
        namespace: String,
        serviceAccount: TokenBoundObject,
        pod: TokenBoundObject? = nil,
        audiences: [String]? = nil,
        expirationSeconds: Int64 = 3600
    ) throws -> String {
        for part in [namespace, serviceAccount.name] where part.isEmpty || part.contains(":") {
            throw KubeSecurityError(code: .invalidArgument, message: "invalid service account name part \"\(part)\"")
        }
        guard (1...Self.expirationSecondsMaximum).contains(expirationSeconds) else {
            throw KubeSecurityError(
                code: .invalidArgument, message: "expirationSeconds \(expirationSeconds) out of range")
        }
        let issuedAt = Int64(self.now().timeIntervalSince1970)
        let claims = ServiceAccountClaims(
            iss: self.issuer,
            sub: ServiceAccountIdentity.userName(namespace: namespace, name: serviceAccount.name),
            aud: audiences ?? self.audiences,
            exp: issuedAt + expirationSeconds, iat: issuedAt, nbf: issuedAt,
            jti: UUID().uuidString.lowercased(),
            kubernetes: .init(namespace: namespace, serviceaccount: serviceAccount, pod: pod))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let header = try encoder.encode(JSONWebTokenHeader(alg: "ES256", kid: self.keyID))
        let signingInput = "\(Base64URL.encode(header)).\(Base64URL.encode(try encoder.encode(claims)))"
        let signature = try self.signingKey.signature(for: Data(signingInput.utf8))
        return "\(signingInput).\(Base64URL.encode(signature.rawRepresentation))"
    }

    /// The identity a token proves, after checking signature, validity, issuer and audience.
    public func verify(_ token: String) throws -> ServiceAccountIdentity {
        let claims = try self.verifiedClaims(token)
        let now = Int64(self.now().timeIntervalSince1970)
        if now > claims.exp + Self.leewaySeconds {
            throw KubeSecurityError(code: .tokenExpired, message: "token expired")
        }
        if let notBefore = claims.nbf, now + Self.leewaySeconds < notBefore {
            throw KubeSecurityError(code: .tokenNotYetValid, message: "token not valid yet")
        }
        if let issuedAt = claims.iat, now + Self.leewaySeconds < issuedAt {
            throw KubeSecurityError(code: .tokenNotYetValid, message: "token issued in the future")
        }
        guard claims.iss == self.issuer else {
            throw KubeSecurityError(code: .wrongIssuer, message: "token issuer \"\(claims.iss)\" is not \(self.issuer)")
        }
        guard claims.aud.contains(where: self.audiences.contains) else {
            throw KubeSecurityError(code: .wrongAudience, message: "token audiences \(claims.aud) not accepted")
        }
        let kubernetes = claims.kubernetes
        guard !kubernetes.namespace.isEmpty, !kubernetes.serviceaccount.name.isEmpty,
            !kubernetes.serviceaccount.uid.isEmpty,
            claims.sub
                == ServiceAccountIdentity.userName(
                    namespace: kubernetes.namespace, name: kubernetes.serviceaccount.name)
        else {
            throw KubeSecurityError(code: .invalidToken, message: "token subject and kubernetes.io claims disagree")
        }
        return ServiceAccountIdentity(
            namespace: kubernetes.namespace, serviceAccount: kubernetes.serviceaccount, pod: kubernetes.pod,
            credentialID: claims.jti, expiresAt: Date(timeIntervalSince1970: TimeInterval(claims.exp)))
    }

    /// The JWK Set kube-apiserver serves at `/openid/v1/jwks`, with this key alone.
    public func jsonWebKeySet() -> String {
        let point = Array(self.signingKey.publicKey.x963Representation)  // 0x04 ‖ x ‖ y
        let x = Base64URL.encode(point[1..<33])
        let y = Base64URL.encode(point[33..<65])
        let key =
            #"{"use":"sig","kty":"EC","kid":"\#(self.keyID)","crv":"P-256","alg":"ES256","x":"\#(x)","y":"\#(y)"}"#
        return #"{"keys":[\#(key)]}"#
    }

    private func verifiedClaims(_ token: String) throws -> ServiceAccountClaims {
        func invalid(_ message: String) -> KubeSecurityError {
            KubeSecurityError(code: .invalidToken, message: message)
        }
        guard token.utf8.count <= Self.tokenBytesMaximum else { throw invalid("token too long") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]),
            let claimBytes = Base64URL.decode(parts[1]), let signatureBytes = Base64URL.decode(parts[2])
        else { throw invalid("token is not a compact JWS") }
        let decoder = JSONDecoder()
        guard let header = try? decoder.decode(JSONWebTokenHeader.self, from: headerBytes) else {
            throw invalid("unreadable token header")
        }
        // Only ES256: never `none`, never an algorithm the token chooses for itself.
        guard header.alg == "ES256" else { throw invalid("unsupported token algorithm \"\(header.alg)\"") }
        guard signatureBytes.count == 64,
            let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signatureBytes),
            self.signingKey.publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8))
        else { throw invalid("token signature does not verify") }
        do {
            return try decoder.decode(ServiceAccountClaims.self, from: claimBytes)
        } catch {
            throw invalid("token claims are not a bound service-account token's: \(error)")
        }
    }
}

/// What a verified service-account token says about its bearer.
public struct ServiceAccountIdentity: Hashable, Sendable {
    /// The service account's namespace.
    public var namespace: String
    /// The service account's name and UID; the caller checks it still exists with that UID.
    public var serviceAccount: TokenBoundObject
    /// The pod the token is bound to, if any; the caller checks it still exists with that UID.
    public var pod: TokenBoundObject?
    /// The token's `jti`, which kube reports as the `credential-id` extra.
    public var credentialID: String?
    /// When the token expires.
    public var expiresAt: Date

    /// `system:serviceaccount:<namespace>:<name>`.
    public static func userName(namespace: String, name: String) -> String {
        "system:serviceaccount:\(namespace):\(name)"
    }

    /// As kube-apiserver's user.Info: the SA user, its UID, the two service-account groups, pod extras.
    public var identity: AuthenticatedIdentity {
        var extra: [String: [String]] = [:]
        if let pod = self.pod {
            extra["authentication.kubernetes.io/pod-name"] = [pod.name]
            extra["authentication.kubernetes.io/pod-uid"] = [pod.uid]
        }
        if let credentialID = self.credentialID {
            extra["authentication.kubernetes.io/credential-id"] = ["JTI=\(credentialID)"]
        }
        return AuthenticatedIdentity(
            user: Self.userName(namespace: self.namespace, name: self.serviceAccount.name),
            uid: self.serviceAccount.uid,
            groups: ["system:serviceaccounts", "system:serviceaccounts:\(self.namespace)"],
            extra: extra)
    }
}

extension ClusterPKI {
    /// Token issuance and verification with the PKI's service-account key.
    public func makeServiceAccountTokens(
        issuer: String = ServiceAccountTokens.defaultIssuer,
        audiences: [String] = [ServiceAccountTokens.defaultIssuer],
        now: @escaping @Sendable () -> Date = { Date() }
    ) -> ServiceAccountTokens {
        ServiceAccountTokens(signingKey: self.serviceAccountKey, issuer: issuer, audiences: audiences, now: now)
    }
}
