import Foundation
import KubeAPI
import Logging
import RevisionLog
import Testing

@testable import KubeServer

/// ClusterIPs and NodePorts through the in-process API on a real store: one key per allocation, so two API
/// servers on one store never hand out one address twice.
@Suite struct ServiceAllocationTests {
    static let services = KubeClient.path(apiVersion: "v1", plural: "services", namespace: "default")

    static func makeStore() throws -> (ObjectStorage: any ObjectStorage, store: Store) {
        let store = try Store(backend: MemoryBackend(), logger: Logger(label: "test"))
        return (LocalObjectStorage(store: store, hub: WatchHub(store: store)), store)
    }

    static func client(
        _ storage: any ObjectStorage, network: ServiceNetwork = .standard,
        now: @escaping @Sendable () -> Date = { Date() }
    ) -> KubeClient {
        KubeClient(handler: APIHandler.inProcess(storage: storage, now: now, serviceNetwork: network))
    }

    static func service(
        _ name: String, type: String = "ClusterIP", clusterIP: String? = nil, nodePort: Int? = nil,
        ports: [Int] = [80]
    ) -> JSONValue {
        var spec: JSONObject = ["type": .string(type), "selector": ["app": .string(name)]]
        if let clusterIP { spec["clusterIP"] = .string(clusterIP) }
        spec["ports"] = .array(
            ports.enumerated().map { index, port in
                var entry: JSONObject = ["name": .string("p\(index)"), "port": .int(Int64(port))]
                if index == 0, let nodePort { entry["nodePort"] = .int(Int64(nodePort)) }
                return .object(entry)
            })
        return ["apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)], "spec": .object(spec)]
    }

    static func message(_ body: () async throws(KubeError) -> Void) async -> (code: Int, message: String)? {
        do {
            try await body()
            return nil
        } catch {
            return (error.code, error.message)
        }
    }

    static func nodePort(_ service: JSONValue) -> JSONValue? {
        service[path: "spec", "ports"]?.arrayValue?.first?["nodePort"]
    }

    static func setNodePort(_ service: inout JSONValue, _ value: JSONValue?) {
        var ports = service[path: "spec", "ports"]?.arrayValue ?? []
        ports[0]["nodePort"] = value
        service[path: "spec", "ports"] = .array(ports)
    }

    static func keys(_ storage: any ObjectStorage, _ prefix: String) async throws -> [String] {
        try await storage.list(prefix: prefix, startKey: nil, limit: 0, revision: 0).objects.map(\.key)
    }

    @Test func servicesGetDistinctAddressesFromTheRangeAndSingleStackFields() async throws {
        let (storage, store) = try Self.makeStore()
        defer { store.close() }
        let client = Self.client(storage)
        var addresses = Set<String>()
        for index in 0..<40 {
            let created = try await client.create(Self.services, Self.service("web-\(index)"))
            let ip = try #require(created[path: "spec", "clusterIP"]?.stringValue)
            #expect(created[path: "spec", "clusterIPs"] == [.string(ip)])
            #expect(created[path: "spec", "ipFamilies"] == ["IPv4"])
            #expect(created[path: "spec", "ipFamilyPolicy"] == "SingleStack")
            #expect(ip.hasPrefix("10.43."))
            // The network address and the `kubernetes` Service's first address are never picked.
            #expect(ip != "10.43.0.0" && ip != "10.43.0.1" && ip != "10.43.255.255")
            addresses.insert(ip)
        }
        #expect(addresses.count == 40)
        let keys = try await Self.keys(storage, ServiceAllocator.addressPrefix)
        #expect(Set(keys) == Set(addresses.map { ServiceAllocator.addressPrefix + $0 }))
        let owner = try JSONValue.parse(try #require(try await storage.get(keys[0])).value)
        #expect(owner["namespace"] == "default")
        #expect(owner["uid"]?.stringValue?.isEmpty == false)
    }

    @Test func anExplicitAddressMustBeFreeAndInRange() async throws {
        let (storage, store) = try Self.makeStore()
        defer { store.close() }
        let client = Self.client(storage)
        let first = try await client.create(Self.services, Self.service("kubernetes", clusterIP: "10.43.0.1"))
        #expect(first[path: "spec", "clusterIPs"] == ["10.43.0.1"])
        _ = try await client.create(Self.services, Self.service("dns", clusterIP: "10.43.0.10"))
        let taken = await Self.message { () throws(KubeError) in
            _ = try await client.create(Self.services, Self.service("other", clusterIP: "10.43.0.10"))
        }
        #expect(taken?.code == 422)
        #expect(
            taken?.message
                == #"Service "other" is invalid: spec.clusterIPs: Invalid value: ["10.43.0.10"]: failed to allocate IP 10.43.0.10: provided IP is already allocated"#
        )
        let outside = await Self.message { () throws(KubeError) in
            _ = try await client.create(Self.services, Self.service("far", clusterIP: "10.0.0.5"))
        }
        #expect(
            outside?.message
                == #"Service "far" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.5"]: failed to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/16"#
        )
        // Refused creates leave no allocation behind.
        #expect(try await Self.keys(storage, ServiceAllocator.addressPrefix).count == 2)
        // The address is immutable.
        var changed = try await client.get(Self.services + "/dns")
        changed[path: "spec", "clusterIP"] = "10.43.0.11"
        changed[path: "spec", "clusterIPs"] = ["10.43.0.11"]
        let immutable = await Self.message { () throws(KubeError) in
            _ = try await client.update(Self.services + "/dns", changed)
        }
        #expect(
            immutable?.message
                == #"Service "dns" is invalid: spec.clusterIPs[0]: Invalid value: ["10.43.0.11"]: may not change once set"#
        )
    }

    @Test func aHeadlessServiceGetsNoAddress() async throws {
        let (storage, store) = try Self.makeStore()
        defer { store.close() }
        let client = Self.client(storage)
        let created = try await client.create(Self.services, Self.service("db", clusterIP: "None"))
        #expect(created[path: "spec", "clusterIPs"] == ["None"])
        #expect(try await Self.keys(storage, ServiceAllocator.addressPrefix).isEmpty)
    }

    @Test func nodePortsAreAllocatedCheckedAndReleasedWithTheType() async throws {
        let (storage, store) = try Self.makeStore()
        defer { store.close() }
        let client = Self.client(storage)
        let created = try await client.create(Self.services, Self.service("web", type: "NodePort", ports: [80, 443]))
        let ports = (created[path: "spec", "ports"]?.arrayValue ?? []).compactMap { $0["nodePort"]?.intValue }
        #expect(ports.count == 2 && Set(ports).count == 2)
        #expect(ports.allSatisfy { (30000...32767).contains($0) })
        #expect(created[path: "spec", "externalTrafficPolicy"] == "Cluster")
        _ = try await client.create(Self.services, Self.service("fixed", type: "NodePort", nodePort: 30080))
        let taken = await Self.message { () throws(KubeError) in
            _ = try await client.create(Self.services, Self.service("again", type: "NodePort", nodePort: 30080))
        }
        #expect(
            taken?.message
                == #"Service "again" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"#
        )
        let outside = await Self.message { () throws(KubeError) in
            _ = try await client.create(Self.services, Self.service("low", type: "NodePort", nodePort: 8080))
        }
        #expect(
            outside?.message
                == #"Service "low" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767"#
        )
        // NodePort -> ClusterIP releases (the ports a client sends back unchanged are dropped), then reuse.
        var fixed = try await client.get(Self.services + "/fixed")
        fixed[path: "spec", "type"] = "ClusterIP"
        let downgraded = try await client.update(Self.services + "/fixed", fixed)
        #expect(Self.nodePort(downgraded) == nil)
        #expect(try await storage.get(ServiceAllocator.nodePortPrefix + "30080") == nil)
        _ = try await client.create(Self.services, Self.service("again", type: "NodePort", nodePort: 30080))
        // ClusterIP -> NodePort allocates; a PUT without the ports keeps them.
        var upgraded = try await client.get(Self.services + "/fixed")
        upgraded[path: "spec", "type"] = "NodePort"
        let withPort = try await client.update(Self.services + "/fixed", upgraded)
        let allocated = try #require(Self.nodePort(withPort)?.intValue)
        #expect(try await storage.get(ServiceAllocator.nodePortPrefix + String(allocated)) != nil)
        var resent = withPort
        Self.setNodePort(&resent, nil)
        let kept = try await client.update(Self.services + "/fixed", resent)
        #expect(Self.nodePort(kept)?.intValue == allocated)
        // A ClusterIP Service may not name a node port.
        let forbidden = await Self.message { () throws(KubeError) in
            _ = try await client.create(Self.services, Self.service("plain", nodePort: 30111))
        }
        #expect(
            forbidden?.message
                == "Service \"plain\" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
        )
    }

    @Test func deletingAServiceReleasesWhatItHeld() async throws {
        let (storage, store) = try Self.makeStore()
        defer { store.close() }
        let client = Self.client(storage)
        _ = try await client.create(
            Self.services, Self.service("web", type: "NodePort", clusterIP: "10.43.0.20", nodePort: 30500))
        #expect(try await storage.get(ServiceAllocator.addressPrefix + "10.43.0.20") != nil)
        _ = try await client.delete(Self.services + "/web")
        #expect(try await Self.keys(storage, ServiceAllocator.addressPrefix).isEmpty)
        #expect(try await Self.keys(storage, ServiceAllocator.nodePortPrefix).isEmpty)
        let again = try await client.create(
            Self.services, Self.service("next", type: "NodePort", clusterIP: "10.43.0.20", nodePort: 30500))
        #expect(again[path: "spec", "clusterIP"] == "10.43.0.20")
    }

    @Test func aLeakedAllocationIsReusedOnceItsServiceIsGoneForAMinute() async throws {
        let (storage, store) = try Self.makeStore()
        defer { store.close() }
        let offset = Offset()
        let client = Self.client(storage, now: { Date().addingTimeInterval(offset.seconds) })
        // What a crash between the allocation and the Service's write leaves.
        let leaked: JSONValue = [
            "namespace": "default", "name": "lost", "uid": "0000", "allocated": .string(APITime.format(Date())),
        ]
        _ = try await storage.create(ServiceAllocator.addressPrefix + "10.43.0.30", value: leaked.serialized())
        let early = await Self.message { () throws(KubeError) in
            _ = try await client.create(Self.services, Self.service("web", clusterIP: "10.43.0.30"))
        }
        #expect(early?.code == 422)
        offset.seconds = 120
        let created = try await client.create(Self.services, Self.service("web", clusterIP: "10.43.0.30"))
        #expect(created[path: "spec", "clusterIP"] == "10.43.0.30")
        let owner = try JSONValue.parse(
            try #require(try await storage.get(ServiceAllocator.addressPrefix + "10.43.0.30")).value)
        #expect(owner["uid"] == created[path: "metadata", "uid"])
    }

    @Test func twoAPIServersOnOneStoreNeverHandOutOneAddressTwice() async throws {
        let (storage, store) = try Self.makeStore()
        defer { store.close() }
        // A /27 (30 addresses, 29 without the first) and 40 node ports: collisions are certain if unchecked.
        let network = try ServiceNetwork(cidr: "10.50.0.0/27", nodePorts: 31000...31039)
        let clients = [Self.client(storage, network: network), Self.client(storage, network: network)]
        let results = await withTaskGroup(of: JSONValue?.self) { group in
            for index in 0..<29 {
                let client = clients[index % 2]
                group.addTask {
                    try? await client.create(Self.services, Self.service("s\(index)", type: "NodePort"))
                }
            }
            var all: [JSONValue] = []
            for await result in group { if let result { all.append(result) } }
            return all
        }
        #expect(results.count == 29)
        let addresses = results.compactMap { $0[path: "spec", "clusterIP"]?.stringValue }
        #expect(Set(addresses).count == 29)
        #expect(!addresses.contains("10.50.0.1"))
        let ports = results.compactMap { Self.nodePort($0)?.intValue }
        #expect(Set(ports).count == 29)
        // The range is full now (the first address is only given on request).
        let full = await Self.message { () throws(KubeError) in
            _ = try await clients[0].create(Self.services, Self.service("one-more"))
        }
        #expect(full?.code == 500)
        #expect(full?.message.contains("range is full") == true)
    }
}

/// A clock offset a test moves.
final class Offset: @unchecked Sendable {
    private let lock = NSLock()
    private var value: TimeInterval = 0
    var seconds: TimeInterval {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
