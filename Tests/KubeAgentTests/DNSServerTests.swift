import Foundation
import KubeAPI
import NIOCore
import Testing

@testable import KubeAgent

/// The cluster DNS server on 127.0.0.1 with real Services and EndpointSlices, queried over real sockets.
@Suite struct DNSServerTests {
    typealias O = DNSTestObjects

    static let services: [JSONValue] = [
        O.service("web", clusterIP: "10.43.0.10", ports: [O.port("http", 80), O.port("dns", 53, protocol: "UDP")]),
        O.service("db", clusterIP: "None", ports: [O.port("pg", 5432)]),
        O.service("many", clusterIP: "None"),
        O.service("docs", clusterIP: "", type: "ExternalName", externalName: "docs.example.org"),
    ]

    static let slices: [JSONValue] = [
        O.endpointSlice(
            "db-abc", service: "db",
            endpoints: [
                O.endpoint("10.42.0.5", ready: true, hostname: "db-0"),
                O.endpoint("10.42.0.6", ready: true),
                O.endpoint("10.42.0.7", ready: false, hostname: "db-2"),
            ], ports: [O.port("pg", 5432)]),
        O.endpointSlice(
            "many-abc", service: "many",
            endpoints: (1...60).map { O.endpoint("10.42.1.\($0)", ready: true) }, ports: []),
    ]

