import EtcdAPI
import GRPCWire

/// The Auth calls that change nothing: Authenticate, AuthStatus, and the user and role lookups
/// (answered from the cached state, which every acknowledged change has already reached).
extension AuthService {
    func registerReads(into router: inout GRPCServerRouter) {
        router.registerUnary("/etcdserverpb.Auth/AuthStatus", Etcdserverpb_AuthStatusRequest.self) {
            [self] _, call, respond in
            respond(
                answerNow { () throws(EtcdWireError) in
                    let (state, _) = try auth.caller(call.metadata)
                    var response = Etcdserverpb_AuthStatusResponse()
                    response.enabled = state.enabled
                    response.authRevision = state.revision
                    return response
                })
        }
        router.registerUnary("/etcdserverpb.Auth/UserGet", Etcdserverpb_AuthUserGetRequest.self) {
            [self] request, call, respond in
            respond(
                answerNow { () throws(EtcdWireError) in
                    let (state, user) = try auth.caller(call.metadata)
                    // Users may read their own record (apply_auth.go UserGet).
                    if let error = state.adminError(user), request.name != (user ?? "") { throw error }
                    guard let record = state.users[request.name] else { throw .userNotFound }
                    var response = Etcdserverpb_AuthUserGetResponse()
                    response.roles = record.roles
                    return response
                })
        }
        router.registerUnary("/etcdserverpb.Auth/UserList", Etcdserverpb_AuthUserListRequest.self) {
            [self] _, call, respond in
            respond(
                answerNow { () throws(EtcdWireError) in
                    let state = try adminState(call.metadata)
                    var response = Etcdserverpb_AuthUserListResponse()
                    response.users = AuthState.sortedNames(state.users.keys)
                    return response
                })
        }
        registerRoleReads(into: &router)
    }

    private func registerRoleReads(into router: inout GRPCServerRouter) {
        router.registerUnary("/etcdserverpb.Auth/RoleGet", Etcdserverpb_AuthRoleGetRequest.self) {
            [self] request, call, respond in
            respond(
                answerNow { () throws(EtcdWireError) in
                    let (state, user) = try auth.caller(call.metadata)
                    // Users may read the roles they hold (apply_auth.go RoleGet).
                    let holds = user.map { state.users[$0]?.roles.contains(request.role) ?? false } ?? false
                    if let error = state.adminError(user), !holds { throw error }
                    guard let role = state.roles[request.role] else { throw .roleNotFound }
                    var response = Etcdserverpb_AuthRoleGetResponse()
                    response.perm = role.permissions.map(\.message)
                    return response
                })
        }
        router.registerUnary("/etcdserverpb.Auth/RoleList", Etcdserverpb_AuthRoleListRequest.self) {
            [self] _, call, respond in
            respond(
                answerNow { () throws(EtcdWireError) in
                    let state = try adminState(call.metadata)
                    var response = Etcdserverpb_AuthRoleListResponse()
                    response.roles = AuthState.sortedNames(state.roles.keys)
                    return response
                })
        }
    }

    private func adminState(_ metadata: GRPCMetadata) throws(EtcdWireError) -> AuthState {
        let (state, user) = try auth.caller(metadata)
        if let error = state.adminError(user) { throw error }
        return state
    }

    /// etcd's Authenticate: password first (its errors, in its order), then a new token, unless
    /// the auth state changed meanwhile (etcd then checks again). A token sent along is ignored,
    /// as etcd 3.5 does (3.4 refuses an expired one, so a client could not log in again on the
    /// same connection). Hashing takes tens of milliseconds, so this runs in a task.
    func authenticate(
        _ request: Etcdserverpb_AuthenticateRequest
    ) async throws(EtcdWireError) -> Etcdserverpb_AuthenticateResponse {
        for _ in 0..<5 {
            let state = try auth.currentState()
            guard state.enabled else { throw .authNotEnabled }
            guard let user = state.users[request.name] else { throw .authFailed }
            if user.noPassword { throw .noPasswordUser }
            guard let hash = user.password, hash.verifies(request.password) else { throw .authFailed }
            let now = try auth.currentState()
            guard now.enabled, now.generation == state.generation else { continue }
            var response = Etcdserverpb_AuthenticateResponse()
            response.token = auth.tokens.assign(user: request.name)
            return response
        }
        throw .authOldRevision
    }

    func answerNow<Response: AuthResponse>(
        _ body: () throws(EtcdWireError) -> Response
    ) -> Result<Response, GRPCStatus> {
        do throws(EtcdWireError) {
            var response = try body()
            response.header = identity.header(revision: store.revision)
            return .success(response)
        } catch {
            return .failure(error.grpcStatus)
        }
    }
}
