import Foundation
import KubeAPI
import NIOCore
import NIOPosix

@testable import KubeAgent

#if canImport(Glibc)
    import Glibc
#endif

/// A DNS client over real sockets (blocking, with a receive timeout), as a pod's stub resolver would be.
enum DNSTestClient {
    struct Failure: Error { var reason: String }

    static func query(
        _ name: String, _ type: DNSRecordType, port: Int, id: UInt16 = 0x1234, udpPayloadBytes: UInt16? = nil
    ) throws -> DNSMessage {
        try DNSMessage.parse(exchangeUDP(queryBytes(name, type, id: id, udpPayloadBytes: udpPayloadBytes), port: port))
    }

    static func queryBytes(_ name: String, _ type: DNSRecordType, id: UInt16, udpPayloadBytes: UInt16? = nil) -> [UInt8]
    {
        var query = DNSMessage(header: DNSHeader(id: id))
        query.header.recursionDesired = true
        query.questions = [DNSQuestion(name: DNSName(name), type: type)]
        if let udpPayloadBytes { query.edns = DNSExtension(udpPayloadBytes: udpPayloadBytes) }
        return query.encoded()
    }

    /// Sends one datagram to 127.0.0.1:`port` and returns the reply, or throws after `timeoutMilliseconds`.
    static func exchangeUDP(_ bytes: [UInt8], port: Int, timeoutMilliseconds: Int = 3000) throws -> [UInt8] {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(reason: "socket") }
        defer { close(socket) }
        setReceiveTimeout(socket, milliseconds: timeoutMilliseconds)
        var address = loopback(port: port)
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(socket, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard sent == bytes.count else { throw Failure(reason: "sendto") }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let received = recv(socket, &buffer, buffer.count, 0)
        guard received > 0 else { throw Failure(reason: "no reply within \(timeoutMilliseconds) ms") }
        return Array(buffer[0..<received])
    }

    /// One length-prefixed query over a TCP connection to 127.0.0.1:`port`.
    static func exchangeTCP(_ bytes: [UInt8], port: Int) throws -> [UInt8] {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(reason: "socket") }
        defer { close(socket) }
        setReceiveTimeout(socket, milliseconds: 3000)
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(reason: "connect") }
        let framed = [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
        guard send(socket, framed, framed.count, 0) == framed.count else { throw Failure(reason: "send") }
        let prefix = try readExactly(socket, 2)
        return try readExactly(socket, Int(prefix[0]) << 8 | Int(prefix[1]))
    }

    private static func readExactly(_ socket: Int32, _ count: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while result.count < count {
            let received = recv(socket, &buffer, count - result.count, 0)
            guard received > 0 else { throw Failure(reason: "connection ended after \(result.count) bytes") }
            result += buffer[0..<received]
        }
        return result
    }

    private static func setReceiveTimeout(_ socket: Int32, milliseconds: Int) {
        var timeout = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

/// A real UDP resolver on 127.0.0.1 standing in for the host's upstream: answers every A question with
/// `address`, or stays silent.
final class FakeUpstreamResolver: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let address: [UInt8]?
    private(set) var channel: (any Channel)?

    init(answering address: [UInt8]?) { self.address = address }

    func start() async throws -> SocketAddress {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(self) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.channel = channel
        return channel.localAddress!
    }

    func stop() async { try? await channel?.close() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let address, let query = try? DNSMessage.parse(Array(envelope.data.readableBytesView)),
            let question = query.questions.first
        else { return }
        var response = DNSMessage.response(to: query, code: .noError)
        response.answers = [DNSResourceRecord(name: question.name, type: .a, ttl: 300, data: .address(address))]
        let bytes = response.encoded()
        context.writeAndFlush(
            wrapOutboundOut(
                AddressedEnvelope(
                    remoteAddress: envelope.remoteAddress, data: context.channel.allocator.buffer(bytes: bytes))),
            promise: nil)
    }

    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
}

/// Services and EndpointSlices as the API server stores them.
enum DNSTestObjects {
    static func service(
        _ name: String, namespace: String = "default", clusterIP: String, ports: [JSONValue] = [],
        type: String = "ClusterIP", externalName: String? = nil
    ) -> JSONValue {
        var spec: JSONValue = ["type": .string(type), "clusterIP": .string(clusterIP), "ports": .array(ports)]
        if clusterIP != "None" { spec["clusterIPs"] = [.string(clusterIP)] }
        if let externalName { spec["externalName"] = .string(externalName) }
        return [
            "apiVersion": "v1", "kind": "Service",
            "metadata": ["name": .string(name), "namespace": .string(namespace), "uid": .string("u-\(name)")],
            "spec": spec,
        ]
    }

    static func port(_ name: String, _ port: Int64, protocol proto: String = "TCP") -> JSONValue {
        ["name": .string(name), "port": .int(port), "protocol": .string(proto), "targetPort": .int(port)]
    }

    static func endpoint(_ address: String, ready: Bool, hostname: String? = nil) -> JSONValue {
        var endpoint: JSONValue = [
            "addresses": [.string(address)],
            "conditions": ["ready": .bool(ready), "serving": .bool(ready), "terminating": false],
            "nodeName": "node-1",
        ]
        if let hostname { endpoint["hostname"] = .string(hostname) }
        return endpoint
    }

    static func endpointSlice(
        _ name: String, service: String, namespace: String = "default", endpoints: [JSONValue], ports: [JSONValue]
    ) -> JSONValue {
        [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": [
                "name": .string(name), "namespace": .string(namespace),
                "labels": [
                    "kubernetes.io/service-name": .string(service),
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                ],
            ],
            "endpoints": .array(endpoints), "ports": .array(ports),
        ]
    }
}
