import NIOCore
import NIOHTTP1
import Synchronization

/// An HTTP/1.1 upgrade to a protocol the server does not frame itself (`Upgrade: SPDY/3.1`, as kubectl's exec,
/// attach and port-forward ask for before WebSockets): answer the request with `HTTPResponse.rawUpgrade` set, and
/// the server writes `101 Switching Protocols` (with the response's headers, `Connection: Upgrade` and
/// `Upgrade: <protocol>`), takes the HTTP handlers off the connection and hands its bytes, both ways, to whoever
/// awaits `connection()`. Bounded: reads are pulled (at most a few buffers wait unread), writes wait for the
/// socket.
public final class RawUpgradeSession: Sendable {
    /// The protocol answered in `Upgrade`; the request must name it in its own `Upgrade` header.
    public let upgradeProtocol: String
    private let state = Mutex<State>(.waiting([]))

    private enum State {
        case waiting([CheckedContinuation<NIOAsyncChannel<ByteBuffer, ByteBuffer>?, Never>])
        case done(NIOAsyncChannel<ByteBuffer, ByteBuffer>?)
    }

    /// Unread buffers from the client before reading pauses.
    static let backPressure = NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark(
        lowWatermark: 2, highWatermark: 8)

    public init(upgradeProtocol: String) {
        self.upgradeProtocol = upgradeProtocol
    }

    /// The upgraded connection once the 101 is written; nil when it never will be (the request did not ask for
    /// this upgrade, came over HTTP/2, the connection failed first, or `timeout` passed: the upgrade is then
    /// refused if it comes later). Use it with `executeThenClose`.
    public func connection(timeout: Duration = .seconds(10)) async -> NIOAsyncChannel<ByteBuffer, ByteBuffer>? {
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { self.refused() }
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> NIOAsyncChannel<ByteBuffer, ByteBuffer>?? in
                switch state {
                case .waiting(var waiters):
                    waiters.append(continuation)
                    state = .waiting(waiters)
                    return nil
                case .done(let channel):
                    return .some(channel)
                }
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// The upgrade will not happen.
    func refused() { _ = finish(nil) }

    /// False when it was settled before (refused after a timeout): the caller closes the connection.
    private func finish(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>?) -> Bool {
        typealias Waiter = CheckedContinuation<NIOAsyncChannel<ByteBuffer, ByteBuffer>?, Never>
        let waiters = state.withLock { state -> [Waiter]? in
            guard case .waiting(let waiters) = state else { return nil }
            state = .done(channel)
            return waiters
        }
        waiters?.forEach { $0.resume(returning: channel) }
        return waiters != nil
    }

    /// True when `request` asks to upgrade to `upgradeProtocol` (`Connection: Upgrade`, `Upgrade: <protocol>`,
    /// compared without case as the kubelet's upgrader does).
    func isRequested(by request: HTTPRequestHead) -> Bool {
        let connection = request.headers["connection"].contains { $0.lowercased().contains("upgrade") }
        let upgrade = request.headers["upgrade"].contains { $0.lowercased().contains(upgradeProtocol.lowercased()) }
        return connection && upgrade && request.version == .http1_1
    }

    /// Writes the 101 through the HTTP encoder, then swaps the HTTP handlers (encoder, decoder, idle timer and
    /// `httpHandler`, whose context this is) for an `NIOAsyncChannel` over the raw bytes.
    func upgrade(_ context: ChannelHandlerContext, headers extra: [(name: String, value: String)]) {
        var headers = HTTPHeaders(extra.map { ($0.name, $0.value) })
        headers.replaceOrAdd(name: "Connection", value: "Upgrade")
        headers.replaceOrAdd(name: "Upgrade", value: upgradeProtocol)
        headers.remove(name: "Content-Length")
        let head = HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers)
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: written)
        let pipeline = context.pipeline
        written.futureResult.assumeIsolated().whenComplete { result in
            guard case .success = result else {
                self.refused()
                return context.close(promise: nil)
            }
            do {
                let operations = pipeline.syncOperations
                let encoder = try operations.handler(type: HTTPResponseEncoder.self)
                let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                let idle = try operations.handler(type: IdleStateHandler.self)
                operations.removeHandler(encoder, promise: nil)
                operations.removeHandler(decoder, promise: nil)
                operations.removeHandler(idle, promise: nil)
                operations.removeHandler(context: context, promise: nil)
                let channel = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                    wrappingChannelSynchronously: context.channel,
                    configuration: .init(backPressureStrategy: Self.backPressure))
                if !self.finish(channel) { context.channel.close(promise: nil) }
            } catch {
                self.refused()
                context.close(promise: nil)
            }
        }
    }
}
