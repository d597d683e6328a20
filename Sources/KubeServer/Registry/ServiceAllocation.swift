import Foundation
import KubeAPI

/// ClusterIPs and NodePorts of Services, allocated as kube-apiserver's service REST does (ipallocator,
/// portallocator), but with one store key per allocation so that several API servers on one store (PostgreSQL)
/// never hand out one address twice: an allocation is a create-if-absent.
///
/// Key layout (values are JSON: `{"namespace", "name", "uid", "allocated"}` of the owning Service, `allocated`
/// an RFC 3339 time):
///
///     /registry/kelson/serviceips/<IPv4 address>      e.g. /registry/kelson/serviceips/10.43.0.12
///     /registry/kelson/servicenodeports/<port>        e.g. /registry/kelson/servicenodeports/30080
///
/// Order: the keys are created before the Service is written and deleted after it goes (or after an update that
/// dropped them is written), so a crash in between leaks an allocation and never shares one. A leaked key is
/// reused when a Service asks for that very address, or when a dynamic allocation found no free key: an
/// allocation whose Service is gone (or no longer holds it) and which is older than `leakAge` is taken over with a
/// compare-and-swap.
struct ServiceAllocator: Sendable {
    static let addressPrefix = "/registry/kelson/serviceips/"
    static let nodePortPrefix = "/registry/kelson/servicenodeports/"
    /// How long an allocation may wait for its Service to be written before it counts as leaked.
    static let leakAge: TimeInterval = 60

    let storage: any ObjectStorage
    let network: ServiceNetwork
    let now: @Sendable () -> Date

    static func applies(to resource: ResourceType) -> Bool { resource.group.isEmpty && resource.kind == "Service" }

    /// Keys this operation created, to undo when the Service is not written after all.
    struct Claims: Sendable {
        var keys: [(key: String, revision: Int64)] = []
    }

    private enum Kind {
        case address, nodePort
        var prefix: String { self == .address ? ServiceAllocator.addressPrefix : ServiceAllocator.nodePortPrefix }
    }

    // MARK: Operations

    func allocate(_ service: inout JSONValue, old: JSONValue?, dryRun: Bool) async throws(KubeError) -> Claims {
        var claims = Claims()
        do throws(KubeError) {
            try await allocateAddresses(&service, old: old, dryRun: dryRun, claims: &claims)
            try await allocateNodePorts(&service, old: old, dryRun: dryRun, claims: &claims)
        } catch {
            await undo(claims)
            throw error
        }
        return claims
    }

    /// Deletes the keys of an operation whose Service was not written.
    func undo(_ claims: Claims) async {
        for claim in claims.keys {
            _ = try? await storage.delete(claim.key, expectedModRevision: claim.revision)
        }
    }

    /// The Service got another generated name before it was written: its keys follow.
    func rename(_ claims: inout Claims, to service: JSONValue) async {
        for index in claims.keys.indices {
            let claim = claims.keys[index]
            if let revision = try? await storage.update(
                claim.key, value: ownerValue(service), expectedModRevision: claim.revision)
            {
                claims.keys[index].revision = revision
            }
        }
    }

    /// After an update is written: what the old Service held and the new one does not.
    func releaseDropped(old: JSONValue, new: JSONValue) async {
        let uid = old[path: "metadata", "uid"]?.stringValue ?? ""
        for ip in Set(Self.addresses(of: old)).subtracting(Self.addresses(of: new)) {
            await release(Self.addressPrefix + ip, uid: uid)
        }
        for port in Set(ServiceFields.nodePorts(of: old)).subtracting(ServiceFields.nodePorts(of: new)) {
            await release(Self.nodePortPrefix + String(port), uid: uid)
        }
    }

    /// After a Service is deleted: everything it held.
    func releaseAll(of service: JSONValue) async {
        var none = service
        none[path: "spec", "clusterIPs"] = nil
        none[path: "spec", "ports"] = nil
        await releaseDropped(old: service, new: none)
    }

    // MARK: Addresses

    static func addresses(of service: JSONValue) -> [String] {
        guard ServiceFields.needsClusterIP(service) else { return [] }
        return ServiceFields.clusterIPs(of: service).filter { $0 != "None" && !$0.isEmpty }
    }

