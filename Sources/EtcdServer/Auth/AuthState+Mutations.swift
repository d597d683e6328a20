import EtcdAPI
import Foundation

/// The changes etcd's auth store makes (etcd `auth/store.go`), with its checks in its order and
/// its errors. Each one either throws and changes nothing, or leaves the new state in `self`.
/// Who may make them is checked by the caller (`AuthStore.requireAdmin`).
extension AuthState {
    /// Limits on what clients can make Kelson store (etcd has none; the whole state is one value).
    static let maximumUsers = 10_000
    static let maximumRoles = 10_000
    static let maximumPermissions = 100_000

    /// AuthEnable: needs a `root` user holding the `root` role. Does not change the revision.
    mutating func enable() throws(EtcdWireError) {
        if enabled { return }
        guard let root = users[AuthState.rootUser] else { throw .rootUserNotExist }
        guard root.roles.contains(AuthState.rootRole) else { throw .rootRoleNotExist }
        enabled = true
    }

    mutating func disable() {
        if !enabled { return }
        enabled = false
        revision += 1
    }

    mutating func addUser(name: String, password: PasswordHash?, noPassword: Bool) throws(EtcdWireError) {
        if name.isEmpty { throw .userEmpty }
        if users[name] != nil { throw .userAlreadyExist }
        if users.count >= AuthState.maximumUsers { throw .authLimit("users", AuthState.maximumUsers) }
        users[name] = AuthUser(name: name, password: noPassword ? nil : password, noPassword: noPassword)
        revision += 1
    }

    mutating func deleteUser(name: String) throws(EtcdWireError) {
        if enabled && name == AuthState.rootUser { throw .invalidAuthManagement }
        guard users.removeValue(forKey: name) != nil else { throw .userNotFound }
        revision += 1
    }

    /// etcd keeps a `no_password` user's option when a password is set later.
    mutating func changePassword(name: String, password: PasswordHash) throws(EtcdWireError) {
        guard users[name] != nil else { throw .userNotFound }
        users[name]?.password = password
        revision += 1
    }

    /// Granting `root` needs no `root` role to exist (etcd's special case); granting twice is a no-op.
    mutating func grantRole(user: String, role: String) throws(EtcdWireError) {
        guard var record = users[user] else { throw .userNotFound }
        if role != AuthState.rootRole && roles[role] == nil { throw .roleNotFound }
        if record.roles.contains(role) { return }
        record.roles = AuthState.sortedNames(record.roles + [role])
        users[user] = record
        revision += 1
    }

    mutating func revokeRole(user: String, role: String) throws(EtcdWireError) {
        if enabled && user == AuthState.rootUser && role == AuthState.rootRole { throw .invalidAuthManagement }
        guard var record = users[user] else { throw .userNotFound }
        let before = record.roles.count
        record.roles.removeAll { $0 == role }
        if record.roles.count == before { throw .roleNotGranted }
        users[user] = record
        revision += 1
    }

    mutating func addRole(name: String) throws(EtcdWireError) {
        if name.isEmpty { throw .roleEmpty }
        if roles[name] != nil { throw .roleAlreadyExist }
        if roles.count >= AuthState.maximumRoles { throw .authLimit("roles", AuthState.maximumRoles) }
        roles[name] = AuthRole(name: name)
        revision += 1
    }

    /// Also takes the role away from every user holding it.
    mutating func deleteRole(name: String) throws(EtcdWireError) {
        if enabled && name == AuthState.rootRole { throw .invalidAuthManagement }
        guard roles.removeValue(forKey: name) != nil else { throw .roleNotFound }
        for (userName, user) in users where user.roles.contains(name) {
            users[userName]?.roles.removeAll { $0 == name }
        }
        revision += 1
    }

    /// etcd looks only at the first permission whose key is `>=` the new key: with the same key
    /// and range end it changes that permission's type, otherwise it adds the permission after
    /// those with a smaller or equal key. The revision grows either way.
    mutating func grantPermission(role: String, permission: AuthPermission?) throws(EtcdWireError) {
        guard var record = roles[role] else { throw .roleNotFound }
        // etcd 3.4 dereferences a missing permission (and crashes); 3.5 answers this error.
        guard let permission else { throw .permissionNotGiven }
        let key = [UInt8](permission.key)
        let first = record.permissions.firstIndex { !$0.key.lexicographicallyPrecedes(key) }
        if let first, record.permissions[first].key == permission.key,
            record.permissions[first].rangeEnd == permission.rangeEnd
        {
            record.permissions[first].type = permission.type
        } else {
            let total = roles.values.reduce(0) { $0 + $1.permissions.count }
            if total >= AuthState.maximumPermissions {
                throw .authLimit("permissions", AuthState.maximumPermissions)
            }
            let position = record.permissions.firstIndex { key.lexicographicallyPrecedes($0.key) }
            record.permissions.insert(permission, at: position ?? record.permissions.endIndex)
        }
        roles[role] = record
        revision += 1
    }

    mutating func revokePermission(role: String, key: Data, rangeEnd: Data) throws(EtcdWireError) {
        guard var record = roles[role] else { throw .roleNotFound }
        let before = record.permissions.count
        record.permissions.removeAll { $0.key == key && $0.rangeEnd == rangeEnd }
        if record.permissions.count == before { throw .permissionNotGranted }
        roles[role] = record
        revision += 1
    }
}
