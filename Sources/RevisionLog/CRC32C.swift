/// CRC-32C (Castagnoli), the checksum etcd's HashKV uses. Table-driven, reflected, polynomial
/// 0x82F63B78; `CRC32C().update("123456789".utf8).value == 0xE3069283`.
public struct CRC32C: Sendable {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    private var state: UInt32 = 0xFFFF_FFFF

    public init() {}

    public var value: UInt32 { state ^ 0xFFFF_FFFF }

    @discardableResult
    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) -> CRC32C where Bytes.Element == UInt8 {
        for byte in bytes { state = Self.table[Int((state ^ UInt32(byte)) & 0xFF)] ^ (state >> 8) }
        return self
    }

    /// The same over raw bytes, without generic iteration (the write-ahead log checksums every record).
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        var crc = state
        Self.table.withUnsafeBufferPointer { table in
            for byte in buffer { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        state = crc
    }

    /// Big-endian, so the hash does not depend on the machine.
    public mutating func update(_ number: Int64) {
        update((0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(bitPattern: number) >> ($0 * 8)) })
    }

    /// Length-prefixed, so adjacent fields cannot run into each other.
    public mutating func updateField(_ bytes: [UInt8]) {
        update(Int64(bytes.count))
        update(bytes)
    }
}
