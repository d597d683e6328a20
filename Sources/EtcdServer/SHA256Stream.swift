import Crypto
import Foundation

/// Incremental SHA-256 over `Data` chunks (kept here so only this file imports Crypto's names).
struct SHA256Stream {
    private var hash = SHA256()

    mutating func update(_ data: Data) { hash.update(data: data) }

    func finalize() -> Data { Data(hash.finalize()) }
}
