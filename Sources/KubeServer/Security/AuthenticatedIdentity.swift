// The outcome of authenticating a request, shaped like kube-apiserver's `user.Info`: a name, an optional UID, groups
// and extra attributes. Authorization (RBAC) and audit read only this.

/// Who a request comes from, as established by a client certificate, a service-account token or a static token.
public struct AuthenticatedIdentity: Hashable, Sendable {
    /// The user name, e.g. `system:admin` or `system:serviceaccount:default:builder`.
    public var user: String
    /// The user's UID when the authenticator knows one (a service account's UID), else nil.
    public var uid: String?
    /// The groups, including `system:authenticated`, as kube-apiserver adds it to every authenticated user.
    public var groups: [String]
    /// Extra attributes, e.g. `authentication.kubernetes.io/pod-name` for a pod-bound token.
    public var extra: [String: [String]]

    /// Creates an identity; `system:authenticated` is appended to `groups` when missing.
    public init(user: String, uid: String? = nil, groups: [String], extra: [String: [String]] = [:]) {
        self.user = user
        self.uid = uid
        self.groups = groups
        if !groups.contains(Self.authenticatedGroup) {
            self.groups.append(Self.authenticatedGroup)
        }
        self.extra = extra
    }

    /// The group every authenticated user belongs to.
    public static let authenticatedGroup = "system:authenticated"

    /// The cluster administrator that k3s's admin kubeconfig authenticates as: `system:admin` in `system:masters`.
    public static let clusterAdmin = AuthenticatedIdentity(user: "system:admin", groups: ["system:masters"])
}
