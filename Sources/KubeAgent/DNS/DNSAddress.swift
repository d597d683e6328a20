#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// IP addresses as the DNS tables need them: parsed from Kubernetes' text, written as reverse-lookup names and as
/// the dashed labels CoreDNS uses for pods and for endpoints without a hostname.
enum DNSAddress {
    /// The address's 4 or 16 bytes, or nil if `text` is not an IP address.
    static func bytes(_ text: String) -> [UInt8]? {
        if !text.contains(":") {
            var address = in_addr()
            guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
            return withUnsafeBytes(of: &address) { Array($0) }
        }
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    /// `d.c.b.a.in-addr.arpa` (RFC 1035 3.5) or the nibble form under `ip6.arpa` (RFC 3596 2.5).
    static func reverseName(_ bytes: [UInt8]) -> DNSName {
        if bytes.count == 4 {
            return DNSName(bytes.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa")
        }
        let hex = Array("0123456789abcdef")
        let nibbles = bytes.reversed().flatMap { [hex[Int($0 & 0xF)], hex[Int($0 >> 4)]] }
        return DNSName(nibbles.map(String.init).joined(separator: ".") + ".ip6.arpa")
    }

    /// CoreDNS's label for an address: dots (or colons) replaced by dashes, "10-42-0-5".
    static func dashedLabel(_ text: String) -> String {
        String(text.map { $0 == "." || $0 == ":" ? "-" : $0 })
    }

    /// The IPv4 address a pod label like "10-42-0-5" stands for (CoreDNS's `pods insecure` answers any such name).
    static func fromDashedIPv4(_ label: String) -> [UInt8]? {
        let parts = label.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let octets = parts.compactMap { $0.count <= 3 && $0.allSatisfy { $0.isASCII && $0.isNumber } ? UInt8($0) : nil }
        return octets.count == 4 ? octets : nil
    }
}
