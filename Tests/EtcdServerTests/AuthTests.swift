import EtcdAPI
import Foundation
import GRPCWire
import RevisionLog
import RevisionLogTesting
import SQLiteBackend
import SwiftProtobuf
import Synchronization
import Testing

@testable import EtcdServer

/// The etcd services on a SQLite file over real loopback gRPC, with a token per call.
final class AuthServer {
    let directory: String
    let store: Store
    let services: EtcdServices
    let server: GRPCServer
    let client: GRPCClient

    /// Starts on `directory` (a new temporary one when nil), with cheap password hashing.
    init(directory: String? = nil, configure: (inout EtcdServerConfiguration) -> Void = { _ in }) async throws {
        let directory = directory ?? NSTemporaryDirectory() + "kelson-auth-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        let backend = try SQLiteBackend(configuration: SQLiteConfiguration(path: directory + "/kelson.db"))
        store = try Store(backend: backend, logger: conformanceLogger())
        var configuration = EtcdServerConfiguration(identity: ServerIdentity(clusterID: 1, memberID: 2, name: "test"))
        configuration.auth.passwordHashRounds = 1_000
        configure(&configuration)
        services = EtcdServices(store: store, configuration: configuration)
        var serverConfiguration = GRPCServerConfiguration()
        serverConfiguration.port = 0
        server = GRPCServer(configuration: serverConfiguration, router: services.router)
        let address = try await server.start()
        client = try await GRPCClient.connect(GRPCClientConfiguration(host: "127.0.0.1", port: address.port ?? 0))
    }

    /// Stops serving and closes the store; the files stay unless `removeFiles`.
    func stop(removeFiles: Bool = true) async {
        await client.close()
        await server.shutdownGracefully()
        store.close()
        if removeFiles { try? FileManager.default.removeItem(atPath: directory) }
    }

    func call<Response: SwiftProtobuf.Message>(
        _ path: String, _ request: some SwiftProtobuf.Message, token: String? = nil, as: Response.Type = Response.self
    ) async throws -> Response {
        var metadata = GRPCMetadata()
        if let token { metadata.add("token", token) }
        let bytes = try await client.unary(path, request: try request.serializedBytes(), metadata: metadata)
        return try Response(serializedBytes: bytes)
    }

    // Typed shortcuts for the calls the tests make most.

    func authenticate(_ name: String, _ password: String) async throws -> String {
        var request = Etcdserverpb_AuthenticateRequest()
        request.name = name
        request.password = password
        let response: Etcdserverpb_AuthenticateResponse = try await call("/etcdserverpb.Auth/Authenticate", request)
        return response.token
    }

    func userAdd(_ name: String, _ password: String, token: String? = nil) async throws {
        var request = Etcdserverpb_AuthUserAddRequest()
        request.name = name
        request.password = password
        let _: Etcdserverpb_AuthUserAddResponse = try await call("/etcdserverpb.Auth/UserAdd", request, token: token)
    }

    func roleAdd(_ name: String, token: String? = nil) async throws {
        var request = Etcdserverpb_AuthRoleAddRequest()
        request.name = name
        let _: Etcdserverpb_AuthRoleAddResponse = try await call("/etcdserverpb.Auth/RoleAdd", request, token: token)
    }

    func grantRole(_ user: String, _ role: String, token: String? = nil) async throws {
        var request = Etcdserverpb_AuthUserGrantRoleRequest()
        request.user = user
        request.role = role
        let _: Etcdserverpb_AuthUserGrantRoleResponse = try await call(
            "/etcdserverpb.Auth/UserGrantRole", request, token: token)
    }

    func grantPermission(
        _ role: String, _ type: Authpb_Permission.TypeEnum, prefix: String, token: String? = nil
    ) async throws {
        var request = Etcdserverpb_AuthRoleGrantPermissionRequest()
        request.name = role
        request.perm.permType = type
        request.perm.key = Data(prefix.utf8)
        request.perm.rangeEnd = Data(KeyRange.prefixEnd(Array(prefix.utf8)))
        let _: Etcdserverpb_AuthRoleGrantPermissionResponse = try await call(
            "/etcdserverpb.Auth/RoleGrantPermission", request, token: token)
    }

