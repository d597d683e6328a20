// A static bearer token (`kelson server --token`), compared in constant time.
//
// In k3s, `--token` is the cluster join secret rather than an API credential: its "secure" form is
// `K10<sha256 of the CA PEM, hex>::<user>:<password>` (user `server` or `node`), the CA hash letting a joining node
// pin the server's CA before sending the password, which it sends as HTTP basic auth to the supervisor; the short
// form is the password alone. Kelson accepts the token as an API bearer token for the admin identity, and when the
// configured token is in the secure form, a bearer of either the whole token or just its password matches, so users
// can paste whichever k3s habit gave them.
import Crypto
import Foundation

/// Authenticates `Authorization: Bearer <token>` against one configured secret.
public struct StaticTokenAuthenticator: Sendable {
    /// The identity a matching bearer gets.
    public let identity: AuthenticatedIdentity
    private let acceptedDigests: [[UInt8]]

    /// Accepts `token` (and its password when it is a k3s secure token) as `identity`.
    public init(token: String, identity: AuthenticatedIdentity = .clusterAdmin) {
        var accepted = [token]
        if let password = Self.password(ofSecureToken: token) { accepted.append(password) }
        self.acceptedDigests = accepted.map { Array(SHA256.hash(data: Data($0.utf8))) }
        self.identity = identity
    }

    /// The identity when `bearerToken` matches, else nil. Compares SHA-256 digests byte by byte without early exit,
    /// so timing reveals neither the secret's content nor its length.
    public func authenticate(bearerToken: String) -> AuthenticatedIdentity? {
        let presented = SHA256.hash(data: Data(bearerToken.utf8))
        var matched = false
        for accepted in self.acceptedDigests {
            var difference: UInt8 = 0
            for (left, right) in zip(presented, accepted) { difference |= left ^ right }
            matched = matched || difference == 0
        }
        return matched ? self.identity : nil
    }

    /// The token of an `Authorization` header value `Bearer <token>` (scheme case-insensitive), else nil.
    public static func bearerToken(fromAuthorization value: String) -> String? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return nil }
        let token = trimmed.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// The password of a k3s secure token `K10<hash>::<user>:<password>`, else nil.
    static func password(ofSecureToken token: String) -> String? {
        guard token.hasPrefix("K10"), let separator = token.range(of: "::") else { return nil }
        let credentials = token[separator.upperBound...]
        guard let colon = credentials.firstIndex(of: ":") else { return String(credentials) }
        let password = credentials[credentials.index(after: colon)...]
        return password.isEmpty ? nil : String(password)
    }
}
