import EtcdAPI
import Foundation
import GRPCWire
import RevisionLog
import SwiftProtobuf

/// etcd's `Auth` service (`v3rpc/auth.go`, `v3_server.go`, `apply_auth.go`). Changes need the
/// root role once auth is on; reads answer from the cached state. Every call refuses an invalid
/// token first, as etcd does for everything that goes through raft.
final class AuthService: Sendable {
    let auth: AuthStore
    let store: Store
    let identity: ServerIdentity

    init(auth: AuthStore, store: Store, identity: ServerIdentity) {
        self.auth = auth
        self.store = store
        self.identity = identity
    }

    func register(into router: inout GRPCServerRouter) {
        registerChanges(into: &router)
        registerReads(into: &router)
        router.registerAsyncUnary("/etcdserverpb.Auth/Authenticate", Etcdserverpb_AuthenticateRequest.self) {
            [self] request, _ in
            await answer { () async throws(EtcdWireError) in try await authenticate(request) }
        }
    }

    private func registerChanges(into router: inout GRPCServerRouter) {
        registerChange(&router, enable)
        registerChange(&router, disable)
        registerChange(&router, addUser)
        registerChange(&router, deleteUser)
        registerChange(&router, changePassword)
        registerChange(&router, grantRole)
        registerChange(&router, revokeRole)
        registerChange(&router, addRole)
        registerChange(&router, deleteRole)
        registerChange(&router, grantPermission)
        registerChange(&router, revokePermission)
    }

    // MARK: Changes (each runs once the caller is known to hold the root role, or auth is off)

    private func enable(_: Etcdserverpb_AuthEnableRequest, by user: String?) async throws(EtcdWireError) {
        try await auth.update(by: user) { state throws(EtcdWireError) in try state.enable() }
    }

    private func disable(_: Etcdserverpb_AuthDisableRequest, by user: String?) async throws(EtcdWireError) {
        try await auth.update(by: user) { state throws(EtcdWireError) in state.disable() }
        auth.tokens.removeAll()
    }

    /// etcd checks the name, then hashes, then looks for an existing user; Kelson looks in its
    /// cache before hashing too, so a duplicate costs no hashing (the answer is the same).
    private func addUser(_ request: Etcdserverpb_AuthUserAddRequest, by user: String?) async throws(EtcdWireError) {
        if request.name.isEmpty { throw .userEmpty }
        if try auth.currentState().users[request.name] != nil { throw .userAlreadyExist }
        let noPassword = request.options.noPassword
        let hash = noPassword ? nil : auth.hashPassword(request.password)
        try await auth.update(by: user) { state throws(EtcdWireError) in
            try state.addUser(name: request.name, password: hash, noPassword: noPassword)
        }
    }

    private func deleteUser(
        _ request: Etcdserverpb_AuthUserDeleteRequest, by user: String?
    ) async throws(EtcdWireError) {
        try await auth.update(by: user) { state throws(EtcdWireError) in try state.deleteUser(name: request.name) }
        auth.tokens.invalidate(user: request.name)
    }

    /// etcd hashes before it looks the user up.
    private func changePassword(
        _ request: Etcdserverpb_AuthUserChangePasswordRequest, by user: String?
    ) async throws(EtcdWireError) {
        let hash = auth.hashPassword(request.password)
        try await auth.update(by: user) { state throws(EtcdWireError) in
            try state.changePassword(name: request.name, password: hash)
        }
        auth.tokens.invalidate(user: request.name)
    }

    private func grantRole(
        _ request: Etcdserverpb_AuthUserGrantRoleRequest, by user: String?
    ) async throws(EtcdWireError) {
        try await auth.update(by: user) { state throws(EtcdWireError) in
            try state.grantRole(user: request.user, role: request.role)
        }
    }

    private func revokeRole(
        _ request: Etcdserverpb_AuthUserRevokeRoleRequest, by user: String?
    ) async throws(EtcdWireError) {
        try await auth.update(by: user) { state throws(EtcdWireError) in
            try state.revokeRole(user: request.name, role: request.role)
        }
    }

    private func addRole(_ request: Etcdserverpb_AuthRoleAddRequest, by user: String?) async throws(EtcdWireError) {
        try await auth.update(by: user) { state throws(EtcdWireError) in try state.addRole(name: request.name) }
    }

    private func deleteRole(
        _ request: Etcdserverpb_AuthRoleDeleteRequest, by user: String?
    ) async throws(EtcdWireError) {
        try await auth.update(by: user) { state throws(EtcdWireError) in try state.deleteRole(name: request.role) }
    }

    private func grantPermission(
        _ request: Etcdserverpb_AuthRoleGrantPermissionRequest, by user: String?
    ) async throws(EtcdWireError) {
        var permission: AuthPermission?
        if request.hasPerm {
            // etcdctl only sends the three types etcd defines.
            guard let known = AuthPermission(request.perm) else {
                throw .unknownPermissionType(request.perm.permType.rawValue)
            }
            permission = known
        }
        try await auth.update(by: user) { [permission] state throws(EtcdWireError) in
            try state.grantPermission(role: request.name, permission: permission)
        }
    }

    private func revokePermission(
        _ request: Etcdserverpb_AuthRoleRevokePermissionRequest, by user: String?
    ) async throws(EtcdWireError) {
        try await auth.update(by: user) { state throws(EtcdWireError) in
            try state.revokePermission(role: request.role, key: request.key, rangeEnd: request.rangeEnd)
        }
    }

    // MARK: Helpers

    /// Registers a change: the token is checked and the root role looked for in the cache before
    /// any work (hashing) is done, and again against the stored state when the change is applied.
    private func registerChange<Request: AuthChangeRequest>(
        _ router: inout GRPCServerRouter,
        _ body: @escaping @Sendable (Request, _ by: String?) async throws(EtcdWireError) -> Void
    ) {
        router.registerAsyncUnary("/etcdserverpb.Auth/\(Request.method)", Request.self) {
            [self] (message: Request, call: GRPCUnaryCall) -> Result<Request.Response, GRPCStatus> in
            await answer { () async throws(EtcdWireError) -> Request.Response in
                let (state, user) = try auth.caller(call.metadata)
                if let error = state.adminError(user) { throw error }
                try await body(message, user)
                return Request.Response()
            }
        }
    }

    /// Fills the header of a successful answer (at the KV revision, as etcd's `newHeader`) or maps the error.
    func answer<Response: AuthResponse>(
        _ body: () async throws(EtcdWireError) -> Response
    ) async -> Result<Response, GRPCStatus> {
        do throws(EtcdWireError) {
            var response = try await body()
            response.header = identity.header(revision: store.revision)
            return .success(response)
        } catch {
            return .failure(error.grpcStatus)
        }
    }
}
