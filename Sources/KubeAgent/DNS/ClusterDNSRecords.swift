import Foundation
import KubeAPI
import Synchronization

/// What the server does with one query: send a response, or forward the query to the upstream resolvers.
public enum DNSResolution: Sendable, Equatable {
    case respond(DNSMessage)
    case forward
    /// A cluster name is a CNAME (an ExternalName Service) to a name outside the cluster: answer `response`
    /// with the upstream's answer for `target` appended (CoreDNS resolves such targets too, since stub resolvers
    /// do not chase CNAMEs themselves).
    case chase(response: DNSMessage, target: DNSName)
}

/// The cluster's DNS records, answered as CoreDNS's kubernetes plugin answers (with `pods insecure` and
/// `fallthrough in-addr.arpa ip6.arpa`, the default Corefile's settings). Safe to read from any thread while
/// the agent replaces the records on informer changes.
public final class ClusterDNSRecords: Sendable {
    public let clusterDomain: String
    private let zone: DNSName
    private let table: Mutex<ClusterDNSTable>

    /// A CNAME chain inside the cluster is followed at most this far.
    static let cnameDepthMaximum = 8

    public init(clusterDomain: String = "cluster.local") {
        zone = DNSName(clusterDomain)
        self.clusterDomain = zone.key
        var builder = ClusterDNSTableBuilder(zone: zone, serial: Self.serialNow())
        table = Mutex(builder.build(services: [], endpointSlices: []))
    }

    /// Replaces every record with those of `services` and `endpointSlices` (full lists, as the informers hold them).
    public func update(services: [JSONValue], endpointSlices: [JSONValue]) {
        var builder = ClusterDNSTableBuilder(zone: zone, serial: Self.serialNow())
        let built = builder.build(services: services, endpointSlices: endpointSlices)
        table.withLock { $0 = built }
    }

    /// The response to a parsed query that has exactly one question.
    public func resolve(_ query: DNSMessage) -> DNSResolution {
        guard let question = query.questions.first, query.questions.count == 1 else {
            return .respond(DNSMessage.response(to: query, code: .formatError))
        }
        let snapshot = table.withLock { $0 }
        var response = DNSMessage.response(to: query, code: .noError)
        let key = question.name.key
        guard key == snapshot.zone.key || key.hasSuffix("." + snapshot.zone.key) else {
            // Reverse names of cluster addresses are ours; other names (and other reverse names) go upstream.
            guard question.type == .ptr || question.type == .any, let records = snapshot.records[key] else {
                return .forward
            }
            response.header.authoritative = true
            response.answers = records.filter { $0.type == .ptr }
            return .respond(response)
        }
        response.header.authoritative = true
        guard question.recordClass == dnsClassInternet || question.recordClass == 255 else {
            response.header.responseCode = .refused
            return .respond(response)
        }
        var name = question.name
        for _ in 0..<Self.cnameDepthMaximum {
            let found = snapshot.lookup(name, type: question.type)
            response.answers += found.answers
            response.additionals += found.additionals
            guard let target = found.cnameTarget, question.type != .cname else {
                if response.answers.isEmpty {
                    response.header.responseCode = found.exists ? .noError : .nameError
                    response.authorities = [snapshot.soa]
                }
                return .respond(response)
            }
            let targetKey = target.key
            guard targetKey == snapshot.zone.key || targetKey.hasSuffix("." + snapshot.zone.key) else {
                return .chase(response: response, target: target)
            }
            name = target
        }
        return .respond(response)
    }

    /// CoreDNS's serial: the time of the last change, in seconds.
    private static func serialNow() -> UInt32 {
        UInt32(truncatingIfNeeded: Int64(Date().timeIntervalSince1970))
    }
}

extension ClusterDNSTable {
    struct Found {
        var answers: [DNSResourceRecord] = []
        var additionals: [DNSResourceRecord] = []
        /// The name exists (with or without records of the asked type): NODATA rather than NXDOMAIN.
        var exists = false
        var cnameTarget: DNSName? = nil
    }

    /// The records of `type` at `name`, a name inside the zone.
    func lookup(_ name: DNSName, type: DNSRecordType) -> Found {
        let key = name.key
        var found = Found()
        if key == zone.key {
            found.exists = true
            if type == .soa || type == .any { found.answers.append(soa) }
            if type == .ns || type == .any {
                let primary = DNSName(labels: [Array("ns".utf8), Array("dns".utf8)] + zone.labels)
                found.answers.append(
                    DNSResourceRecord(name: zone, type: .ns, ttl: Self.ttlSeconds, data: .name(primary)))
            }
            return found
        }
        if let podAddress = podAddress(name) {
            found.exists = true
            if type == .a || type == .any {
                found.answers = [
                    DNSResourceRecord(name: name, type: .a, ttl: Self.ttlSeconds, data: .address(podAddress))
                ]
            }
            return found
        }
        guard let records = records[key] else {
            found.exists = nonTerminals.contains(key) || isPodNonTerminal(name)
            return found
        }
        found.exists = true
        found.answers = records.filter { $0.type == type || type == .any }
        if found.answers.isEmpty, let cname = records.first(where: { $0.type == .cname }),
            case .name(let target) = cname.data
        {
            found.answers = [cname]
            found.cnameTarget = target
        }
        // SRV targets' addresses ride along in the additional section, as CoreDNS sends them.
        for record in found.answers {
            guard case .service(_, _, _, let target) = record.data else { continue }
            found.additionals += (self.records[target.key] ?? []).filter { $0.type == .a || $0.type == .aaaa }
        }
        return found
    }

    /// `a-b-c-d.<namespace>.pod.<zone>`: the address a.b.c.d (any namespace, as `pods insecure` answers).
    private func podAddress(_ name: DNSName) -> [UInt8]? {
        let depth = zone.labels.count
        guard name.labels.count == depth + 3, name.labels[2].lowercasedASCII == Array("pod".utf8) else { return nil }
        return DNSAddress.fromDashedIPv4(String(decoding: name.labels[0], as: UTF8.self))
    }

    /// `pod.<zone>` and `<namespace>.pod.<zone>` exist (they have pod names below them).
    private func isPodNonTerminal(_ name: DNSName) -> Bool {
        let depth = zone.labels.count
        let extra = name.labels.count - depth
        return (extra == 1 || extra == 2) && name.labels[extra - 1].lowercasedASCII == Array("pod".utf8)
    }
}

extension [UInt8] {
    var lowercasedASCII: [UInt8] { map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 } }
}
