import KubeAPI
import NIOCore
import NIOPosix

/// Moving bytes between a stream connection and descriptors. Every step waits for the one before: one read
/// buffer in flight per output (NIO reads no more until it is sent), one client message at a time into stdin,
/// so a slow side holds the other back instead of growing a buffer.
enum StreamPumps {
    /// Reads buffered ahead of the WebSocket, per output.
    static let backPressure = NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark(
        lowWatermark: 1, highWatermark: 4)

    /// Sends what `descriptor` yields on `channel` until its end (EOF, or EIO from a terminal whose slave side
    /// closed), the client going away, or cancellation. Takes ownership of `descriptor`.
    static func output(_ descriptor: CInt, channel: UInt8, to connection: StreamConnection) async {
        do {
            let pipe = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .takingOwnershipOfDescriptor(input: descriptor) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(backPressureStrategy: backPressure))
                    }
                }
            try await pipe.executeThenClose { inbound, _ in
                for try await buffer in inbound {
                    try await connection.send(channel: channel, Array(buffer.readableBytesView))
                }
            }
        } catch {
            // The end of the output either way; what was read has been sent.
        }
    }

    /// A channel writing into `descriptor` (the child's stdin), or nil when there is none. Each
    /// `writeAndFlush` completes once its bytes reached the descriptor, so closing after the last one loses nothing
    /// (an async writer's `finish` dropped what it still had queued: `exec -i cat` of 3 MB came back short).
    /// Takes ownership of `descriptor`.
    static func input(_ descriptor: CInt?) async -> (any Channel)? {
        guard let descriptor else { return nil }
        do {
            return try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .takingOwnershipOfDescriptor(output: descriptor).get()
        } catch {
            _ = close(descriptor)
            return nil
        }
    }
}

/// What the client sends, dispatched: stdin bytes, stdin closed (v5), terminal resizes. Messages on channels the
/// request did not open are dropped, as `wsstream` drops them.
struct ClientMessages {
    var stdin: (([UInt8]) async -> Void)?
    var closeStdin: (() async -> Void)?
    var resize: ((_ width: UInt16, _ height: UInt16) -> Void)?

    /// Reads until the client goes away (or the task is cancelled).
    func read(from connection: StreamConnection) async {
        for await message in connection.session.messages {
            guard let frame = connection.channelProtocol.unframe(message) else { continue }
            switch frame {
            case .data(ChannelProtocol.stdin, let bytes):
                await stdin?(bytes)
            case .closed(ChannelProtocol.stdin):
                await closeStdin?()
            case .data(ChannelProtocol.resize, let bytes):
                guard let size = Self.terminalSize(bytes) else { continue }
                resize?(size.width, size.height)
            default:
                continue
            }
        }
    }

    /// `remotecommand.TerminalSize` as JSON: `{"Width":80,"Height":24}`.
    static func terminalSize(_ bytes: [UInt8]) -> (width: UInt16, height: UInt16)? {
        guard let value = try? JSONValue.parse(bytes),
            let width = value["Width"]?.intValue, let height = value["Height"]?.intValue,
            let width16 = UInt16(exactly: width), let height16 = UInt16(exactly: height)
        else { return nil }
        return (width16, height16)
    }
}
