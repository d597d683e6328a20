import KubeAPI

// The cluster's DNS records as the Kubernetes DNS specification (schema 1.1.0) lays them out, built once per
// change of Services or EndpointSlices and then only read. Names are keyed by `DNSName.key` (lower case, no
// trailing dot). What CoreDNS's kubernetes plugin does beyond the specification, and is copied here: endpoints
// without a hostname are named by their dashed address ("10-42-0-5"), SRV weights split 100 between the
// targets, PTR records exist for headless endpoints, and every record has TTL 5.

/// An immutable snapshot of the cluster's records.
struct ClusterDNSTable: Sendable {
    /// The records at each name (owner names in the records are the canonical spelling).
    var records: [String: [DNSResourceRecord]] = [:]
    /// Names inside the zone that own nothing but have names below them ("empty non-terminals", RFC 8020):
    /// they answer NODATA, not NXDOMAIN.
    var nonTerminals: Set<String> = []
    let zone: DNSName
    let serial: UInt32

    static let ttlSeconds: UInt32 = 5

    init(zone: DNSName, serial: UInt32) {
        self.zone = zone
        self.serial = serial
    }

    /// CoreDNS's SOA for the zone: `ns.dns.<zone> hostmaster.<zone>`, refresh 7200, retry 1800, expire 86400,
    /// minimum (the negative-answer TTL) 5.
    var soa: DNSResourceRecord {
        DNSResourceRecord(
            name: zone, type: .soa, ttl: Self.ttlSeconds,
            data: .authority(
                primary: DNSName(labels: [Array("ns".utf8), Array("dns".utf8)] + zone.labels),
                mailbox: DNSName(labels: [Array("hostmaster".utf8)] + zone.labels), serial: serial, refresh: 7200,
                retry: 1800, expire: 86400, minimum: 5))
    }
}

/// Builds a `ClusterDNSTable` from Services and EndpointSlices as the API serves them.
struct ClusterDNSTableBuilder {
    private(set) var table: ClusterDNSTable
    private var seen: Set<DNSResourceRecord> = []
    /// SRV records collected per owner, given weights once every target is known.
    private var services: [String: [(name: DNSName, port: UInt16, target: DNSName)]] = [:]
    private let zoneKey: String

    init(zone: DNSName, serial: UInt32) {
        table = ClusterDNSTable(zone: zone, serial: serial)
        zoneKey = zone.key
        // The schema version record the specification requires.
        add(DNSName(labels: [Array("dns-version".utf8)] + zone.labels), .txt, .text([Array("1.1.0".utf8)]))
    }

    mutating func build(services serviceObjects: [JSONValue], endpointSlices: [JSONValue]) -> ClusterDNSTable {
        var slicesByService: [String: [JSONValue]] = [:]
        for slice in endpointSlices {
            guard let namespace = slice[path: "metadata", "namespace"]?.stringValue,
                let service = slice[path: "metadata", "labels", "kubernetes.io/service-name"]?.stringValue
            else { continue }
            slicesByService[namespace + "/" + service, default: []].append(slice)
        }
        for service in serviceObjects {
            guard let name = service[path: "metadata", "name"]?.stringValue else { continue }
            let namespace = service[path: "metadata", "namespace"]?.stringValue ?? "default"
            addService(service, name: name, namespace: namespace, slices: slicesByService[namespace + "/" + name] ?? [])
        }
        for (_, group) in services {
            // CoreDNS's split of weight between the targets of one SRV name.
            let weight = UInt16(max(1, 100 / group.count))
            for entry in group {
                add(entry.name, .srv, .service(priority: 0, weight: weight, port: entry.port, target: entry.target))
            }
        }
        return table
    }

