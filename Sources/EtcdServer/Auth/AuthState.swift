import EtcdAPI
import Foundation

/// Everything etcd's auth store persists (etcd `auth/store.go`: the `auth`, `authUsers` and
/// `authRoles` buckets), kept as one value so an update is one atomic metadata write.
///
/// Stored format: JSON (sorted keys) under the store metadata name `"auth"`:
///
///     {"enabled": true, "format": 1, "generation": 7, "revision": 6,
///      "roles": {"reader": {"name": "reader",
///                           "permissions": [{"key": "YS8=", "rangeEnd": "YTA=", "type": "read"}]}},
///      "users": {"alice": {"name": "alice", "noPassword": false, "roles": ["reader"],
///                          "password": {"algorithm": "pbkdf2-sha256", "rounds": 50000,
///                                       "salt": "<16 bytes, base64>", "hash": "<32 bytes, base64>"}}}}
///
/// - `revision` is etcd's auth revision: 1 on a fresh store, +1 on every user/role change and on
///   AuthDisable (not on AuthEnable, as in etcd). AuthStatus reports it.
/// - `generation` is Kelson's own: +1 on every stored change, so the in-memory cache never
///   installs an older state over a newer one when two updates finish out of order.
/// - Keys and range ends are base64 (`Data`); `password` is absent for `no_password` users.
/// - User roles are sorted (etcd keeps them sorted); role permissions are sorted by key.
struct AuthState: Codable, Sendable, Equatable {
    static let metadataName = "auth"
    static let currentFormat = 1
    static let rootUser = "root"
    static let rootRole = "root"

    var format = AuthState.currentFormat
    var enabled = false
    var revision: UInt64 = 1
    var generation: UInt64 = 0
    var users: [String: AuthUser] = [:]
    var roles: [String: AuthRole] = [:]

    init() {}

    /// Decodes stored bytes (nil → a fresh state).
    static func decode(_ bytes: [UInt8]?) throws(EtcdWireError) -> AuthState {
        guard let bytes else { return AuthState() }
        let state: AuthState
        do {
            state = try JSONDecoder().decode(AuthState.self, from: Data(bytes))
        } catch {
            throw EtcdWireError.authStateUnreadable("\(error)")
        }
        guard state.format == currentFormat else {
            throw EtcdWireError.authStateUnreadable("unknown format \(state.format)")
        }
        return state
    }

    func encoded() throws(EtcdWireError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return [UInt8](try encoder.encode(self))
        } catch {
            throw EtcdWireError.authStateUnreadable("\(error)")
        }
    }

    /// etcd's `hasRootRole`.
    func hasRootRole(_ user: String) -> Bool {
        users[user]?.roles.contains(AuthState.rootRole) ?? false
    }

    /// Names in etcd's order: the byte order of its bbolt buckets.
    static func sortedNames(_ names: some Sequence<String>) -> [String] {
        names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}

struct AuthUser: Codable, Sendable, Equatable {
    var name: String
    /// Absent for users added with `no_password` (they cannot Authenticate).
    var password: PasswordHash?
    /// Sorted, as etcd keeps them.
    var roles: [String] = []
    var noPassword = false
}

struct AuthRole: Codable, Sendable, Equatable {
    var name: String
    /// Sorted by key (etcd's `permSlice`); equal keys keep their insertion order.
    var permissions: [AuthPermission] = []
}

/// One key permission (authpb.Permission). `rangeEnd` follows etcd's convention: empty = the
/// single key, `"\0"` = every key from `key` on, otherwise `[key, rangeEnd)`.
struct AuthPermission: Codable, Sendable, Equatable {
    enum Kind: String, Codable, Sendable {
        case read, write, readwrite
    }
    var type: Kind
    var key: Data
    var rangeEnd: Data
}
