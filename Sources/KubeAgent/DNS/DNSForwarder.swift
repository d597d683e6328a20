import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Why a forward produced no answer (the server then answers SERVFAIL).
struct DNSForwardError: Error {
    var reason: String
}

/// Forwards queries for names outside the cluster to the host's resolvers over UDP, as CoreDNS's `forward .
/// /etc/resolv.conf` does. Each forward uses its own socket (a fresh random source port, and no demultiplexing of
/// responses between clients) and gives an upstream 2 s; at most `upstreamsTriedMaximum` upstreams are tried in
/// turn, so a client (glibc waits 5 s) still hears SERVFAIL before it gives up. At most `inFlightMaximum` forwards
/// run at once; beyond that queries are dropped, and the client retries.
final class DNSForwarder: Sendable {
    let upstreams: [SocketAddress]
    let timeout: TimeAmount
    private let inFlight = Atomic<Int>(0)

    static let inFlightMaximum = 256
    static let upstreamsTriedMaximum = 2

    init(upstreams: [SocketAddress], timeout: TimeAmount = .seconds(2)) {
        self.upstreams = upstreams
        self.timeout = timeout
    }

    /// The `nameserver` lines of a resolv.conf, as port-53 addresses, without `excludedHost` (the DNS server's own
    /// address: forwarding to ourselves would loop).
    static func upstreams(resolvConf text: String, excludingHost excludedHost: String) -> [SocketAddress] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { return nil }
            // A link-local IPv6 address may carry a zone ("fe80::1%eth0"), which SocketAddress cannot take.
            let host = String(fields[1])
            guard host != excludedHost, !host.contains("%") else { return nil }
            return try? SocketAddress(ipAddress: host, port: 53)
        }
    }

    /// The upstreams in /etc/resolv.conf (none if it cannot be read).
    static func systemUpstreams(excludingHost excludedHost: String) -> [SocketAddress] {
        guard let text = try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8) else { return [] }
        return upstreams(resolvConf: text, excludingHost: excludedHost)
    }

    /// The upstream's response to `query` (whose first two bytes are its id), or nil when `inFlightMaximum`
    /// forwards are already running.
    func forward(_ query: [UInt8], on eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]>? {
        guard query.count >= 12 else { return eventLoop.makeFailedFuture(DNSForwardError(reason: "short query")) }
        let (_, count) = inFlight.add(1, ordering: .relaxed)
        guard count <= Self.inFlightMaximum else {
            inFlight.subtract(1, ordering: .relaxed)
            return nil
        }
        var result: EventLoopFuture<[UInt8]> = eventLoop.makeFailedFuture(
            DNSForwardError(reason: "no upstream resolvers"))
        for upstream in upstreams.prefix(Self.upstreamsTriedMaximum) {
            result = result.flatMapError { _ in self.forward(query, to: upstream, on: eventLoop) }
        }
        return result.always { _ in self.inFlight.subtract(1, ordering: .relaxed) }
    }

    private func forward(_ query: [UInt8], to upstream: SocketAddress, on eventLoop: any EventLoop) -> EventLoopFuture<
        [UInt8]
    > {
        let promise = eventLoop.makePromise(of: [UInt8].self)
        let id = UInt16(query[0]) << 8 | UInt16(query[1])
        let timeout = self.timeout
        let bootstrap = DatagramBootstrap(group: eventLoop)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65535))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UpstreamResponseHandler(upstream: upstream, id: id, promise: promise))
                }
            }
        let bindHost = upstream.protocol == .inet6 ? "::" : "0.0.0.0"
        bootstrap.bind(host: bindHost, port: 0).whenComplete { result in
            switch result {
            case .failure(let error):
                promise.fail(error)
            case .success(let channel):
                let timer = eventLoop.scheduleTask(in: timeout) {
                    promise.fail(DNSForwardError(reason: "upstream \(upstream) did not answer in time"))
                }
                promise.futureResult.whenComplete { _ in
                    timer.cancel()
                    channel.close(promise: nil)
                }
                let envelope = AddressedEnvelope(remoteAddress: upstream, data: channel.allocator.buffer(bytes: query))
                channel.writeAndFlush(envelope).whenFailure { promise.fail($0) }
            }
        }
        return promise.futureResult
    }
}

/// Completes the forward with the first datagram from the upstream that answers our id (anything else, e.g. a
/// spoofed or late packet from elsewhere, is ignored).
private final class UpstreamResponseHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let upstream: SocketAddress
    let id: UInt16
    let promise: EventLoopPromise<[UInt8]>

    init(upstream: SocketAddress, id: UInt16, promise: EventLoopPromise<[UInt8]>) {
        self.upstream = upstream
        self.id = id
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        guard envelope.remoteAddress == upstream, bytes.count >= 12, UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == id,
            bytes[2] & 0x80 != 0
        else { return }
        promise.succeed(bytes)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable arrives as a read error on a UDP socket: that upstream is down, stop waiting.
        promise.fail(error)
    }
}
