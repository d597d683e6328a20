import EtcdAPI
import Foundation

/// Settings of etcd's auth in Kelson (part of `EtcdServerConfiguration`).
public struct AuthConfiguration: Sendable {
    /// etcd's `--auth-token-ttl`: a simple token lives this long after its last use (300 s).
    public var tokenTTL: Duration = .seconds(300)
    /// Most live simple tokens; a new one beyond this replaces the one closest to expiry.
    public var tokensMaximum = 10_000
    /// PBKDF2-HMAC-SHA256 rounds for new password hashes (each hash keeps its own count, so a
    /// change applies to passwords set afterwards). Chosen so one Authenticate stays under ~50 ms
    /// in a debug build: measured on the 2-core development VM (under load), one round costs
    /// 0.7-1 µs there (BoringSSL unoptimised), so 50,000 rounds take 36-50 ms; release builds are
    /// several times faster and can afford more (OWASP suggests 600,000). Tests lower it.
    public var passwordHashRounds = 50_000

    public init() {}
}

/// Why `EtcdServices.enableAuthAtStartup` refused: the message says what to do about it.
public struct AuthStartupError: Error, CustomStringConvertible {
    public let description: String
}

extension EtcdServices {
    /// `kelson etcd --auth`: turns auth on (and keeps it on, stored) before the server takes
    /// requests, as `etcdctl auth enable` would. Refuses, with what to do, when there is no `root`
    /// user holding the `root` role. Call it after `init` and before the listeners start; auth that
    /// is already on stays on.
    public func enableAuthAtStartup() async throws(AuthStartupError) {
        do throws(EtcdWireError) {
            try await auth.update(by: nil, admin: false) { state throws(EtcdWireError) in try state.enable() }
        } catch let error where error == .rootUserNotExist || error == .rootRoleNotExist {
            throw AuthStartupError(
                description: """
                    cannot enable auth: \(error.message.replacingOccurrences(of: "etcdserver: ", with: "")); \
                    create it first: start without --auth, run `etcdctl user add root` and \
                    `etcdctl user grant-role root root`, then restart with --auth
                    """)
        } catch {
            throw AuthStartupError(description: "cannot enable auth: \(error.message)")
        }
    }

    /// Whether auth is on (false when the stored auth state is unreadable: then every call fails).
    public var isAuthEnabled: Bool { (try? auth.currentState().enabled) ?? false }
}
