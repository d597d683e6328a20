import Foundation
import KubeAPI

/// Where Services get their addresses and node ports: k3s's `--service-cidr` (one IPv4 range; dual-stack is not
/// served) and `--service-node-port-range`.
public struct ServiceNetwork: Sendable, Equatable {
    /// k3s's defaults: 10.43.0.0/16 and 30000-32767.
    public static let standard: ServiceNetwork = {
        do { return try ServiceNetwork() } catch { fatalError("\(error)") }
    }()

    /// The range as given (`10.43.0.0/16`), as error messages show it.
    public let cidr: String
    /// The network address, as a number.
    let network: UInt32
    /// Usable addresses: the network and broadcast addresses are never handed out.
    let addressCount: UInt32
    public let nodePorts: ClosedRange<Int>

    public struct ConfigurationError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(cidr: String = "10.43.0.0/16", nodePorts: ClosedRange<Int> = 30000...32767) throws(ConfigurationError) {
        let parts = cidr.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4.parse(String(parts[0])), let prefix = Int(parts[1]) else {
            throw ConfigurationError(description: "service CIDR \(cidr) is not an IPv4 CIDR (dual-stack is not served)")
        }
        // kube-apiserver refuses IPv4 ranges larger than a /12; a /31 or /32 leaves nothing to hand out.
        guard (12...30).contains(prefix) else {
            throw ConfigurationError(description: "service CIDR \(cidr): the prefix length must be between 12 and 30")
        }
        guard nodePorts.lowerBound > 0, nodePorts.upperBound <= 65535 else {
            throw ConfigurationError(description: "service node port range \(nodePorts) is not within 1-65535")
        }
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
        network = address & mask
        addressCount = (UInt32(1) << (32 - prefix)) - 2
        self.cidr = "\(IPv4.format(network))/\(prefix)"
        self.nodePorts = nodePorts
    }

    /// `--service-node-port-range`'s form: `30000-32767` (or a single port).
    public static func parsePortRange(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        switch parts.count {
        case 1: return parts[0].map { $0...$0 }
        case 2:
            guard let low = parts[0], let high = parts[1], low <= high else { return nil }
            return low...high
        default: return nil
        }
    }

    /// The node port range as messages show it (`30000-32767`).
    var nodePortText: String { "\(nodePorts.lowerBound)-\(nodePorts.upperBound)" }

    /// The offset (from the first usable address) of an address in the range, nil outside it.
    func offset(of address: UInt32) -> UInt32? {
        guard address > network, address - network <= addressCount else { return nil }
        return address - network - 1
    }

    func address(at offset: UInt32) -> UInt32 { network + 1 + offset }

    /// kube-apiserver's static subrange (KEP-3070): dynamic allocation prefers addresses above the first
    /// min(max(16, size/16), 256), leaving the low ones to Services that ask for a fixed address (DNS's `.10`).
    var staticAddressBand: UInt32 {
        let size = addressCount + 2
        if size < 16 { return 0 }
        return min(max(16, size / 16), 256)
    }

    /// The same for node ports (KEP-3668): min(max(16, size/32), 128).
    var staticPortBand: Int {
        let size = nodePorts.count
        if size < 16 { return 0 }
        return min(max(16, size / 32), 128)
    }
}

/// IPv4 addresses as numbers.
enum IPv4 {
    static func parse(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let byte = UInt32(part), byte <= 255
            else { return nil }
            value = value << 8 | byte
        }
        return value
    }

    static func format(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 255).\(value >> 8 & 255).\(value & 255)"
    }
}
