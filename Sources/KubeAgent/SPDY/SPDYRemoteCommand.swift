import GRPCWire
import Glibc
import KubeAPI
import Logging
import NIOCore
import NIOPosix

/// `exec` and `attach` over SPDY/3.1, as the kubelet serves kubectl up to 1.30 (and later ones when WebSockets are
/// refused): the same commands, environment and statuses as `ExecSession` and `AttachSession`, carried on SPDY
/// streams instead of WebSocket channels.
public enum SPDYRemoteCommand {
    /// Answers the SPDY upgrade for an exec; the command starts once the client has opened its streams. `enter`
    /// and `environment` as for `ExecSession.start`.
    public static func startExec(
        request: HTTPRequest, options: StreamOptions, enter: [String], environment: [String: String],
        logger: Logger
    ) throws(KubeError) -> HTTPResponse {
        guard !options.command.isEmpty else { throw .badRequest("you must specify at least 1 command") }
        return try start(request: request, options: options, logger: logger) { streams in
            await exec(
                streams, argv: enter + options.command, options: options, environment: environment, logger: logger)
        }
    }

    /// Answers the SPDY upgrade for an attach to `container`.
    public static func startAttach(
        request: HTTPRequest, options: StreamOptions, container: any AttachableContainer, logger: Logger
    ) throws(KubeError) -> HTTPResponse {
        try start(request: request, options: options, logger: logger) { streams in
            await attach(streams, options: options, container: container, logger: logger)
        }
    }

    /// Accepts the upgrade; once the client has opened the streams the options call for, runs `body` on them.
    private static func start(
        request: HTTPRequest, options: StreamOptions, logger: Logger,
        _ body: @escaping @Sendable (RemoteCommandStreams) async -> Void
    ) throws(KubeError) -> HTTPResponse {
        let (agreed, upgrade, response) = try SPDYUpgrade.accept(
            request, supported: RemoteCommandStreams.supported.map(\.rawValue))
        let channelProtocol = ChannelProtocol(rawValue: agreed) ?? .v1
        Task {
            await SPDYUpgrade.serve(upgrade, logger: logger) { session in
                let expected = RemoteCommandStreams.expectedCount(options, channelProtocol)
                guard
                    let streams = await RemoteCommandStreams.wait(
                        for: expected, session: session, channelProtocol: channelProtocol, logger: logger)
                else { return }
                await body(streams)
            }
        }
        return response
    }

    static func exec(
        _ streams: RemoteCommandStreams, argv: [String], options: StreamOptions, environment: [String: String],
        logger: Logger
    ) async {
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(argv: argv, environment: environment, options: options)
        } catch {
            await streams.finish(.internalError("error executing command in container: \(error)"))
            return
        }
        logger.debug("exec (SPDY) started", metadata: ["pid": "\(child.pid)", "command": "\(options.command)"])
        let outputs = Task {
            await withTaskGroup(of: Void.self) { group in
                for (channel, descriptor) in child.outputs {
                    guard let stream = channel == ChannelProtocol.stdout ? streams.stdout : streams.stderr else {
                        _ = close(descriptor)
                        continue
                    }
                    group.addTask { await SPDYPumps.output(descriptor, to: stream) }
                }
            }
        }
        let input = Task {
            await SPDYPumps.input(from: streams.stdin, to: child.stdin, terminal: child.terminal != nil)
        }
        let resizes = Task {
            guard let terminal = child.terminal else { return }
            await streams.readResizes { width, height in PseudoTerminal.resize(terminal, width: width, height: height) }
        }
        // A client that goes away takes the command with it.
        let watcher = Task {
            await streams.session.waitForEnd()
            if !Task.isCancelled { child.kill() }
        }
        let code = await child.waitForExit()
        watcher.cancel()
        let grace = Task {
            try? await Task.sleep(for: ExecSession.outputGrace)
            outputs.cancel()
        }
        await outputs.value
        grace.cancel()
        input.cancel()
        resizes.cancel()
        await input.value
        await resizes.value
        if let terminal = child.terminal { _ = close(terminal) }
        logger.debug("exec (SPDY) ended", metadata: ["pid": "\(child.pid)", "exitCode": "\(code)"])
        await streams.finish(code == 0 ? .success : .exited(command: options.command, code: code))
    }

    static func attach(
        _ streams: RemoteCommandStreams, options: StreamOptions, container: any AttachableContainer, logger: Logger
    ) async {
        let output = container.subscribeOutput()
        let forward = Task {
            for await (stream, bytes) in output {
                let channel = container.tty ? ChannelProtocol.stdout : stream
                guard let target = channel == ChannelProtocol.stdout ? streams.stdout : streams.stderr else { continue }
                do { try await target.write(bytes) } catch { return }
            }
        }
        let input = Task {
            guard let stdin = streams.stdin else { return }
            while let bytes = await stdin.read() { try? await container.writeStdin(bytes) }
            if !Task.isCancelled { await container.closeStdin() }
        }
        let resizes = Task {
            await streams.readResizes { width, height in container.resize(width: width, height: height) }
        }
        // The client left: stop forwarding (the container goes on).
        let watcher = Task {
            await streams.session.waitForEnd()
            forward.cancel()
        }
        await forward.value
        watcher.cancel()
        input.cancel()
        resizes.cancel()
        logger.debug("attach (SPDY) ended")
        await streams.finish(.success)
    }
}

/// Bytes between descriptors and SPDY streams, one buffer in flight per direction (a stream write returns once the
/// frame is written; NIO reads no more meanwhile).
enum SPDYPumps {
    /// `descriptor`'s bytes onto `stream` until EOF (or EIO from a terminal whose other side closed), then a FIN.
    /// Takes ownership of `descriptor`.
    static func output(_ descriptor: CInt, to stream: SPDYStream) async {
        do {
            let pipe = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .takingOwnershipOfDescriptor(input: descriptor) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(backPressureStrategy: StreamPumps.backPressure))
                    }
                }
            try await pipe.executeThenClose { inbound, _ in
                for try await buffer in inbound { try await stream.write(Array(buffer.readableBytesView)) }
            }
        } catch {
            // The end of the output either way.
        }
        await stream.closeWrite()
    }

    /// The client's stdin into `descriptor` until its FIN, then closes it (the child reads EOF; with a terminal, ^D
    /// is written first, since the terminal stays open for output). Each write waits until it reached the
    /// descriptor, so nothing is still queued when it closes. Takes ownership of `descriptor`.
    static func input(from stream: SPDYStream?, to descriptor: CInt?, terminal: Bool) async {
        guard let descriptor else { return }
        let pipe: any Channel
        do {
            pipe = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .takingOwnershipOfDescriptor(output: descriptor).get()
        } catch {
            _ = close(descriptor)
            return
        }
        var writing = stream != nil
        while let bytes = await stream?.read() {
            guard writing else { continue }
            do { try await pipe.writeAndFlush(ByteBuffer(bytes: bytes)) } catch { writing = false }
        }
        if writing, terminal, !Task.isCancelled { try? await pipe.writeAndFlush(ByteBuffer(bytes: [0x04])) }
        try? await pipe.close()
    }
}