    private func allocateAddresses(_ service: inout JSONValue, old: JSONValue?, dryRun: Bool, claims: inout Claims)
        async throws(KubeError)
    {
        guard ServiceFields.needsClusterIP(service), !ServiceFields.isHeadless(service) else { return }
        // Addresses are immutable (checked before): an update allocates only coming from ExternalName.
        if let old, ServiceFields.needsClusterIP(old) { return }
        let requested = ServiceFields.clusterIPs(of: service)
        if let ip = requested.first {
            let failure: String? =
                if let address = IPv4.parse(ip), network.offset(of: address) != nil {
                    try await claim(.address, ip, for: service, dryRun: dryRun, claims: &claims)
                        ? nil : "provided IP is already allocated"
                } else {
                    "the provided IP (\(ip)) is not in the valid range. The range of valid IPs is \(network.cidr)"
                }
            if let failure {
                throw ServiceFields.invalid(
                    service,
                    [
                        .invalid(
                            FieldPath("spec", "clusterIPs"), json: .array(requested.map { .string($0) }),
                            "failed to allocate IP \(ip): \(failure)")
                    ])
            }
            service[path: "spec", "clusterIP"] = .string(ip)
            return
        }
        // The first address is the `kubernetes` Service's, handed out only when asked for.
        let band = network.staticAddressBand
        let candidates = LazyCandidates(upper: band..<network.addressCount, lower: 0..<band, skipFirst: true)
        guard
            let offset = try await firstFree(
                candidates, name: { IPv4.format(network.address(at: $0)) }, kind: .address, for: service,
                dryRun: dryRun, claims: &claims)
        else {
            throw .internalError("failed to allocate a serviceIP: range is full")
        }
        let ip = IPv4.format(network.address(at: offset))
        service[path: "spec", "clusterIP"] = .string(ip)
        service[path: "spec", "clusterIPs"] = [.string(ip)]
    }

    // MARK: Node ports

    private func allocateNodePorts(_ service: inout JSONValue, old: JSONValue?, dryRun: Bool, claims: inout Claims)
        async throws(KubeError)
    {
        guard ServiceFields.needsNodePorts(service), var ports = service[path: "spec", "ports"]?.arrayValue else {
            return
        }
        let held = Set(old.map(ServiceFields.nodePorts(of:)) ?? [])
        var claimed: Set<Int> = []
        // Explicit ports first, so a dynamic one never takes a port asked for further down the list.
        for (index, port) in ports.enumerated() {
            guard let number = port["nodePort"]?.intValue.map(Int.init), number != 0 else { continue }
            if held.contains(number) || claimed.contains(number) { continue }
            let failure: String? =
                if network.nodePorts.contains(number) {
                    try await claim(.nodePort, String(number), for: service, dryRun: dryRun, claims: &claims)
                        ? nil : "provided port is already allocated"
                } else {
                    "provided port is not in the valid range. The range of valid ports is \(network.nodePortText)"
                }
            if let failure {
                throw ServiceFields.invalid(
                    service,
                    [
                        .invalid(
                            FieldPath("spec", "ports").index(index).child("nodePort"), json: .int(Int64(number)),
                            failure)
                    ])
            }
            claimed.insert(number)
        }
        guard ServiceFields.allocatesNodePorts(service) else { return }
        // Ports with the same number (TCP and UDP) share one node port, as upstream.
        var byPort: [Int64: Int] = [:]
        for port in ports {
            if let number = port["nodePort"]?.intValue, number != 0, let servicePort = port["port"]?.intValue {
                byPort[servicePort] = Int(number)
            }
        }
        let range = network.nodePorts
        let band = UInt32(network.staticPortBand)
        for index in ports.indices where (ports[index]["nodePort"]?.intValue ?? 0) == 0 {
            let servicePort = ports[index]["port"]?.intValue ?? -1
            if let shared = byPort[servicePort] {
                ports[index]["nodePort"] = .int(Int64(shared))
                continue
            }
            let candidates = LazyCandidates(
                upper: band..<UInt32(range.count), lower: 0..<band, skipFirst: false)
            guard
                let offset = try await firstFree(
                    candidates, name: { String(range.lowerBound + Int($0)) }, kind: .nodePort, for: service,
                    dryRun: dryRun, claims: &claims)
            else {
                throw .internalError("failed to allocate a nodePort: range is full")
            }
            let number = range.lowerBound + Int(offset)
            ports[index]["nodePort"] = .int(Int64(number))
            byPort[servicePort] = number
        }
        service[path: "spec", "ports"] = .array(ports)
    }

    // MARK: Keys

    /// Candidates for a dynamic allocation: from a random offset in the upper band, scanning forward and wrapping,
    /// then the lower (static) band the same way.
    struct LazyCandidates: Sequence {
        let upper: Range<UInt32>
        let lower: Range<UInt32>
        /// Offset 0 (the `kubernetes` Service's address) is never picked.
        let skipFirst: Bool

        func makeIterator() -> AnyIterator<UInt32> {
            let bands = [upper, lower].filter { !$0.isEmpty }
            var bandIndex = 0
            var start: UInt32 = 0
            var step: UInt32 = 0
            var begun = false
            let skip = skipFirst
            return AnyIterator {
                while bandIndex < bands.count {
                    let band = bands[bandIndex]
                    let size = UInt32(band.count)
                    if !begun {
                        start = UInt32.random(in: 0..<size)
                        step = 0
                        begun = true
                    }
                    if step < size {
                        let offset = band.lowerBound + (start + step) % size
                        step += 1
                        if skip, offset == 0 { continue }
                        return offset
                    }
                    bandIndex += 1
                    begun = false
                }
                return nil
            }
        }
    }

