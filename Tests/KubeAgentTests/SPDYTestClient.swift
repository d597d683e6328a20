import GRPCWire
import Logging
import NIOCore
import NIOPosix

@testable import KubeAgent

/// kubectl's side of a SPDY/3.1 upgrade over a real TCP connection: the HTTP request, the response head, then a
/// client `SPDYSession` on the connection's bytes (the same framing as the server's, so flow control is kept
/// both ways: the client announces it with SETTINGS).
enum SPDYTestClient {
    struct Answer: Sendable {
        var head: String
        var body: String
        var status: Int { Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0 }
        func header(_ name: String) -> String? {
            head.split(separator: "\r\n").dropFirst().first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
        }
    }

    enum Outcome<Result: Sendable>: Sendable {
        case upgraded(Answer, Result)
        case refused(Answer)
    }

    /// Sends `method target` with the SPDY upgrade headers and `protocols` (one `X-Stream-Protocol-Version` line
    /// each, as client-go sends them); on a 101 runs `body` with the session, which must close it when done.
    static func with<Result: Sendable>(
        port: Int, method: String = "POST", target: String, protocols: [String],
        _ body: @escaping @Sendable (SPDYSession, Answer) async throws -> Result
    ) async throws -> Outcome<Result> {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var request =
                "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
            for name in protocols { request += "X-Stream-Protocol-Version: \(name)\r\n" }
            try await outbound.write(ByteBuffer(string: request + "Content-Length: 0\r\n\r\n"))
            var iterator = inbound.makeAsyncIterator()
            var buffered: [UInt8] = []
            var end: Int?
            while end == nil, let chunk = try await iterator.next() {
                buffered += chunk.readableBytesView
                end = firstIndex(of: Array("\r\n\r\n".utf8), in: buffered)
            }
            guard let end else { return .refused(Answer(head: "", body: "")) }
            var answer = Answer(head: String(decoding: buffered[..<end], as: UTF8.self), body: "")
            buffered.removeFirst(end + 4)
            guard answer.status == 101 else {
                let length = Int(answer.header("content-length") ?? "") ?? 0
                while buffered.count < length, let chunk = try await iterator.next() {
                    buffered += chunk.readableBytesView
                }
                answer.body = String(decoding: buffered.prefix(length), as: UTF8.self)
                return .refused(answer)
            }
            let underlying = channel.channel
            let session = SPDYSession(
                role: .client, logger: Logger(label: "spdy-test-client"), peerKeepsWindows: true,
                write: { bytes in try await outbound.write(ByteBuffer(bytes: bytes)) },
                close: { underlying.close(promise: nil) })
            let upgraded = answer
            let work = Task {
                try await session.sendSettings()
                return try await body(session, upgraded)
            }
            await session.run(reading: PrefixedBytes(first: buffered, next: { try await iterator.next() }))
            return .upgraded(answer, try await work.value)
        }
    }

    static func firstIndex(of pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        return (0...(bytes.count - pattern.count)).first { Array(bytes[$0..<$0 + pattern.count]) == pattern }
    }
}

/// Bytes already read, then whatever `next` yields (a connection read from before the session took it over).
struct PrefixedBytes: AsyncSequence {
    typealias Element = [UInt8]
    var first: [UInt8]
    var next: () async throws -> ByteBuffer?

    struct AsyncIterator: AsyncIteratorProtocol {
        var first: [UInt8]?
        var next: () async throws -> ByteBuffer?

        mutating func next() async throws -> [UInt8]? {
            if let first, !first.isEmpty {
                self.first = nil
                return first
            }
            first = nil
            return try await next().map { Array($0.readableBytesView) }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(first: first, next: next) }
}

/// What a test reads from a stream until the server's FIN.
extension SPDYStream {
    func text(limit: Int = 1 << 20) async -> String { String(decoding: await readAll(limit: limit), as: UTF8.self) }
}

/// An echo server on 127.0.0.1 (the host's network namespace): every byte back, and when the client half-closes,
/// the connection closes once the echo is written.
func withEchoServer<Result>(_ body: (Int) async throws -> Result) async throws -> Result {
    let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelOption(.allowRemoteHalfClosure, value: true)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(EchoHandler()) }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    do {
        let result = try await body(server.localAddress!.port!)
        try await server.close()
        return result
    } catch {
        try? await server.close()
        throw error
    }
}

final class EchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, event == .inputClosed else { return }
        context.writeAndFlush(NIOAny(ByteBuffer())).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
