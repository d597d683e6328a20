import NIOCore
import NIOPosix
import Testing

@testable import KubeAgent

/// The wire format on its own: parsing hostile input, compression both ways, EDNS, resolv.conf.
@Suite struct DNSMessageTests {
    @Test func parsesCompressedNamesAndEDNS() throws {
        var bytes: [UInt8] = [0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 1]
        bytes += [3] + Array("www".utf8) + [7] + Array("example".utf8) + [3] + Array("com".utf8) + [0, 0, 1, 0, 1]
        // The answer's owner points at the question's name; a CNAME's target points at "example.com" inside it.
        bytes += [0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3] + Array("cdn".utf8) + [0xC0, 16]
        // OPT: root name, type 41, payload 1400, version 0, DO set.
        bytes += [0, 0, 41, 0x05, 0x78, 0, 0, 0x80, 0, 0, 0]
        let message = try DNSMessage.parse(bytes)
        #expect(message.header.isResponse && message.header.recursionAvailable)
        #expect(message.questions == [DNSQuestion(name: DNSName("www.example.com"), type: .a)])
        #expect(message.answers.first?.name == DNSName("www.example.com"))
        #expect(message.answers.first?.data == .name(DNSName("cdn.example.com")))
        #expect(message.edns?.udpPayloadBytes == 1400 && message.edns?.dnssecOK == true)
        #expect(message.additionals.isEmpty)
        #expect(message.udpResponseBytesMaximum == 1400)
    }

    @Test func rejectsHostileNames() {
        let header: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        // Pointers that chase each other: 12 -> 14 -> 12.
        #expect(throws: DNSParseError.self) { try DNSMessage.parse(header + [0xC0, 14, 0xC0, 12, 0, 1, 0, 1]) }
        // A forward pointer.
        #expect(throws: DNSParseError.self) { try DNSMessage.parse(header + [0xC0, 40, 0, 1, 0, 1]) }
        // A label running past the end, and the reserved 0x40 label type.
        #expect(throws: DNSParseError.self) { try DNSMessage.parse(header + [10, 1, 2]) }
        #expect(throws: DNSParseError.self) { try DNSMessage.parse(header + [0x41, 0, 0, 1, 0, 1]) }
        // A counted record that is not there.
        #expect(throws: DNSParseError.self) { try DNSMessage.parse([0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]) }
        // 253 characters is the longest name: 255 bytes on the wire.
        let longest = DNSName(labels: (0..<4).map { _ in [UInt8](repeating: 97, count: 62) })
        #expect(longest.wireLength == 253)
        var query = DNSMessage(header: DNSHeader(id: 1))
        query.questions = [DNSQuestion(name: longest, type: .a)]
        #expect((try? DNSMessage.parse(query.encoded()))?.questions.first?.name == longest)
        query.questions[0].name.labels.append([1, 2, 3])
        #expect(throws: DNSParseError.self) { try DNSMessage.parse(query.encoded()) }
    }

    @Test func encodingCompressesAndRoundTrips() throws {
        var message = DNSMessage(header: DNSHeader(id: 9))
        message.header.isResponse = true
        let name = DNSName("_http._tcp.web.default.svc.cluster.local")
        message.questions = [DNSQuestion(name: name, type: .srv)]
        let target = DNSName("web.default.svc.cluster.local")
        message.answers = (0..<3).map { _ in
            DNSResourceRecord(
                name: name, type: .srv, ttl: 5, data: .service(priority: 0, weight: 33, port: 80, target: target))
        }
        message.additionals = [DNSResourceRecord(name: target, type: .a, ttl: 5, data: .address([10, 43, 0, 1]))]
        let bytes = message.encoded()
        // Owners after the question are two-byte pointers: far smaller than writing the names out.
        #expect(bytes.count < 12 + 3 * name.wireLength + 3 * 10 + 3 * target.wireLength + 4 + 20)
        #expect(try DNSMessage.parse(bytes) == message)
        let truncated = try DNSMessage.parse(message.encoded(bytesMaximum: 100))
        #expect(truncated.header.truncated && truncated.answers.isEmpty && truncated.questions == message.questions)
    }

    @Test func resolvConfUpstreamsSkipTheServersOwnAddress() {
        let text = """
            # generated
            search default.svc.cluster.local
            nameserver 10.42.0.1
            nameserver 1.1.1.1
            nameserver  2606:4700:4700::1111
            nameserver fe80::1%eth0
            options ndots:5
            """
        let upstreams = DNSForwarder.upstreams(resolvConf: text, excludingHost: "10.42.0.1")
        #expect(upstreams.map { $0.ipAddress } == ["1.1.1.1", "2606:4700:4700::1111"])
        #expect(upstreams.allSatisfy { $0.port == 53 })
    }

    @Test func reverseNames() {
        let v4: [UInt8] = [10, 43, 0, 10]
        #expect(DNSAddress.reverseName(v4).key == "10.0.43.10.in-addr.arpa")
        let v6 = DNSAddress.bytes("fd00:10:43::a")!
        let reverse = DNSAddress.reverseName(v6)
        #expect(reverse.key.hasPrefix("a.0.0.0.0.0.0.0") && reverse.key.hasSuffix("0.0.d.f.ip6.arpa"))
        #expect(reverse.labels.count == 34)
    }
}

/// The forwarder's bound on work in flight, against a real upstream that never answers.
@Suite struct DNSForwarderTests {
    @Test func forwardsBeyondTheLimitAreDropped() async throws {
        let upstream = FakeUpstreamResolver(answering: nil)
        let address = try await upstream.start()
        let forwarder = DNSForwarder(upstreams: [address], timeout: .seconds(1))
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let query = DNSTestClient.queryBytes("example.com", .a, id: 1)
        let running = (0..<DNSForwarder.inFlightMaximum).compactMap { _ in forwarder.forward(query, on: eventLoop) }
        #expect(running.count == DNSForwarder.inFlightMaximum)
        #expect(forwarder.forward(query, on: eventLoop) == nil)
        for future in running {
            await #expect(throws: DNSForwardError.self) { try await future.get() }
        }
        // Once they time out there is room again.
        let again = try #require(forwarder.forward(query, on: eventLoop))
        await #expect(throws: DNSForwardError.self) { try await again.get() }
        await upstream.stop()
    }
}