    func authEnable(token: String? = nil) async throws {
        let _: Etcdserverpb_AuthEnableResponse = try await call(
            "/etcdserverpb.Auth/AuthEnable", Etcdserverpb_AuthEnableRequest(), token: token)
    }

    func authDisable(token: String? = nil) async throws {
        let _: Etcdserverpb_AuthDisableResponse = try await call(
            "/etcdserverpb.Auth/AuthDisable", Etcdserverpb_AuthDisableRequest(), token: token)
    }

    func status(token: String? = nil) async throws -> Etcdserverpb_AuthStatusResponse {
        try await call("/etcdserverpb.Auth/AuthStatus", Etcdserverpb_AuthStatusRequest(), token: token)
    }

    @discardableResult
    func get(_ key: String, prefix: Bool = false, token: String? = nil) async throws -> Etcdserverpb_RangeResponse {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(key.utf8)
        if prefix { request.rangeEnd = Data(KeyRange.prefixEnd(Array(key.utf8))) }
        return try await call("/etcdserverpb.KV/Range", request, token: token)
    }

    func put(_ key: String, _ value: String, lease: Int64 = 0, token: String? = nil) async throws {
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key.utf8)
        request.value = Data(value.utf8)
        request.lease = lease
        let _: Etcdserverpb_PutResponse = try await call("/etcdserverpb.KV/Put", request, token: token)
    }

    /// root (password "rootpw") holding the root role, alice ("alicepw") holding `reader`, which may
    /// read the prefix `a/`; auth enabled. Returns root's token.
    @discardableResult
    func setUpRootAndReader() async throws -> String {
        try await userAdd("root", "rootpw")
        try await grantRole("root", "root")
        try await userAdd("alice", "alicepw")
        try await roleAdd("reader")
        try await grantPermission("reader", .read, prefix: "a/")
        try await grantRole("alice", "reader")
        try await authEnable()
        return try await authenticate("root", "rootpw")
    }
}

/// Expects `body` to fail with exactly `expected` (gRPC code and message).
func expectWireError(
    _ expected: EtcdWireError, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected \"\(expected.message)\", but the call succeeded", sourceLocation: sourceLocation)
    } catch let status as GRPCStatus {
        #expect(
            status.code.rawValue == expected.grpcCode && status.message == expected.message,
            "expected \(expected.grpcCode) \"\(expected.message)\", got \(status)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Auth: users, roles, tokens and permission checks over gRPC", .serialized)
struct AuthTests {
    @Test("auth is off by default: Authenticate answers etcd's error and KV needs no token")
    func authOff() async throws {
        let server = try await AuthServer()
        await expectWireError(.authNotEnabled) { _ = try await server.authenticate("x", "y") }
        try await server.put("k", "v")
        #expect(try await server.get("k").kvs.map(\.value) == [Data("v".utf8)])
        let status = try await server.status()
        #expect(!status.enabled && status.authRevision == 1)
        // etcd refuses an unknown token even with auth off (it keeps no tokens then).
        await expectWireError(.invalidAuthToken) { try await server.get("k", token: "abc.1") }
        await server.stop()
    }

    @Test("AuthEnable needs a root user holding the root role")
    func enableNeedsRoot() async throws {
        let server = try await AuthServer()
        await expectWireError(.rootUserNotExist) { try await server.authEnable() }
        try await server.userAdd("root", "pw")
        await expectWireError(.rootRoleNotExist) { try await server.authEnable() }
        // Granting `root` needs no `root` role to exist (etcd's special case).
        try await server.grantRole("root", "root")
        try await server.authEnable()
        #expect(try await server.status(token: try await server.authenticate("root", "pw")).enabled)
        await server.stop()
    }

