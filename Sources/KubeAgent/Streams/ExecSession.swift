import GRPCWire
import Glibc
import KubeAPI
import Logging
import NIOCore

/// `exec` as the kubelet serves it over WebSocket: answer the upgrade, run `enter + command` with the streams the
/// request asked for, carry them both ways, and when the command exits send its status on the error channel and
/// close. A client that goes away takes the command with it (SIGKILL to its process group).
public enum ExecSession {
    /// After the command exits, how long its output may still take to end: long enough for a slow client to take
    /// megabytes still in flight (2 s cut `exec -i cat` of 3 MB short), bounded because something the command started
    /// in the background can hold the pipe open (containerd would wait for it without end).
    static let outputGrace: Duration = .seconds(30)

    /// Answers the upgrade; the command starts once the connection is open. `enter` is an argv prefix that runs
    /// the rest inside the container (`nsenter --target <pid> ... --`; empty runs it in the agent's own
    /// namespaces). Refuses requests that are not WebSocket upgrades or offer no supported subprotocol.
    public static func start(
        request: HTTPRequest, options: StreamOptions, enter: [String], environment: [String: String],
        logger: Logger
    ) throws(KubeError) -> HTTPResponse {
        guard !options.command.isEmpty else { throw .badRequest("you must specify at least 1 command") }
        let (connection, response) = try StreamConnection.accept(request)
        Task {
            await run(
                connection, argv: enter + options.command, options: options, environment: environment,
                logger: logger)
        }
        return response
    }

    static func run(
        _ connection: StreamConnection, argv: [String], options: StreamOptions, environment: [String: String],
        logger: Logger
    ) async {
        guard await connection.open(options) else {
            logger.debug("exec: the WebSocket never opened", metadata: ["command": "\(options.command)"])
            return
        }
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(argv: argv, environment: environment, options: options)
        } catch {
            await connection.finish(.internalError("error executing command in container: \(error)"))
            return
        }
        logger.debug("exec started", metadata: ["pid": "\(child.pid)", "command": "\(options.command)"])
        let outputs = Task {
            await withTaskGroup(of: Void.self) { group in
                for (channel, descriptor) in child.outputs {
                    group.addTask { await StreamPumps.output(descriptor, channel: channel, to: connection) }
                }
            }
        }
        let client = Task {
            let input = InputState(pipe: await StreamPumps.input(child.stdin))
            await clientMessages(input: input, terminal: child.terminal).read(from: connection)
            await input.finish()
            // The client is gone (or the session is over): nothing may outlive it.
            child.kill()
        }
        let code = await child.waitForExit()
        let grace = Task {
            try? await Task.sleep(for: outputGrace)
            outputs.cancel()
        }
        await outputs.value
        grace.cancel()
        client.cancel()
        await client.value
        if let terminal = child.terminal { _ = close(terminal) }
        logger.debug("exec ended", metadata: ["pid": "\(child.pid)", "exitCode": "\(code)"])
        await connection.finish(code == 0 ? .success : .exited(command: options.command, code: code))
    }

    /// Stdin into `writer` (a tty's stdin closing sends ^D, the terminal's end of input, since the terminal
    /// itself stays open for output); resizes onto the terminal.
    private static func clientMessages(input: InputState, terminal: CInt?) -> ClientMessages {
        var messages = ClientMessages()
        messages.stdin = { bytes in await input.write(bytes) }
        messages.closeStdin = {
            if terminal != nil { await input.write([0x04]) } else { await input.finish() }
        }
        if let terminal {
            messages.resize = { width, height in PseudoTerminal.resize(terminal, width: width, height: height) }
        }
        return messages
    }
}

/// The child's stdin as the client reader sees it: once a write failed (the child closed its end) or the client
/// closed stdin, later bytes are dropped. Each write waits until its bytes reached the pipe.
private final class InputState: @unchecked Sendable {
    // Only touched from the one task reading the client's messages.
    private var pipe: (any Channel)?

    init(pipe: (any Channel)?) { self.pipe = pipe }

    func write(_ bytes: [UInt8]) async {
        guard let pipe, !bytes.isEmpty else { return }
        do {
            try await pipe.writeAndFlush(ByteBuffer(bytes: bytes))
        } catch {
            self.pipe = nil
            try? await pipe.close()
        }
    }

    func finish() async {
        let pipe = self.pipe
        self.pipe = nil
        try? await pipe?.close()
    }
}