    /// The first candidate whose key could be created; when none could, a second pass takes over a leaked one.
    private func firstFree(
        _ candidates: LazyCandidates, name: (UInt32) -> String, kind: Kind, for service: JSONValue, dryRun: Bool,
        claims: inout Claims
    ) async throws(KubeError) -> UInt32? {
        for offset in candidates {
            if try await create(kind.prefix + name(offset), for: service, dryRun: dryRun, claims: &claims) {
                return offset
            }
        }
        for offset in candidates {
            if try await takeOverIfLeaked(kind, name(offset), for: service, dryRun: dryRun, claims: &claims) {
                return offset
            }
        }
        return nil
    }

    /// An explicit request: the key is created, or it already is this Service's, or it leaked.
    private func claim(_ kind: Kind, _ name: String, for service: JSONValue, dryRun: Bool, claims: inout Claims)
        async throws(KubeError) -> Bool
    {
        if try await create(kind.prefix + name, for: service, dryRun: dryRun, claims: &claims) { return true }
        return try await takeOverIfLeaked(kind, name, for: service, dryRun: dryRun, claims: &claims)
    }

    private func create(_ key: String, for service: JSONValue, dryRun: Bool, claims: inout Claims)
        async throws(KubeError) -> Bool
    {
        if dryRun {
            return try await call { () async throws(StorageFailure) in try await storage.get(key) } == nil
        }
        do throws(StorageFailure) {
            let revision = try await storage.create(key, value: ownerValue(service))
            claims.keys.append((key, revision))
            return true
        } catch .alreadyExists {
            return false
        } catch {
            throw ObjectRegistry.kubeError(error)
        }
    }

    /// Takes `name` over when its owner is gone or no longer holds it, and it is older than `leakAge`; an
    /// allocation of this very Service (an update retried) counts as taken.
    private func takeOverIfLeaked(
        _ kind: Kind, _ name: String, for service: JSONValue, dryRun: Bool, claims: inout Claims
    )
        async throws(KubeError) -> Bool
    {
        let key = kind.prefix + name
        guard let stored = try await call({ () async throws(StorageFailure) in try await storage.get(key) }) else {
            return try await create(key, for: service, dryRun: dryRun, claims: &claims)
        }
        let owner = (try? JSONValue.parse(stored.value)) ?? [:]
        if owner["uid"]?.stringValue == service[path: "metadata", "uid"]?.stringValue { return true }
        if let allocated = owner["allocated"]?.stringValue.flatMap(APITime.parse),
            now().timeIntervalSince(allocated) < Self.leakAge
        {
            return false
        }
        if try await ownerHolds(owner, kind: kind, name: name) { return false }
        if dryRun { return true }
        do throws(StorageFailure) {
            let revision = try await storage.update(
                key, value: ownerValue(service), expectedModRevision: stored.modRevision)
            claims.keys.append((key, revision))
            return true
        } catch .conflict, .notFound {
            return false
        } catch {
            throw ObjectRegistry.kubeError(error)
        }
    }

    /// Whether the Service named in an allocation exists with that uid and still holds the address or port.
    private func ownerHolds(_ owner: JSONValue, kind: Kind, name: String) async throws(KubeError) -> Bool {
        guard let resource = BuiltinResources.all.first(where: Self.applies(to:)),
            let namespace = owner["namespace"]?.stringValue, let serviceName = owner["name"]?.stringValue
        else { return false }
        let key = resource.key(namespace: namespace, name: serviceName)
        guard let stored = try await call({ () async throws(StorageFailure) in try await storage.get(key) }),
            let service = try? StoredForm.decode(stored, as: resource.groupVersion, resource: resource),
            service[path: "metadata", "uid"]?.stringValue == owner["uid"]?.stringValue
        else { return false }
        switch kind {
        case .address: return Self.addresses(of: service).contains(name)
        case .nodePort: return ServiceFields.nodePorts(of: service).map(String.init).contains(name)
        }
    }

    /// Deletes `key` if `uid`'s Service owns it (another may have taken over a leak meanwhile).
    private func release(_ key: String, uid: String) async {
        guard let stored = try? await storage.get(key), let owner = try? JSONValue.parse(stored.value),
            owner["uid"]?.stringValue == uid
        else { return }
        _ = try? await storage.delete(key, expectedModRevision: stored.modRevision)
    }

    private func ownerValue(_ service: JSONValue) -> [UInt8] {
        let owner: JSONValue = [
            "namespace": service[path: "metadata", "namespace"] ?? "",
            "name": service[path: "metadata", "name"] ?? "",
            "uid": service[path: "metadata", "uid"] ?? "",
            "allocated": .string(APITime.format(now())),
        ]
        return owner.serialized()
    }

    private func call<Value>(_ body: () async throws(StorageFailure) -> Value) async throws(KubeError) -> Value {
        do {
            return try await body()
        } catch {
            throw ObjectRegistry.kubeError(error)
        }
    }
}