    @Test("etcd's validation errors for users and roles")
    func validation() async throws {
        let server = try await AuthServer()
        await expectWireError(.userEmpty) { try await server.userAdd("", "pw") }
        await expectWireError(.roleEmpty) { try await server.roleAdd("") }
        try await server.userAdd("bob", "pw")
        await expectWireError(.userAlreadyExist) { try await server.userAdd("bob", "other") }
        try await server.roleAdd("r")
        await expectWireError(.roleAlreadyExist) { try await server.roleAdd("r") }
        await expectWireError(.userNotFound) { try await server.grantRole("nobody", "r") }
        await expectWireError(.roleNotFound) { try await server.grantRole("bob", "nothing") }
        var revoke = Etcdserverpb_AuthUserRevokeRoleRequest()
        revoke.name = "bob"
        revoke.role = "r"
        await expectWireError(.roleNotGranted) {
            let _: Etcdserverpb_AuthUserRevokeRoleResponse = try await server.call(
                "/etcdserverpb.Auth/UserRevokeRole", revoke)
        }
        var revokePermission = Etcdserverpb_AuthRoleRevokePermissionRequest()
        revokePermission.role = "r"
        revokePermission.key = Data("k".utf8)
        await expectWireError(.permissionNotGranted) {
            let _: Etcdserverpb_AuthRoleRevokePermissionResponse = try await server.call(
                "/etcdserverpb.Auth/RoleRevokePermission", revokePermission)
        }
        // Lists are sorted by name, as etcd's buckets are.
        for name in ["carol", "alice"] { try await server.userAdd(name, "pw") }
        let users: Etcdserverpb_AuthUserListResponse = try await server.call(
            "/etcdserverpb.Auth/UserList", Etcdserverpb_AuthUserListRequest())
        #expect(users.users == ["alice", "bob", "carol"])
        await server.stop()
    }

    @Test("a reader of a/ may read a/x but not write it, and may not read b/")
    func prefixReader() async throws {
        let server = try await AuthServer()
        let root = try await server.setUpRootAndReader()
        try await server.put("a/x", "1", token: root)
        try await server.put("b/y", "2", token: root)
        let alice = try await server.authenticate("alice", "alicepw")
        #expect(try await server.get("a/x", token: alice).kvs.count == 1)
        #expect(try await server.get("a/", prefix: true, token: alice).kvs.count == 1)
        await expectWireError(.permissionDenied) { try await server.put("a/x", "2", token: alice) }
        await expectWireError(.permissionDenied) { try await server.get("b/", prefix: true, token: alice) }
        await expectWireError(.permissionDenied) { try await server.get("b/y", token: alice) }
        // A range reaching past the permission is refused as a whole.
        await expectWireError(.permissionDenied) { try await server.get("a", prefix: true, token: alice) }
        // Root may do anything.
        #expect(try await server.get("b/y", token: root).kvs.count == 1)
        await server.stop()
    }

    @Test("a txn is refused when any compare or operation of either branch touches a forbidden key")
    func txnPermissions() async throws {
        let server = try await AuthServer()
        let root = try await server.setUpRootAndReader()
        try await server.put("a/x", "1", token: root)
        let alice = try await server.authenticate("alice", "alicepw")
        func txn(compare: String, success: [String], failure: [String]) -> Etcdserverpb_TxnRequest {
            var request = Etcdserverpb_TxnRequest()
            var comparison = Etcdserverpb_Compare()
            comparison.key = Data(compare.utf8)
            comparison.target = .version
            comparison.version = 0
            comparison.result = .greater
            request.compare = [comparison]
            func range(_ key: String) -> Etcdserverpb_RequestOp {
                var operation = Etcdserverpb_RequestOp()
                operation.requestRange.key = Data(key.utf8)
                return operation
            }
            request.success = success.map(range)
            request.failure = failure.map(range)
            return request
        }
        let allowed: Etcdserverpb_TxnResponse = try await server.call(
            "/etcdserverpb.KV/Txn", txn(compare: "a/x", success: ["a/x"], failure: ["a/y"]), token: alice)
        #expect(allowed.succeeded)
        for forbidden in [
            txn(compare: "b/x", success: ["a/x"], failure: []),
            txn(compare: "a/x", success: ["a/x"], failure: ["b/x"]),
        ] {
            await expectWireError(.permissionDenied) {
                let _: Etcdserverpb_TxnResponse = try await server.call("/etcdserverpb.KV/Txn", forbidden, token: alice)
            }
        }
        // A put in the branch that would not run is still checked.
        var write = txn(compare: "a/x", success: ["a/x"], failure: [])
        var put = Etcdserverpb_RequestOp()
        put.requestPut.key = Data("a/x".utf8)
        write.failure = [put]
        await expectWireError(.permissionDenied) {
            let _: Etcdserverpb_TxnResponse = try await server.call("/etcdserverpb.KV/Txn", write, token: alice)
        }
        await server.stop()
    }

