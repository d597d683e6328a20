import Foundation
import GRPCWire
import Glibc
import KubeAPI
import Logging
import Synchronization
import Testing

@testable import KubeAgent

/// Exec over a real WebSocket against real processes on this host.
@Suite("Exec and attach sessions", .timeLimit(.minutes(2)))
struct StreamSessionTests {
    static let success = #"{"metadata":{},"status":"Success"}"#

    /// `/exec?command=...&<flags>`.
    static func target(_ command: [String], _ flags: String) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_.~"))
        let arguments = command.map { "command=" + $0.addingPercentEncoding(withAllowedCharacters: allowed)! }
        return "/exec?" + (arguments + [flags]).joined(separator: "&")
    }

    @Test(arguments: ["v5.channel.k8s.io", "v4.channel.k8s.io"])
    func commandOutputAndSuccess(subprotocol: String) async throws {
        try await withStreamServer(execOnHost) { port in
            let target = Self.target(["sh", "-c", "echo $((6*7)); echo oops >&2"], "stdout=true&stderr=true")
            try await WebSocketTestClient.with(port: port, target: target, protocols: [subprotocol]) { client in
                #expect(client.status == 101, "\(client.head)")
                #expect(client.head.contains("Sec-WebSocket-Protocol: \(subprotocol)"), "\(client.head)")
                let first = try await client.next()
                #expect(first == .init(opcode: 0x2, payload: [1]), "the kubelet's empty stdout message comes first")
                let output = ChannelOutput(try await client.framesUntilClose())
                #expect(output.text(1) == "42\n")
                #expect(output.text(2) == "oops\n")
                #expect(output.text(3) == Self.success)
            }
        }
    }

    @Test func nonZeroExitIsReportedWithTheCode() async throws {
        try await withStreamServer(execOnHost) { port in
            let target = Self.target(["sh", "-c", "exit 3"], "stdout=1")
            try await WebSocketTestClient.with(port: port, target: target, protocols: ["v5.channel.k8s.io"]) { client in
                let output = ChannelOutput(try await client.framesUntilClose())
                #expect(
                    output.text(3)
                        == #"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: "#
                        + #"error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","#
                        + #""details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#)
            }
        }
    }

    @Test func beforeV4OnlyAFailureIsSentAsText() async throws {
        try await withStreamServer(execOnHost) { port in
            let failing = Self.target(["sh", "-c", "exit 2"], "stdout=1")
            try await WebSocketTestClient.with(port: port, target: failing, protocols: ["channel.k8s.io"]) { client in
                let output = ChannelOutput(try await client.framesUntilClose())
                #expect(
                    output.text(3)
                        == "command terminated with non-zero exit code: error executing command [sh -c exit 2], exit code 2"
                )
            }
            let fine = Self.target(["true"], "stdout=1")
            try await WebSocketTestClient.with(port: port, target: fine, protocols: []) { client in
                #expect(client.status == 101)
                #expect(!client.head.contains("Sec-WebSocket-Protocol"), "no subprotocol offered, none answered")
                let output = ChannelOutput(try await client.framesUntilClose())
                #expect(output.channels[3] == nil)
            }
        }
    }

    @Test func stdinEndsWithTheV5CloseSignal() async throws {
        try await withStreamServer(execOnHost) { port in
            let target = Self.target(["cat"], "stdin=true&stdout=true")
            try await WebSocketTestClient.with(port: port, target: target, protocols: ["v5.channel.k8s.io"]) { client in
                _ = try await client.next()
                try await client.send(binary: [0] + Array("hello\n".utf8))
                try await client.send(binary: [0] + Array("world\n".utf8))
                try await client.send(binary: [255, 0])
                let output = ChannelOutput(try await client.framesUntilClose())
                #expect(output.text(1) == "hello\nworld\n")
                #expect(output.text(3) == Self.success)
            }
        }
    }

    @Test func base64VariantCarriesTextFrames() async throws {
        try await withStreamServer(execOnHost) { port in
            let target = Self.target(["echo", "hi"], "stdout=true")
            try await WebSocketTestClient.with(port: port, target: target, protocols: ["v4.base64.channel.k8s.io"]) {
                client in
                let frames = try await client.framesUntilClose()
                let texts = frames.filter { $0.opcode == 0x1 }.map { String(decoding: $0.payload, as: UTF8.self) }
                #expect(texts.contains("1aGkK"), "\(texts)")  // "1" + base64("hi\n")
                #expect(texts.last == "3" + Data(Self.success.utf8).base64EncodedString())
            }
        }
    }

    @Test func terminalModeRunsOnAPseudoTerminalAndResizes() async throws {
        try await withStreamServer(execOnHost) { port in
            let script = "read line; tty; stty size; echo got $line"
            let target = Self.target(["sh", "-c", script], "stdin=true&stdout=true&stderr=true&tty=true")
            try await WebSocketTestClient.with(port: port, target: target, protocols: ["v5.channel.k8s.io"]) { client in
                _ = try await client.next()
                try await client.send(binary: [4] + Array(#"{"Width":100,"Height":30}"#.utf8))
                try await client.send(binary: [0] + Array("go\n".utf8))
                let output = ChannelOutput(try await client.framesUntilClose())
                let text = output.text(1)
                #expect(text.contains("/dev/pts/"), "\(text)")
                #expect(text.contains("30 100\r\n"), "\(text)")
                #expect(text.contains("got go\r\n"), "the terminal turns \\n into \\r\\n: \(text)")
                #expect(output.channels[2] == nil, "a terminal has no separate stderr")
                #expect(output.text(3) == Self.success)
            }
        }
    }

    @Test func clientGoingAwayKillsTheCommand() async throws {
        try await withStreamServer(execOnHost) { port in
            // The pid printed is a background child's: the whole process group goes, not only the leader.
            let target = Self.target(["sh", "-c", "sleep 1000 & echo $!; wait"], "stdout=true")
            let pid = try await WebSocketTestClient.with(port: port, target: target, protocols: ["v5.channel.k8s.io"]) {
                client in
                var text = ""
                while !text.hasSuffix("\n"), let frame = try await client.next() {
                    text += String(decoding: frame.payload.dropFirst(), as: UTF8.self)
                }
                await client.drop()
                return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            }
            #expect(pid > 0)
            let deadline = ContinuousClock.now + .seconds(10)
            while kill(pid, 0) == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(kill(pid, 0) != 0, "process \(pid) outlived its client")
        }
    }

    @Test func aCommandThatCannotStartIsAnInternalError() async throws {
        try await withStreamServer(execOnHost) { port in
            let target = Self.target(["/nonexistent/command"], "stdout=true")
            try await WebSocketTestClient.with(port: port, target: target, protocols: ["v5.channel.k8s.io"]) { client in
                let output = ChannelOutput(try await client.framesUntilClose())
                let status = try JSONValue.parse(output.channels[3] ?? [])
                #expect(status["reason"]?.stringValue == "InternalError")
                #expect(status["code"]?.intValue == 500)
                let message = status["message"]?.stringValue ?? ""
                #expect(
                    message.hasPrefix("Internal error occurred: error executing command in container: "), "\(message)")
            }
        }
    }

    @Test func badRequestsAreRefusedBeforeTheUpgrade() async throws {
        try await withStreamServer(execOnHost) { port in
            let noStreams = Self.target(["true"], "tty=false")
            try await WebSocketTestClient.with(port: port, target: noStreams, protocols: ["v5.channel.k8s.io"]) {
                client in
                #expect(client.status == 400)
                let body = try await client.body()
                #expect(body.contains("you must specify at least 1 of stdin, stdout, stderr"), "\(body)")
            }
            try await WebSocketTestClient.with(port: port, target: "/exec?stdout=true", protocols: []) { client in
                #expect(client.status == 400)
                let body = try await client.body()
                #expect(body.contains("you must specify at least 1 command"), "\(body)")
            }
            let fine = Self.target(["true"], "stdout=true")
            try await WebSocketTestClient.with(port: port, target: fine, protocols: ["v9.channel.k8s.io"]) { client in
                #expect(client.status == 403)
                let body = try await client.body()
                #expect(body.contains("requested protocol(s) are not supported"), "\(body)")
            }
        }
    }

    @Test func optionsAreParsedAsTheKubeletDoes() throws {
        let options = try StreamOptions.parse(
            query: "command=ls&command=-l%20a&container=web&stdin=1&stdout=true&stderr=true&tty=true",
            requiresCommand: true)
        #expect(
            options == StreamOptions(command: ["ls", "-l a"], container: "web", stdin: true, stdout: true, tty: true))
        #expect(throws: KubeError.badRequest("strconv.ParseBool: parsing \"yes\": invalid syntax")) {
            try StreamOptions.parse(query: "command=ls&stdout=yes", requiresCommand: true)
        }
        let attach = try StreamOptions.parse(query: "stdout=true", requiresCommand: false)
        #expect(attach.command.isEmpty && attach.container == nil)
    }

    @Test func negotiationFollowsTheClientsOrder() {
        #expect(ChannelProtocol.negotiate(offered: ["v5.channel.k8s.io", "v4.channel.k8s.io"])?.channelProtocol == .v5)
        #expect(ChannelProtocol.negotiate(offered: ["x", "v4.channel.k8s.io"])?.subprotocol == "v4.channel.k8s.io")
        #expect(ChannelProtocol.negotiate(offered: []) == .init(channelProtocol: .v1, subprotocol: nil))
        #expect(ChannelProtocol.negotiate(offered: ["x"]) == nil)
        #expect(ChannelProtocol.v4.unframe(.binary([255, 0])) == .data(channel: 255, [0]), "close is v5 only")
        #expect(ChannelProtocol.v5.unframe(.binary([255, 0])) == .closed(channel: 0))
    }

    @Test func attachCarriesAContainersStreams() async throws {
        let container = EchoContainer()
        let handler: @Sendable (HTTPRequest) throws(KubeError) -> HTTPResponse = { request throws(KubeError) in
            let options = try StreamOptions.parse(query: request.query, requiresCommand: false)
            return try AttachSession.start(
                request: request, options: options, container: container, logger: Logger(label: "test"))
        }
        try await withStreamServer(handler) { port in
            let target = "/attach?stdin=true&stdout=true&stderr=true"
            try await WebSocketTestClient.with(port: port, target: target, protocols: ["v5.channel.k8s.io"]) { client in
                _ = try await client.next()
                try await client.send(binary: [0] + Array("abc".utf8))
                try await client.send(binary: [255, 0])
                let output = ChannelOutput(try await client.framesUntilClose())
                #expect(output.text(1) == "ABC")
                #expect(output.text(2) == "abc")
                #expect(output.text(3) == Self.success)
            }
        }
    }
}

/// A container whose stdin comes back upper-cased on stdout and as-is on stderr; closing stdin ends it.
final class EchoContainer: AttachableContainer {
    private let subscribers = Mutex<[AsyncStream<(stream: UInt8, bytes: [UInt8])>.Continuation]>([])
    var tty: Bool { false }

    func subscribeOutput() -> AsyncStream<(stream: UInt8, bytes: [UInt8])> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: (stream: UInt8, bytes: [UInt8]).self, bufferingPolicy: .bufferingOldest(64))
        subscribers.withLock { $0.append(continuation) }
        return stream
    }

    func writeStdin(_ bytes: [UInt8]) async throws {
        let upper = Array(String(decoding: bytes, as: UTF8.self).uppercased().utf8)
        for subscriber in subscribers.withLock({ $0 }) {
            subscriber.yield((1, upper))
            subscriber.yield((2, bytes))
        }
    }

    func closeStdin() async {
        for subscriber in subscribers.withLock({ $0 }) { subscriber.finish() }
    }
}
