import ArgumentParser

/// The keys a workload writes: `prefix` followed by the key's index in decimal, zero-padded so every key is
/// exactly `size` bytes (etcd's tool writes a varint into a zeroed buffer; readable keys are easier to inspect
/// and have the same size). Sequential: request i writes key i mod space; otherwise a uniformly random key.
public struct KeyGenerator: Sendable {
    public let prefix: [UInt8]
    public let size: Int
    public let space: Int
    public let sequential: Bool
    private let digits: Int

    public init(prefix: String, size: Int, space: Int, sequential: Bool) throws {
        self.prefix = Array(prefix.utf8)
        self.size = size
        self.space = space
        self.sequential = sequential
        let needed = String(max(space - 1, 0)).count
        digits = size - self.prefix.count
        guard digits >= needed else {
            throw ValidationError(
                "--key-size \(size) is too small: --key-prefix takes \(self.prefix.count) bytes and "
                    + "--key-space-size \(space) needs \(needed) more")
        }
    }

    /// The key for request number `request`.
    public func key(forRequest request: Int) -> [UInt8] {
        key(index: sequential ? request % space : Int.random(in: 0..<space))
    }

    /// The key with index `index` (0 ..< space).
    public func key(index: Int) -> [UInt8] {
        var key = prefix
        key.reserveCapacity(size)
        let number = Array(String(index).utf8)
        key.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits - number.count))
        key.append(contentsOf: number)
        return key
    }
}

/// A value of `size` bytes, the same for every request (etcd's tool does the same).
func benchValue(size: Int) -> [UInt8] {
    let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
    return (0..<size).map { alphabet[$0 % alphabet.count] }
}