    @Test("a watch on a forbidden range is refused with etcd's cancel reason; an allowed one is created")
    func watchPermissions() async throws {
        let server = try await AuthServer()
        try await server.setUpRootAndReader()
        let alice = try await server.authenticate("alice", "alicepw")
        var metadata = GRPCMetadata()
        metadata.add("token", alice)
        let stream = try await server.client.openStream("/etcdserverpb.Watch/Watch", metadata: metadata)
        var responses = stream.responses.makeAsyncIterator()
        func create(_ prefix: String) async throws -> Etcdserverpb_WatchResponse {
            var request = Etcdserverpb_WatchRequest()
            request.createRequest.key = Data(prefix.utf8)
            request.createRequest.rangeEnd = Data(KeyRange.prefixEnd(Array(prefix.utf8)))
            try await stream.send(try request.serializedBytes())
            return try Etcdserverpb_WatchResponse(serializedBytes: try #require(await responses.next()))
        }
        let refused = try await create("b/")
        #expect(refused.created && refused.canceled && refused.watchID == -1)
        #expect(refused.cancelReason == "rpc error: code = PermissionDenied desc = etcdserver: permission denied")
        let created = try await create("a/")
        #expect(created.created && !created.canceled && created.watchID == 0)
        stream.cancel()

        let anonymous = try await server.client.openStream("/etcdserverpb.Watch/Watch")
        var anonymousResponses = anonymous.responses.makeAsyncIterator()
        var request = Etcdserverpb_WatchRequest()
        request.createRequest.key = Data("a/x".utf8)
        try await anonymous.send(try request.serializedBytes())
        let noUser = try Etcdserverpb_WatchResponse(serializedBytes: try #require(await anonymousResponses.next()))
        #expect(
            noUser.canceled
                && noUser.cancelReason == "rpc error: code = InvalidArgument desc = etcdserver: user name is empty")
        anonymous.cancel()
        await server.stop()
    }

    @Test("no token and bad tokens get etcd's codes and messages")
    func tokenErrors() async throws {
        let server = try await AuthServer()
        try await server.setUpRootAndReader()
        await expectWireError(.userEmpty) { try await server.get("a/x") }
        await expectWireError(.userEmpty) { try await server.put("a/x", "1") }
        await expectWireError(.invalidAuthToken) { try await server.get("a/x", token: "nonsense") }
        await expectWireError(.invalidAuthToken) { try await server.get("a/x", token: "abcdefghijklmnop.1") }
        await expectWireError(.authFailed) { _ = try await server.authenticate("alice", "wrong") }
        await expectWireError(.authFailed) { _ = try await server.authenticate("nobody", "x") }
        let token = try await server.authenticate("alice", "alicepw")
        #expect(token.range(of: #"^[a-zA-Z]{16}\.[0-9]+$"#, options: .regularExpression) != nil)
        // A stale token sent along does not stop a client from logging in again (etcd 3.5).
        var request = Etcdserverpb_AuthenticateRequest()
        request.name = "alice"
        request.password = "alicepw"
        let again: Etcdserverpb_AuthenticateResponse = try await server.call(
            "/etcdserverpb.Auth/Authenticate", request, token: "expired.1")
        #expect(again.token != token && !again.token.isEmpty)
        await server.stop()
    }

    @Test("tokens expire after their TTL")
    func tokenExpiry() async throws {
        // Two seconds: a fresh token must outlive a loaded CI machine's pause between authenticate and get (300 ms
        // did not, once).
        let server = try await AuthServer { $0.auth.tokenTTL = .seconds(2) }
        try await server.setUpRootAndReader()
        let token = try await server.authenticate("alice", "alicepw")
        try await Task.sleep(for: .milliseconds(3_000))
        await expectWireError(.invalidAuthToken) { try await server.get("a/x", token: token) }
        try await server.get("a/x", token: try await server.authenticate("alice", "alicepw"))
        await server.stop()
    }

    @Test("deleting a user or changing its password ends its tokens")
    func tokenInvalidation() async throws {
        let server = try await AuthServer()
        let root = try await server.setUpRootAndReader()
        let alice = try await server.authenticate("alice", "alicepw")
        var change = Etcdserverpb_AuthUserChangePasswordRequest()
        change.name = "alice"
        change.password = "newpw"
        let _: Etcdserverpb_AuthUserChangePasswordResponse = try await server.call(
            "/etcdserverpb.Auth/UserChangePassword", change, token: root)
        await expectWireError(.invalidAuthToken) { try await server.get("a/x", token: alice) }
        await expectWireError(.authFailed) { _ = try await server.authenticate("alice", "alicepw") }
        let again = try await server.authenticate("alice", "newpw")
        var delete = Etcdserverpb_AuthUserDeleteRequest()
        delete.name = "alice"
        let _: Etcdserverpb_AuthUserDeleteResponse = try await server.call(
            "/etcdserverpb.Auth/UserDelete", delete, token: root)
        await expectWireError(.invalidAuthToken) { try await server.get("a/x", token: again) }
        // The root user cannot be deleted while auth is on.
        delete.name = "root"
        await expectWireError(.invalidAuthManagement) {
            let _: Etcdserverpb_AuthUserDeleteResponse = try await server.call(
                "/etcdserverpb.Auth/UserDelete", delete, token: root)
        }
        await server.stop()
    }

    @Test("management needs root; users may read their own record and roles")
    func managementNeedsRoot() async throws {
        let server = try await AuthServer()
        let root = try await server.setUpRootAndReader()
        let alice = try await server.authenticate("alice", "alicepw")
        await expectWireError(.permissionDenied) { try await server.authDisable(token: alice) }
        await expectWireError(.userEmpty) { try await server.authDisable() }
        await expectWireError(.permissionDenied) { try await server.userAdd("mallory", "pw", token: alice) }
        var own = Etcdserverpb_AuthUserGetRequest()
        own.name = "alice"
        let record: Etcdserverpb_AuthUserGetResponse = try await server.call(
            "/etcdserverpb.Auth/UserGet", own, token: alice)
        #expect(record.roles == ["reader"])
        own.name = "root"
        await expectWireError(.permissionDenied) {
            let _: Etcdserverpb_AuthUserGetResponse = try await server.call(
                "/etcdserverpb.Auth/UserGet", own, token: alice)
        }
        var role = Etcdserverpb_AuthRoleGetRequest()
        role.role = "reader"
        let permissions: Etcdserverpb_AuthRoleGetResponse = try await server.call(
            "/etcdserverpb.Auth/RoleGet", role, token: alice)
        #expect(permissions.perm.map(\.key) == [Data("a/".utf8)])
        #expect(permissions.perm.map(\.rangeEnd) == [Data("a0".utf8)])

        try await server.authDisable(token: root)
        #expect(try await !server.status().enabled)
        // Disabling forgets every token; without one everything is allowed again.
        await expectWireError(.invalidAuthToken) { try await server.get("a/x", token: alice) }
        try await server.put("b/z", "1")
        await server.stop()
    }

    @Test("passwords are stored hashed, never in clear")
    func passwordsHashed() async throws {
        let server = try await AuthServer()
        try await server.userAdd("root", "correct horse battery staple")
        let stored = try #require(try await server.store.metadata("auth"))
        let text = String(decoding: stored, as: UTF8.self)
        #expect(!text.contains("correct horse"))
        #expect(!text.contains(Data("correct horse battery staple".utf8).base64EncodedString()))
        #expect(text.contains("pbkdf2-sha256"))
        let state = try AuthState.decode(stored)
        let hash = try #require(state.users["root"]?.password)
        #expect(hash.salt.count == 16 && hash.hash.count == 32 && hash.rounds == 1_000)
        #expect(hash.verifies("correct horse battery staple") && !hash.verifies("correct horse"))
        await server.stop()
    }

    @Test("auth state survives closing and reopening the store; tokens do not")
    func persistence() async throws {
        let first = try await AuthServer()
        let root = try await first.setUpRootAndReader()
        try await first.put("a/x", "1", token: root)
        let revision = try await first.status(token: root).authRevision
        await first.stop(removeFiles: false)

        let second = try await AuthServer(directory: first.directory)
        await expectWireError(.invalidAuthToken) { try await second.get("a/x", token: root) }
        await expectWireError(.userEmpty) { try await second.get("a/x") }
        let alice = try await second.authenticate("alice", "alicepw")
        #expect(try await second.get("a/x", token: alice).kvs.count == 1)
        await expectWireError(.permissionDenied) { try await second.put("a/x", "2", token: alice) }
        let status = try await second.status(token: alice)
        #expect(status.enabled && status.authRevision == revision)
        await second.stop()
    }

    @Test("a permission revoked while a write waits is checked again when the write is applied")
    func checkedOnApply() async throws {
        let server = try await AuthServer()
        let root = try await server.setUpRootAndReader()
        try await server.grantPermission("reader", .readwrite, prefix: "w/", token: root)
        let alice = try await server.authenticate("alice", "alicepw")
        var metadata = GRPCMetadata()
        metadata.add("token", alice)
        let request = PutRequest(key: Array("w/x".utf8), value: Array("1".utf8))
        let auth = server.services.auth
        // Admitted now, as a write is on arrival ...
        func admit() async -> (EtcdWireError?, WriteCondition?) {
            await withCheckedContinuation { continuation in
                auth.authorize(metadata, AuthRequirement.requirements(of: request)) { denied, condition in
                    continuation.resume(returning: (denied, condition))
                }
            }
        }
        let (denied, condition) = await admit()
        #expect(denied == nil && condition != nil)
        // ... then the permission goes while the write waits in the committer's queue.
        var revoke = Etcdserverpb_AuthRoleRevokePermissionRequest()
        revoke.role = "reader"
        revoke.key = Data("w/".utf8)
        revoke.rangeEnd = Data("w0".utf8)
        let _: Etcdserverpb_AuthRoleRevokePermissionResponse = try await server.call(
            "/etcdserverpb.Auth/RoleRevokePermission", revoke, token: root)
        let before = server.store.revision
        do {
            _ = try await Store.awaiting { server.store.put(request, condition: condition, completion: $0) }
            Issue.record("a write whose permission was revoked after its check was applied")
        } catch {
            #expect(error.code == .staleAuthorization)
            #expect(error.etcdWireError == .authOldRevision)
        }
        #expect(server.store.revision == before, "the refused write changed nothing")
        // Checked again on arrival, as a client's retry is, it is refused outright.
        #expect(await admit().0 == .permissionDenied)
        await server.stop()
    }

    @Test("a Put attaching a lease needs write permission on the lease's keys; so does revoking it")
    func leaseKeys() async throws {
        let server = try await AuthServer()
        let root = try await server.setUpRootAndReader()
        var readwrite = Etcdserverpb_AuthRoleGrantPermissionRequest()
        readwrite.name = "reader"
        readwrite.perm.permType = .readwrite
        readwrite.perm.key = Data("a/".utf8)
        readwrite.perm.rangeEnd = Data("a0".utf8)
        let _: Etcdserverpb_AuthRoleGrantPermissionResponse = try await server.call(
            "/etcdserverpb.Auth/RoleGrantPermission", readwrite, token: root)
        let lease = try await server.store.grantLease(id: 7, ttl: 60)
        try await server.put("b/secret", "x", lease: lease.lease.id, token: root)
        let alice = try await server.authenticate("alice", "alicepw")
        await expectWireError(.permissionDenied) { try await server.put("a/x", "1", lease: 7, token: alice) }
        try await server.put("a/x", "1", token: alice)

        var metadata = GRPCMetadata()
        metadata.add("token", alice)
        // Lease requirements read the lease's keys through the store: the completion form.
        let auth = server.services.auth
        func decide(_ metadata: GRPCMetadata, _ requirement: AuthRequirement) async -> EtcdWireError? {
            await withCheckedContinuation { continuation in
                auth.authorize(metadata, [requirement]) { denied, _ in continuation.resume(returning: denied) }
            }
        }
        #expect(await decide(metadata, .writeLeaseKeys(leaseID: 7)) == .permissionDenied)
        #expect(await decide(metadata, .writeLeaseKeys(leaseID: 8)) == nil)
        #expect(await decide(GRPCMetadata(), .writeLeaseKeys(leaseID: 7)) == .userEmpty)
        #expect(await decide(metadata, .readLeaseKeys(leaseID: 7)) == .permissionDenied)
        #expect(await decide(metadata, .readLeaseKeys(leaseID: 8)) == nil)
        #expect(await decide(GRPCMetadata(), .readLeaseKeys(leaseID: 8)) == .userEmpty)
        #expect(server.services.auth.authorize(metadata, .root) == .permissionDenied)
        #expect(server.services.auth.authorize(metadata, .authenticated) == nil)
        #expect(server.services.auth.authorize(GRPCMetadata(), .validToken) == nil)
        await server.stop()
    }

    @Test("enableAuthAtStartup refuses without root and turns auth on with it")
    func startupEnable() async throws {
        let server = try await AuthServer()
        do {
            try await server.services.enableAuthAtStartup()
            Issue.record("auth was enabled without a root user")
        } catch {
            #expect(error.description.contains("root user does not exist"))
            #expect(error.description.contains("etcdctl user add root"))
            #expect(error.description.contains("etcdctl user grant-role root root"))
        }
        try await server.userAdd("root", "pw")
        try await server.grantRole("root", "root")
        try await server.services.enableAuthAtStartup()
        #expect(server.services.isAuthEnabled)
        await expectWireError(.userEmpty) { try await server.get("k") }
        await server.stop()
    }
}

@Suite("Auth: permission intervals and stored state")
struct AuthStateTests {
    private func permission(_ type: AuthPermission.Kind, _ key: String, _ rangeEnd: String) -> AuthPermission {
        AuthPermission(type: type, key: Data(key.utf8), rangeEnd: Data(rangeEnd.utf8))
    }

