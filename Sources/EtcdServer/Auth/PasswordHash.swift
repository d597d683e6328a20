import Crypto
import Foundation
import _CryptoExtras

/// A stored password: PBKDF2-HMAC-SHA256 with a random 16-byte salt. The round count is kept
/// with each hash, so raising the default later does not lock out existing users. (etcd uses
/// bcrypt; Kelson's hashes are not interchangeable with etcd's, which only matters for copying
/// a data directory, and neither server accepts the other's files anyway.)
struct PasswordHash: Codable, Sendable, Equatable {
    static let algorithmName = "pbkdf2-sha256"
    static let saltBytes = 16
    static let hashBytes = 32

    var algorithm: String
    var rounds: Int
    var salt: Data
    var hash: Data

    /// Hashes `password` with a fresh salt. Takes tens of milliseconds by design: call it off the
    /// event loop.
    init(password: String, rounds: Int) {
        let salt = Data(randomBytes(PasswordHash.saltBytes))
        self.algorithm = PasswordHash.algorithmName
        self.rounds = rounds
        self.salt = salt
        self.hash = PasswordHash.derive(password, salt: salt, rounds: rounds)
    }

    /// Whether `password` produces this hash; the comparison takes the same time wherever the
    /// bytes differ (`SymmetricKey`'s equality is constant-time).
    func verifies(_ password: String) -> Bool {
        guard algorithm == PasswordHash.algorithmName, rounds > 0 else { return false }
        let derived = PasswordHash.derive(password, salt: salt, rounds: rounds)
        return SymmetricKey(data: derived) == SymmetricKey(data: hash)
    }

    private static func derive(_ password: String, salt: Data, rounds: Int) -> Data {
        // Only fails for parameters BoringSSL rejects (a zero round count, a huge output size).
        guard
            let key = try? KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: hashBytes,
                unsafeUncheckedRounds: max(rounds, 1))
        else { preconditionFailure("PBKDF2 refused \(rounds) rounds") }
        return key.withUnsafeBytes { Data($0) }
    }
}

/// Cryptographically secure random bytes (swift-crypto's key generation: the system CSPRNG).
func randomBytes(_ count: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count)
    while bytes.count < count {
        SymmetricKey(size: .bits256).withUnsafeBytes { bytes.append(contentsOf: $0.prefix(count - bytes.count)) }
    }
    return bytes
}
