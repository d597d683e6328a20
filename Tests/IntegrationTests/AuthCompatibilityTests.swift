import Foundation
import Testing

/// etcdctl's `user`, `role` and `auth` commands, and KV calls with and without credentials,
/// against etcd 3.4 and Kelson: answers, errors and exit codes must be equal.
extension IntegrationTests {
    @Suite("etcdctl auth against etcd and Kelson")
    struct AuthCompatibilityTests {
        private static let root = ["--user", "root:rootpw"]
        private static let alice = ["--user", "alice:alicepw"]

        @Test("credentials with auth off, then root, a reader role, permissions, and auth disable")
        func authFlow() throws {
            let pair = try ServerPair()
            defer { pair.stop() }
            pair.assertSame("put", "k", "v")
            // Auth off: Authenticate answers "not enabled" and etcdctl carries on without a token.
            pair.assertSame("--user", "root:x", "get", "k")
            pair.assertSame("auth", "enable", expect: .failure("etcdserver: root user does not exist"))

            pair.assertSame("user", "add", "root", "--new-user-password=rootpw")
            pair.assertSame("role", "add", "root")
            pair.assertSame("user", "grant-role", "root", "root")
            pair.assertSame("auth", "enable")

            pair.assertSame(Self.root + ["put", "a/1", "one"])
            pair.assertSame(Self.root + ["put", "b/1", "two"])
            pair.assertSame(Self.root + ["get", "a/1", "-w", "json"])
            pair.assertSame(Self.root + ["user", "add", "alice:alicepw"])
            pair.assertSame(Self.root + ["role", "add", "reader"])
            pair.assertSame(Self.root + ["role", "grant-permission", "reader", "read", "a/", "--prefix"])
            pair.assertSame(Self.root + ["user", "grant-role", "alice", "reader"])

            pair.assertSame(Self.alice + ["get", "a/1"])
            pair.assertSame(Self.alice + ["get", "a/", "--prefix", "-w", "json"])
            pair.assertSame(Self.alice + ["put", "a/1", "x"], expect: .failure("etcdserver: permission denied"))
            pair.assertSame(Self.alice + ["get", "b/1"], expect: .failure("etcdserver: permission denied"))
            pair.assertSame(
                Self.alice + ["txn"], stdin: txnInput(compares: ["version(\"a/1\") > \"0\""], success: ["get b/1"]),
                expect: .failure("etcdserver: permission denied"))
            pair.assertSame(["get", "a/1"], expect: .failure("etcdserver: user name is empty"))
            pair.assertSame(
                ["--user", "alice:wrong", "get", "a/1"],
                expect: .failure("etcdserver: authentication failed, invalid user ID or password"))
            pair.assertSame(Self.alice + ["auth", "disable"], expect: .failure("etcdserver: permission denied"))

            pair.assertSame(Self.root + ["user", "list"])
            pair.assertSame(Self.root + ["role", "list"])
            pair.assertSame(Self.root + ["role", "get", "reader"])
            pair.assertSame(Self.root + ["user", "get", "alice"])
            pair.assertSame(Self.root + ["user", "get", "alice", "-w", "json"])
            pair.assertSame(Self.alice + ["user", "get", "alice"])
            pair.assertSame(Self.alice + ["role", "get", "reader"])
            pair.assertSame(Self.alice + ["user", "get", "root"], expect: .failure("etcdserver: permission denied"))
            pair.assertSame(Self.root + ["user", "get", "nobody"], expect: .failure("etcdserver: user name not found"))
            pair.assertSame(
                Self.root + ["role", "get", "nothing"], expect: .failure("etcdserver: role name not found"))
            pair.assertSame(Self.root + ["user", "delete", "root"], expect: .failure("invalid auth management"))

            pair.assertSame(Self.root + ["auth", "disable"])
            pair.assertSame("put", "a/1", "after")
            pair.assertSame("get", "a/1", "-w", "json")
        }

        @Test("auth enable adds the root role itself; revoking and deleting roles and users")
        func rolesAndRevocations() throws {
            let pair = try ServerPair()
            defer { pair.stop() }
            pair.assertSame("user", "add", "root:rootpw")
            // etcdctl answers "root user does not have root role" by adding and granting it.
            pair.assertSame("auth", "enable")
            pair.assertSame(Self.root + ["role", "list"])
            pair.assertSame(Self.root + ["user", "add", "bob:bobpw"])
            pair.assertSame(Self.root + ["role", "add", "writer"])
            pair.assertSame(Self.root + ["role", "grant-permission", "writer", "readwrite", "w/", "--prefix"])
            pair.assertSame(Self.root + ["role", "grant-permission", "writer", "write", "x", "z"])
            pair.assertSame(Self.root + ["role", "grant-permission", "writer", "read", "from", "--from-key"])
            pair.assertSame(Self.root + ["role", "get", "writer"])
            pair.assertSame(Self.root + ["user", "grant-role", "bob", "writer"])
            pair.assertSame(["--user", "bob:bobpw", "put", "w/1", "v"])
            pair.assertSame(["--user", "bob:bobpw", "put", "y", "v"])
            pair.assertSame(["--user", "bob:bobpw", "get", "a"], expect: .failure("etcdserver: permission denied"))
            pair.assertSame(["--user", "bob:bobpw", "get", "zebra"])
            pair.assertSame(Self.root + ["role", "revoke-permission", "writer", "x", "z"])
            pair.assertSame(
                Self.root + ["role", "revoke-permission", "writer", "x", "z"],
                expect: .failure("etcdserver: permission is not granted to the role"))
            pair.assertSame(
                ["--user", "bob:bobpw", "put", "y", "v"], expect: .failure("etcdserver: permission denied"))
            pair.assertSame(Self.root + ["user", "revoke-role", "bob", "writer"])
            pair.assertSame(
                Self.root + ["user", "revoke-role", "bob", "writer"],
                expect: .failure("etcdserver: role is not granted to the user"))
            pair.assertSame(Self.root + ["role", "delete", "writer"])
            pair.assertSame(Self.root + ["role", "delete", "root"], expect: .failure("invalid auth management"))
            pair.assertSame(
                Self.root + ["user", "add", "bob:x"], expect: .failure("etcdserver: user name already exists"))
            pair.assertSame(Self.root + ["user", "passwd", "bob", "--interactive=false"], stdin: "newpw\n")
            pair.assertSame(
                ["--user", "bob:bobpw", "get", "w/1"],
                expect: .failure("etcdserver: authentication failed, invalid user ID or password"))
            pair.assertSame(["--user", "bob:newpw", "get", "w/1"], expect: .failure("etcdserver: permission denied"))
            pair.assertSame(Self.root + ["user", "delete", "bob"])
            pair.assertSame(Self.root + ["user", "list"])
        }
    }
}
