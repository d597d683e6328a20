// Errors raised by the cluster's security material: the PKI on disk, kubeconfigs and service-account tokens.
// A struct over a code, so callers switch on `code` and log `message`; authentication failures are not thrown
// to clients verbatim (the API server answers 401 with a fixed body, as kube-apiserver does).

/// An error from the cluster's PKI, kubeconfig writing or token verification.
public struct KubeSecurityError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, for callers that branch on it.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case fileSystem
            case invalidMaterial
            case invalidArgument
            case invalidToken
            case tokenExpired
            case tokenNotYetValid
            case wrongIssuer
            case wrongAudience
            case untrustedCertificate
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// A file or directory could not be read, written, renamed or given its mode.
        public static let fileSystem = Code(.fileSystem)
        /// A certificate or key on disk is unreadable or does not fit the rest (e.g. a CA certificate without its key).
        public static let invalidMaterial = Code(.invalidMaterial)
        /// An argument is malformed, e.g. a kubeconfig mode that is not octal.
        public static let invalidArgument = Code(.invalidArgument)
        /// A token is malformed, uses another algorithm, or its signature does not verify.
        public static let invalidToken = Code(.invalidToken)
        /// A token's `exp` has passed.
        public static let tokenExpired = Code(.tokenExpired)
        /// A token's `nbf` or `iat` lies in the future.
        public static let tokenNotYetValid = Code(.tokenNotYetValid)
        /// A token's `iss` is not this cluster's issuer.
        public static let wrongIssuer = Code(.wrongIssuer)
        /// None of a token's `aud` values is accepted.
        public static let wrongAudience = Code(.wrongAudience)
        /// A client certificate does not chain to the cluster CA, is out of its validity, or is not for client auth.
        public static let untrustedCertificate = Code(.untrustedCertificate)

        /// The code's name.
        public var description: String { "\(self.wrapped)" }
    }

    /// What went wrong.
    public let code: Code
    /// A human-readable explanation, for logs.
    public let message: String

    /// Creates an error with a code and a message.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The code and the message.
    public var description: String { "\(self.code): \(self.message)" }
}
