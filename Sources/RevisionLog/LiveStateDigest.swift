/// A fingerprint of a store's live state, so two stores (or a store and a live etcd) can be compared
/// without history: what `kelson migrate` checks after copying.
///
/// CRC-32C over every live key in key order — key, value, create revision, mod revision, version,
/// lease — and, separately, over the leases in ID order (ID, granted TTL). The two checksums are kept
/// apart so leases may be added before or after the keys.
public struct LiveStateDigest: Sendable, Equatable, CustomStringConvertible {
    public private(set) var keys: Int64 = 0
    public private(set) var leases: Int64 = 0
    private var keyChecksum = CRC32C()
    private var leaseChecksum = CRC32C()

    public init() {}

    /// Adds one live key; keys must be added in ascending key order.
    public mutating func add(_ keyValue: KeyValue) {
        keyChecksum.updateField(keyValue.key)
        keyChecksum.updateField(keyValue.value)
        keyChecksum.update(keyValue.createRevision)
        keyChecksum.update(keyValue.modRevision)
        keyChecksum.update(keyValue.version)
        keyChecksum.update(keyValue.lease)
        keys += 1
    }

    /// Adds the whole lease set (in any order; it is hashed in ID order).
    public mutating func add(leases records: [LeaseRecord]) {
        for lease in records.sorted(by: { $0.id < $1.id }) {
            leaseChecksum.update(lease.id)
            leaseChecksum.update(lease.ttl)
        }
        leases += Int64(records.count)
    }

    /// One number for both parts, with the counts mixed in.
    public var value: UInt32 {
        var total = CRC32C()
        total.update(Array("kelson-live-v1".utf8))
        total.update(keys)
        total.update(Int64(keyChecksum.value))
        total.update(leases)
        total.update(Int64(leaseChecksum.value))
        return total.value
    }

    /// The digest as 8 hex digits.
    public var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    public var description: String { "\(keys) keys, \(leases) leases, digest \(hex)" }

    public static func == (lhs: LiveStateDigest, rhs: LiveStateDigest) -> Bool {
        (lhs.keys, lhs.leases, lhs.value) == (rhs.keys, rhs.leases, rhs.value)
    }

    /// The digest of the live state in `reader`'s snapshot, read in pages of `pageSize` keys;
    /// `progress` gets the number of keys read so far after each page.
    public static func compute(
        _ reader: any BackendReader, pageSize: Int = 1_000, progress: (Int64) -> Void = { _ in }
    ) throws -> LiveStateDigest {
        var digest = LiveStateDigest()
        digest.add(leases: try reader.leases())
        try StoreImport.forEachLiveKey(reader, pageSize: pageSize) { page in
            for keyValue in page { digest.add(keyValue) }
            progress(digest.keys)
        }
        return digest
    }
}