    @Test("ranges need contiguous cover; single keys need one interval; \"\\0\" means unbounded")
    func intervals() {
        let permissions = RangePermissions([
            permission(.read, "a", "c"), permission(.readwrite, "c", "e"), permission(.write, "f", ""),
            permission(.read, "m", "\0"),
        ])
        func reads(_ key: String, _ end: String) -> Bool {
            permissions.allows(write: false, key: Array(key.utf8), rangeEnd: Array(end.utf8))
        }
        #expect(reads("a", "e"))  // [a,c) and [c,e) touch
        #expect(reads("b", ""))
        #expect(!reads("a", "f"))
        #expect(!reads("f", ""))  // f is write-only
        #expect(permissions.allows(write: true, key: Array("f".utf8), rangeEnd: []))
        #expect(!permissions.allows(write: true, key: Array("f".utf8), rangeEnd: Array("g".utf8)))
        #expect(reads("n", "\0"))
        #expect(reads("zzz", ""))
        #expect(!reads("l", "\0"))
    }

    @Test("grant-permission updates an equal permission in place and keeps keys sorted")
    func grantPermissionOrder() throws {
        var state = AuthState()
        try state.addRole(name: "r")
        try state.grantPermission(role: "r", permission: permission(.read, "b", ""))
        try state.grantPermission(role: "r", permission: permission(.read, "a", "b"))
        try state.grantPermission(role: "r", permission: permission(.write, "b", ""))
        #expect(state.roles["r"]?.permissions.map { String(decoding: $0.key, as: UTF8.self) } == ["a", "b"])
        #expect(state.roles["r"]?.permissions.last?.type == .write)
        #expect(state.revision == 5)
        #expect(throws: EtcdWireError.permissionNotGiven) { try state.grantPermission(role: "r", permission: nil) }
    }

    @Test("tokens live TTL after their last use; beyond the cap the one closest to expiry goes")
    func tokenTable() {
        let clock = Mutex(ContinuousClock.now)
        let tokens = SimpleTokens(ttl: .seconds(300), maximumCount: 2, now: { clock.withLock { $0 } })
        let first = tokens.assign(user: "a")  // expires at 300 s
        clock.withLock { $0 += .seconds(100) }
        let second = tokens.assign(user: "b")  // expires at 400 s
        clock.withLock { $0 += .seconds(100) }
        #expect(tokens.user(for: first) == "a")  // used at 200 s: now expires at 500 s
        let third = tokens.assign(user: "c")  // full: drops the one closest to expiry, second
        #expect(tokens.user(for: second) == nil)
        #expect(tokens.user(for: first) == "a" && tokens.user(for: third) == "c")
        clock.withLock { $0 += .seconds(301) }
        #expect(tokens.user(for: first) == nil && tokens.count == 1)
        tokens.invalidate(user: "c")
        #expect(tokens.count == 0)
    }
}