    /// Runs `body` against a started server; `upstreams` stand in for /etc/resolv.conf.
    func withServer(
        upstreams: [SocketAddress] = [], upstreamTimeout: TimeAmount = .seconds(2),
        _ body: (Int) async throws -> Void
    ) async throws {
        let records = ClusterDNSRecords()
        records.update(services: Self.services, endpointSlices: Self.slices)
        let server = ClusterDNSServer(
            host: "127.0.0.1", port: 0, records: records, upstreams: upstreams, upstreamTimeout: upstreamTimeout)
        try await server.start()
        let port = try #require(server.port)
        do {
            try await body(port)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func addresses(_ records: [DNSResourceRecord]) -> Set<[UInt8]> {
        Set(records.compactMap { if case .address(let bytes) = $0.data { bytes } else { nil } })
    }

    @Test func clusterIPServiceAnswersItsAddress() async throws {
        try await withServer { port in
            // A client that randomises case (0x20) gets its own spelling back.
            let response = try DNSTestClient.query("Web.Default.SVC.cluster.local", .a, port: port, id: 0xBEEF)
            #expect(response.header.id == 0xBEEF)
            #expect(response.header.isResponse && response.header.authoritative)
            #expect(response.header.responseCode == .noError)
            #expect(response.questions.first?.name.labels.first == Array("Web".utf8))
            #expect(response.answers.count == 1)
            #expect(response.answers.first?.type == .a && response.answers.first?.ttl == 5)
            #expect(addresses(response.answers) == [[10, 43, 0, 10]])
            #expect(response.answers.first?.name.labels.first == Array("Web".utf8))
        }
    }

    @Test func headlessServiceAnswersReadyEndpointsAndHostnames() async throws {
        try await withServer { port in
            let service = try DNSTestClient.query("db.default.svc.cluster.local", .a, port: port)
            #expect(addresses(service.answers) == [[10, 42, 0, 5], [10, 42, 0, 6]])
            let host = try DNSTestClient.query("db-0.db.default.svc.cluster.local", .a, port: port)
            #expect(addresses(host.answers) == [[10, 42, 0, 5]])
            let dashed = try DNSTestClient.query("10-42-0-6.db.default.svc.cluster.local", .a, port: port)
            #expect(addresses(dashed.answers) == [[10, 42, 0, 6]])
            // The endpoint that is not ready has no name.
            let notReady = try DNSTestClient.query("db-2.db.default.svc.cluster.local", .a, port: port)
            #expect(notReady.header.responseCode == .nameError)
        }
    }

    @Test func srvRecordsForNamedPorts() async throws {
        try await withServer { port in
            let response = try DNSTestClient.query("_http._tcp.web.default.svc.cluster.local", .srv, port: port)
            #expect(response.header.responseCode == .noError)
            #expect(
                response.answers.map(\.data) == [
                    .service(priority: 0, weight: 100, port: 80, target: DNSName("web.default.svc.cluster.local"))
                ])
            #expect(addresses(response.additionals) == [[10, 43, 0, 10]])
            let udp = try DNSTestClient.query("_dns._udp.web.default.svc.cluster.local", .srv, port: port)
            #expect(udp.answers.count == 1)

            let headless = try DNSTestClient.query("_pg._tcp.db.default.svc.cluster.local", .srv, port: port)
            let targets = Set(
                headless.answers.compactMap { record -> String? in
                    guard case .service(0, 50, 5432, let target) = record.data else { return nil }
                    return target.key
                })
            #expect(targets == ["db-0.db.default.svc.cluster.local", "10-42-0-6.db.default.svc.cluster.local"])
            #expect(addresses(headless.additionals) == [[10, 42, 0, 5], [10, 42, 0, 6]])
        }
    }

    @Test func ptrForClusterAddresses() async throws {
        try await withServer { port in
            let service = try DNSTestClient.query("10.0.43.10.in-addr.arpa", .ptr, port: port)
            #expect(service.header.authoritative)
            #expect(service.answers.map(\.data) == [.name(DNSName("web.default.svc.cluster.local"))])
            let endpoint = try DNSTestClient.query("5.0.42.10.in-addr.arpa", .ptr, port: port)
            #expect(endpoint.answers.map(\.data) == [.name(DNSName("db-0.db.default.svc.cluster.local"))])
        }
    }

    @Test func missingNamesGetNXDOMAINWithTheSOA() async throws {
        try await withServer { port in
            let response = try DNSTestClient.query("nothere.default.svc.cluster.local", .a, port: port)
            #expect(response.header.responseCode == .nameError)
            #expect(response.header.authoritative)
            #expect(response.answers.isEmpty)
            let soa = try #require(response.authorities.first)
            #expect(soa.name == DNSName("cluster.local") && soa.type == .soa && soa.ttl == 5)
            guard
                case .authority(let primary, let mailbox, _, let refresh, let retry, let expire, let minimum) = soa.data
            else {
                Issue.record("not an SOA: \(soa.data)")
                return
            }
            #expect(primary == DNSName("ns.dns.cluster.local") && mailbox == DNSName("hostmaster.cluster.local"))
            #expect([refresh, retry, expire, minimum] == [7200, 1800, 86400, 5])

            // A name that exists without the asked type is NODATA, not NXDOMAIN; so is a namespace's node.
            let noData = try DNSTestClient.query("web.default.svc.cluster.local", .aaaa, port: port)
            #expect(noData.header.responseCode == .noError && noData.answers.isEmpty)
            #expect(noData.authorities.map(\.type) == [.soa])
            let namespace = try DNSTestClient.query("default.svc.cluster.local", .a, port: port)
            #expect(namespace.header.responseCode == .noError)
            let otherNamespace = try DNSTestClient.query("web.other.svc.cluster.local", .a, port: port)
            #expect(otherNamespace.header.responseCode == .nameError)
        }
    }

    @Test func podNamesAnswerTheirAddress() async throws {
        try await withServer { port in
            let pod = try DNSTestClient.query("10-42-0-9.default.pod.cluster.local", .a, port: port)
            #expect(addresses(pod.answers) == [[10, 42, 0, 9]])
            let bad = try DNSTestClient.query("10-42-0-999.default.pod.cluster.local", .a, port: port)
            let signed = try DNSTestClient.query("10-42-0-+9.default.pod.cluster.local", .a, port: port)
            #expect(signed.header.responseCode == .nameError)
            #expect(bad.header.responseCode == .nameError)
        }
    }

    @Test func malformedPacketsGetFORMERRAndTheServerKeepsServing() async throws {
        try await withServer { port in
            // A question name whose compression pointer points at itself.
            let loop: [UInt8] = [0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1]
            let loopReply = try DNSMessage.parse(try DNSTestClient.exchangeUDP(loop, port: port))
            #expect(loopReply.header.id == 0xABCD && loopReply.header.responseCode == .formatError)
            #expect(loopReply.questions.isEmpty)

            // Two questions.
            var two = DNSMessage(header: DNSHeader(id: 7))
            two.questions = [DNSQuestion(name: DNSName("a.b"), type: .a), DNSQuestion(name: DNSName("c.d"), type: .a)]
            let twoReply = try DNSMessage.parse(try DNSTestClient.exchangeUDP(two.encoded(), port: port))
            #expect(twoReply.header.responseCode == .formatError)

            // A name of 300 bytes (five 59-byte labels).
            var long: [UInt8] = [0, 9, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
            for _ in 0..<5 { long += [59] + [UInt8](repeating: UInt8(ascii: "a"), count: 59) }
            long += [0, 0, 1, 0, 1]
            let longReply = try DNSMessage.parse(try DNSTestClient.exchangeUDP(long, port: port))
            #expect(longReply.header.responseCode == .formatError)

            // Too short to carry an id: no answer at all.
            #expect(throws: DNSTestClient.Failure.self) {
                try DNSTestClient.exchangeUDP([1, 2, 3], port: port, timeoutMilliseconds: 300)
            }
            // Truncated mid-question.
            let cut = Array(DNSTestClient.queryBytes("web.default.svc.cluster.local", .a, id: 3).prefix(20))
            let cutReply = try DNSMessage.parse(try DNSTestClient.exchangeUDP(cut, port: port))
            #expect(cutReply.header.responseCode == .formatError)

            let after = try DNSTestClient.query("web.default.svc.cluster.local", .a, port: port)
            #expect(addresses(after.answers) == [[10, 43, 0, 10]])
        }
    }

    @Test func queryOverTCP() async throws {
        try await withServer { port in
            // Built by hand, so the query does not depend on the encoder under test.
            var query: [UInt8] = [0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
            for label in ["web", "default", "svc", "cluster", "local"] {
                query += [UInt8(label.utf8.count)] + Array(label.utf8)
            }
            query += [0, 0, 1, 0, 1]
            let reply = try DNSTestClient.exchangeTCP(query, port: port)
            // Header: id, QR|RD then RA, one question, one answer; the answer's rdata ends the message.
            #expect(Array(reply[0..<8]) == [0x42, 0x42, 0x85, 0x80, 0, 1, 0, 1])
            #expect(Array(reply.suffix(4)) == [10, 43, 0, 10])
        }
    }

    @Test func largeAnswersAreTruncatedOverUDPUnlessEDNSAllows() async throws {
        try await withServer { port in
            let name = "many.default.svc.cluster.local"
            let classic = try DNSTestClient.query(name, .a, port: port)
            #expect(classic.header.truncated && classic.answers.isEmpty)
            let edns = try DNSTestClient.query(name, .a, port: port, udpPayloadBytes: 4096)
            #expect(!edns.header.truncated && edns.answers.count == 60)
            #expect(edns.edns != nil)
            let tcp = try DNSMessage.parse(
                try DNSTestClient.exchangeTCP(DNSTestClient.queryBytes(name, .a, id: 5), port: port))
            #expect(!tcp.header.truncated && tcp.answers.count == 60)
        }
    }

    @Test func namesOutsideTheClusterAreForwarded() async throws {
        let upstream = FakeUpstreamResolver(answering: [93, 184, 216, 34])
        let address = try await upstream.start()
        try await withServer(upstreams: [address]) { port in
            let response = try DNSTestClient.query("example.com", .a, port: port, id: 0x7777)
            #expect(response.header.id == 0x7777 && response.header.responseCode == .noError)
            #expect(addresses(response.answers) == [[93, 184, 216, 34]])
            // An ExternalName Service: the CNAME, and the upstream's answer for its target.
            let external = try DNSTestClient.query("docs.default.svc.cluster.local", .a, port: port)
            #expect(external.answers.first?.data == .name(DNSName("docs.example.org")))
            #expect(addresses(external.answers) == [[93, 184, 216, 34]])
        }
        await upstream.stop()
    }

    @Test func silentUpstreamGivesSERVFAIL() async throws {
        let upstream = FakeUpstreamResolver(answering: nil)
        let address = try await upstream.start()
        try await withServer(upstreams: [address], upstreamTimeout: .milliseconds(200)) { port in
            let response = try DNSTestClient.query("example.com", .a, port: port)
            #expect(response.header.responseCode == .serverFailure)
            #expect(response.questions.first?.name == DNSName("example.com"))
        }
        await upstream.stop()
    }

    @Test func updateReplacesTheRecords() async throws {
        let records = ClusterDNSRecords(clusterDomain: "kelson.test")
        records.update(services: [O.service("a", clusterIP: "10.43.0.1")], endpointSlices: [])
        var query = DNSMessage(header: DNSHeader(id: 1))
        query.questions = [DNSQuestion(name: DNSName("a.default.svc.kelson.test"), type: .a)]
        guard case .respond(let before) = records.resolve(query) else {
            Issue.record("not answered locally")
            return
        }
        #expect(before.answers.count == 1)
        records.update(services: [], endpointSlices: [])
        guard case .respond(let after) = records.resolve(query) else {
            Issue.record("not answered locally")
            return
        }
        #expect(after.header.responseCode == .nameError)
        query.questions = [DNSQuestion(name: DNSName("a.default.svc.cluster.local"), type: .a)]
        #expect(records.resolve(query) == .forward)
    }
}