    private mutating func addService(_ service: JSONValue, name: String, namespace: String, slices: [JSONValue]) {
        let base = DNSName("\(name).\(namespace).svc.\(zoneKey)")
        guard isValid(base) else { return }
        let spec = service["spec"]
        if spec?["type"]?.stringValue == "ExternalName" {
            if let external = spec?["externalName"]?.stringValue, isValid(DNSName(external)) {
                add(base, .cname, .name(DNSName(external)))
            }
            return
        }
        let clusterIP = spec?["clusterIP"]?.stringValue ?? ""
        if clusterIP == "None" {
            let publishNotReady = spec?["publishNotReadyAddresses"]?.boolValue == true
            for slice in slices { addHeadlessSlice(slice, base: base, publishNotReady: publishNotReady) }
            return
        }
        let clusterIPs = spec?["clusterIPs"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let addresses = (clusterIPs.isEmpty ? [clusterIP] : clusterIPs).compactMap(DNSAddress.bytes)
        for address in addresses {
            add(base, address.count == 4 ? .a : .aaaa, .address(address))
            add(DNSAddress.reverseName(address), .ptr, .name(base))
        }
        guard !addresses.isEmpty else { return }
        for port in spec?["ports"]?.arrayValue ?? [] {
            addService(port: port, base: base, target: base)
        }
    }

    /// A headless Service's slice: the ready addresses at the Service's name and at each endpoint's hostname,
    /// an SRV target per endpoint for each named port (with the endpoint's port), and PTRs to the hostnames.
    private mutating func addHeadlessSlice(_ slice: JSONValue, base: DNSName, publishNotReady: Bool) {
        guard slice["addressType"]?.stringValue != "FQDN" else { return }
        for endpoint in slice["endpoints"]?.arrayValue ?? [] {
            guard publishNotReady || endpoint[path: "conditions", "ready"]?.boolValue != false else { continue }
            for text in endpoint["addresses"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                guard let address = DNSAddress.bytes(text) else { continue }
                let label = endpoint["hostname"]?.stringValue ?? DNSAddress.dashedLabel(text)
                let host = DNSName(labels: [Array(label.utf8)] + base.labels)
                guard isValid(host) else { continue }
                let type: DNSRecordType = address.count == 4 ? .a : .aaaa
                add(base, type, .address(address))
                add(host, type, .address(address))
                add(DNSAddress.reverseName(address), .ptr, .name(host))
                for port in slice["ports"]?.arrayValue ?? [] { addService(port: port, base: base, target: host) }
            }
        }
    }

    /// `_<port>._<protocol>.<base>` for a named port, collected to be weighted later.
    private mutating func addService(port: JSONValue, base: DNSName, target: DNSName) {
        guard let portName = port["name"]?.stringValue, !portName.isEmpty,
            let number = port["port"]?.intValue, let portNumber = UInt16(exactly: number)
        else { return }
        let proto = (port["protocol"]?.stringValue ?? "TCP").lowercased()
        let name = DNSName(labels: [Array("_\(portName)".utf8), Array("_\(proto)".utf8)] + base.labels)
        guard isValid(name) else { return }
        let key = name.key
        if services[key]?.contains(where: { $0.target == target && $0.port == portNumber }) == true { return }
        services[key, default: []].append((name, portNumber, target))
        markAncestors(of: name)
    }

    private mutating func add(_ name: DNSName, _ type: DNSRecordType, _ data: DNSRecordData) {
        let record = DNSResourceRecord(name: name, type: type, ttl: ClusterDNSTable.ttlSeconds, data: data)
        guard seen.insert(record).inserted else { return }
        table.records[name.key, default: []].append(record)
        markAncestors(of: name)
    }

    /// Records every name between `name` and the zone as existing (only inside the zone: reverse names have no
    /// apex here, their misses are forwarded).
    private mutating func markAncestors(of name: DNSName) {
        let zoneLabels = table.zone.labels.count
        guard name.labels.count > zoneLabels, DNSName(labels: name.labels.suffix(zoneLabels)).key == zoneKey
        else { return }
        for start in 1..<name.labels.count - zoneLabels {
            let ancestor = DNSName(labels: Array(name.labels[start...]))
            guard table.nonTerminals.insert(ancestor.key).inserted else { break }
        }
    }

    private func isValid(_ name: DNSName) -> Bool {
        name.wireLength <= 255 && name.labels.allSatisfy { !$0.isEmpty && $0.count <= 63 }
    }
}
