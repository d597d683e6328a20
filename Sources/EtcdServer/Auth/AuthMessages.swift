import EtcdAPI
import Foundation
import SwiftProtobuf

// The Auth service's protobuf messages, as the service uses them.

/// A request that changes the auth state: its method name and its (header-only) response.
protocol AuthChangeRequest: SwiftProtobuf.Message {
    associatedtype Response: AuthResponse
    static var method: String { get }
}

extension Etcdserverpb_AuthEnableRequest: AuthChangeRequest {
    typealias Response = Etcdserverpb_AuthEnableResponse
    static var method: String { "AuthEnable" }
}
extension Etcdserverpb_AuthDisableRequest: AuthChangeRequest {
    typealias Response = Etcdserverpb_AuthDisableResponse
    static var method: String { "AuthDisable" }
}
extension Etcdserverpb_AuthUserAddRequest: AuthChangeRequest {
    typealias Response = Etcdserverpb_AuthUserAddResponse
    static var method: String { "UserAdd" }
}
extension Etcdserverpb_AuthUserDeleteRequest: AuthChangeRequest {
    typealias Response = Etcdserverpb_AuthUserDeleteResponse
    static var method: String { "UserDelete" }
}
extension Etcdserverpb_AuthUserChangePasswordRequest: AuthChangeRequest {
    typealias Response = Etcdserverpb_AuthUserChangePasswordResponse
    static var method: String { "UserChangePassword" }
}
extension Etcdserverpb_AuthUserGrantRoleRequest: AuthChangeRequest {
    typealias Response = Etcdserverpb_AuthUserGrantRoleResponse
    static var method: String { "UserGrantRole" }
}
extension Etcdserverpb_AuthUserRevokeRoleRequest: AuthChangeRequest {
    typealias Response = Etcdserverpb_AuthUserRevokeRoleResponse
    static var method: String { "UserRevokeRole" }
}
extension Etcdserverpb_AuthRoleAddRequest: AuthChangeRequest {
    typealias Response = Etcdserverpb_AuthRoleAddResponse
    static var method: String { "RoleAdd" }
}
extension Etcdserverpb_AuthRoleDeleteRequest: AuthChangeRequest {
    typealias Response = Etcdserverpb_AuthRoleDeleteResponse
    static var method: String { "RoleDelete" }
}
extension Etcdserverpb_AuthRoleGrantPermissionRequest: AuthChangeRequest {
    typealias Response = Etcdserverpb_AuthRoleGrantPermissionResponse
    static var method: String { "RoleGrantPermission" }
}
extension Etcdserverpb_AuthRoleRevokePermissionRequest: AuthChangeRequest {
    typealias Response = Etcdserverpb_AuthRoleRevokePermissionResponse
    static var method: String { "RoleRevokePermission" }
}

/// The auth responses: each carries a header.
protocol AuthResponse: SwiftProtobuf.Message {
    var header: Etcdserverpb_ResponseHeader { get set }
}

extension Etcdserverpb_AuthEnableResponse: AuthResponse {}
extension Etcdserverpb_AuthDisableResponse: AuthResponse {}
extension Etcdserverpb_AuthStatusResponse: AuthResponse {}
extension Etcdserverpb_AuthenticateResponse: AuthResponse {}
extension Etcdserverpb_AuthUserAddResponse: AuthResponse {}
extension Etcdserverpb_AuthUserGetResponse: AuthResponse {}
extension Etcdserverpb_AuthUserListResponse: AuthResponse {}
extension Etcdserverpb_AuthUserDeleteResponse: AuthResponse {}
extension Etcdserverpb_AuthUserChangePasswordResponse: AuthResponse {}
extension Etcdserverpb_AuthUserGrantRoleResponse: AuthResponse {}
extension Etcdserverpb_AuthUserRevokeRoleResponse: AuthResponse {}
extension Etcdserverpb_AuthRoleAddResponse: AuthResponse {}
extension Etcdserverpb_AuthRoleGetResponse: AuthResponse {}
extension Etcdserverpb_AuthRoleListResponse: AuthResponse {}
extension Etcdserverpb_AuthRoleDeleteResponse: AuthResponse {}
extension Etcdserverpb_AuthRoleGrantPermissionResponse: AuthResponse {}
extension Etcdserverpb_AuthRoleRevokePermissionResponse: AuthResponse {}

extension AuthPermission {
    /// Nil for a type number etcd does not define (etcd would store it and let it grant nothing).
    init?(_ message: Authpb_Permission) {
        let kind: Kind
        switch message.permType {
        case .read: kind = .read
        case .write: kind = .write
        case .readwrite: kind = .readwrite
        case .UNRECOGNIZED: return nil
        }
        self.init(type: kind, key: message.key, rangeEnd: message.rangeEnd)
    }

    var message: Authpb_Permission {
        var message = Authpb_Permission()
        switch type {
        case .read: message.permType = .read
        case .write: message.permType = .write
        case .readwrite: message.permType = .readwrite
        }
        message.key = key
        message.rangeEnd = rangeEnd
        return message
    }
}
