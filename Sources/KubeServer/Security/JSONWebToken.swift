// The JWS compact form as service-account tokens use it: `base64url(header).base64url(claims).base64url(signature)`,
// unpadded base64url (RFC 7515 §2). For ES256 the signature is the raw 64-byte r‖s pair (RFC 7518 §3.4), not the
// DER `ECDSA-Sig-Value` that X.509 and TLS use; swift-crypto's `rawRepresentation` is exactly r‖s.
import Crypto
import Foundation

enum Base64URL {
    /// Unpadded base64url text of `bytes`.
    static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The bytes of unpadded base64url text; nil for any character outside the alphabet, padding included.
    static func decode(_ text: Substring) -> Data? {
        let valid = text.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "-" || $0 == "_"
        }
        guard valid, text.utf8.count % 4 != 1 else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        return Data(base64Encoded: standard)
    }
}

/// The JOSE header of a service-account token: kube-apiserver writes only `alg` and `kid`.
struct JSONWebTokenHeader: Codable {
    var alg: String
    var kid: String?
}

/// A name and UID, as in the `kubernetes.io` claim's `serviceaccount` and `pod` entries.
public struct TokenBoundObject: Codable, Hashable, Sendable {
    /// The object's name.
    public var name: String
    /// The object's UID.
    public var uid: String

    /// Creates a reference.
    public init(name: String, uid: String) {
        self.name = name
        self.uid = uid
    }
}

/// The claims of a bound service-account token, as kube-apiserver's TokenRequest issues them.
struct ServiceAccountClaims: Codable {
    struct KubernetesClaims: Codable {
        var namespace: String
        var serviceaccount: TokenBoundObject
        var pod: TokenBoundObject?
    }

    var iss: String
    var sub: String
    var aud: [String]
    var exp: Int64
    var iat: Int64?
    var nbf: Int64?
    var jti: String?
    var kubernetes: KubernetesClaims

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, nbf, jti
        case kubernetes = "kubernetes.io"
    }

    init(
        iss: String, sub: String, aud: [String], exp: Int64, iat: Int64?, nbf: Int64?, jti: String?,
        kubernetes: KubernetesClaims
    ) {
        (self.iss, self.sub, self.aud, self.exp, self.iat, self.nbf, self.jti) = (iss, sub, aud, exp, iat, nbf, jti)
        self.kubernetes = kubernetes
    }

    // `aud` may be one string or an array (RFC 7519 §4.1.3); NumericDate may be written with a fraction.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.iss = try container.decode(String.self, forKey: .iss)
        self.sub = try container.decode(String.self, forKey: .sub)
        if let single = try? container.decode(String.self, forKey: .aud) {
            self.aud = [single]
        } else {
            self.aud = try container.decode([String].self, forKey: .aud)
        }
        func numericDate(_ key: CodingKeys) throws -> Int64? {
            guard let value = try container.decodeIfPresent(Double.self, forKey: key) else { return nil }
            guard value.isFinite, abs(value) < 1e15 else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "bad NumericDate")
            }
            return Int64(value)
        }
        guard let exp = try numericDate(.exp) else {
            throw DecodingError.keyNotFound(CodingKeys.exp, .init(codingPath: [], debugDescription: "exp is required"))
        }
        self.exp = exp
        self.iat = try numericDate(.iat)
        self.nbf = try numericDate(.nbf)
        self.jti = try container.decodeIfPresent(String.self, forKey: .jti)
        self.kubernetes = try container.decode(KubernetesClaims.self, forKey: .kubernetes)
    }
}
