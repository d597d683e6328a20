/// FNV-1a, 32 bits: a small stable hash for names derived from content (a pod template's `pod-template-hash`, a
/// data directory's short name). Not for security.
public struct FNV1a: Sendable {
    public private(set) var value: UInt32 = 2_166_136_261

    public init() {}

    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            value ^= UInt32(byte)
            value = value &* 16_777_619
        }
    }

    public static func hash(_ text: String) -> UInt32 {
        var hasher = FNV1a()
        hasher.feed(text.utf8)
        return hasher.value
    }
}
