// The names a serving certificate must cover. `kubectl` verifies the host it dialed against the SANs, and in-cluster
// clients dial `kubernetes.default.svc` or the first service IP, so every one of these has to be present.
import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The DNS names and IP addresses a serving certificate is issued for.
public struct ServingNames: Hashable, Sendable {
    /// DNS names, lowercased, without a trailing dot, in issue order.
    public private(set) var dnsNames: [String] = []
    /// IP addresses in their binary form (4 or 16 bytes), in issue order.
    public private(set) var ipAddresses: [[UInt8]] = []

    /// The names kube-apiserver always serves under, before the node's own.
    public static let defaultDNSNames = [
        "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ]

    /// The loopback addresses always present.
    public static let defaultIPAddresses = ["127.0.0.1", "::1"]

    /// The defaults, the node name, then `extraNames`, each classified as an IP address when it parses as one.
    ///
    /// Unspecified addresses (`0.0.0.0`, `::`), as in a bind address meaning "all interfaces", are skipped: no
    /// client dials them.
    public init(nodeName: String, extraNames: [String] = []) {
        for name in Self.defaultDNSNames + Self.defaultIPAddresses + [nodeName] + extraNames {
            self.add(name)
        }
    }

    /// Whether every name here is among the certificate's SANs.
    public func isCovered(by certificate: Certificate) -> Bool {
        guard let alternativeNames = try? certificate.extensions.subjectAlternativeNames else { return false }
        var presentDNSNames = Set<String>()
        var presentIPAddresses = Set<[UInt8]>()
        for name in alternativeNames {
            switch name {
            case .dnsName(let dnsName): presentDNSNames.insert(dnsName.lowercased())
            case .ipAddress(let octets): presentIPAddresses.insert(Array(octets.bytes))
            default: continue
            }
        }
        return Set(self.dnsNames).isSubset(of: presentDNSNames)
            && Set(self.ipAddresses).isSubset(of: presentIPAddresses)
    }

    /// The names as an X.509 extension value.
    var subjectAlternativeNames: SubjectAlternativeNames {
        SubjectAlternativeNames(
            self.dnsNames.map { GeneralName.dnsName($0) }
                + self.ipAddresses.map { GeneralName.ipAddress(ASN1OctetString(contentBytes: $0[...])) }
        )
    }

    private mutating func add(_ rawName: String) {
        let name = rawName.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { return }
        if let address = Self.parseIPAddress(name) {
            if address.allSatisfy({ $0 == 0 }) { return }
            if !self.ipAddresses.contains(address) { self.ipAddresses.append(address) }
            return
        }
        var dnsName = name.lowercased()
        if dnsName.hasSuffix(".") { dnsName.removeLast() }
        if !dnsName.isEmpty && !self.dnsNames.contains(dnsName) { self.dnsNames.append(dnsName) }
    }

    /// Parses dotted IPv4 or (optionally bracketed) IPv6 text into 4 or 16 bytes.
    static func parseIPAddress(_ text: String) -> [UInt8]? {
        var text = text
        if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var ipv4 = in_addr()
        if inet_pton(AF_INET, text, &ipv4) == 1 {
            return withUnsafeBytes(of: &ipv4) { Array($0) }
        }
        var ipv6 = in6_addr()
        if inet_pton(AF_INET6, text, &ipv6) == 1 {
            return withUnsafeBytes(of: &ipv6) { Array($0) }
        }
        return nil
    }
}
