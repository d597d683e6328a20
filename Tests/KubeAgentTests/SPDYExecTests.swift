import Foundation
import GRPCWire
import KubeAPI
import Logging
import Testing

@testable import KubeAgent

/// Exec over a real SPDY/3.1 upgrade on a real GRPCWire server, against real processes on this host, with a
/// client that opens its streams as client-go's remotecommand does (error first, then stdin, stdout, stderr).
@Suite("Exec over SPDY", .timeLimit(.minutes(2)))
struct SPDYExecTests {
    static let success = #"{"metadata":{},"status":"Success"}"#
    static let kubectlProtocols = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]

    @Sendable static func execOnHostOverSPDY(_ request: HTTPRequest) throws(KubeError) -> HTTPResponse {
        let options = try StreamOptions.parse(query: request.query, requiresCommand: true)
        return try SPDYRemoteCommand.startExec(
            request: request, options: options, enter: [], environment: ["PATH": "/usr/bin:/bin"],
            logger: Logger(label: "test"))
    }

    struct Output: Sendable {
        var stdoutBytes: [UInt8] = []
        var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
        var stderr = ""
        var error = ""
    }

    /// Opens the streams for `types`, writes `stdin` (then closes it), reads every output to its end.
    @Sendable static func run(_ session: SPDYSession, types: [String], stdin: [UInt8] = []) async throws -> Output {
        var streams: [String: SPDYStream] = [:]
        for type in types {
            streams[type] = try await session.openStream(headers: SPDYHeaders([("streamType", type)]))
        }
        // Outputs are read while stdin is written, as kubectl copies them: a command's output can hold its input.
        let (stdoutStream, stderrStream, errorStream) = (streams["stdout"], streams["stderr"], streams["error"]!)
        async let stdout = stdoutStream?.readAll(limit: 1 << 22) ?? []
        async let stderr = stderrStream?.text() ?? ""
        if let input = streams["stdin"] {
            try await input.write(stdin)
            await input.closeWrite()
        }
        let error = await errorStream.text()
        let output = Output(stdoutBytes: await stdout, stderr: await stderr, error: error)
        session.close()
        return output
    }

    @Test func commandOutputAndSuccess() async throws {
        try await withStreamServer(Self.execOnHostOverSPDY) { port in
            let target = StreamSessionTests.target(["sh", "-c", "echo $((6*7)); echo oops >&2"], "stdout=1&stderr=1")
            let outcome = try await SPDYTestClient.with(port: port, target: target, protocols: Self.kubectlProtocols) {
                session, _ in try await Self.run(session, types: ["error", "stdout", "stderr"])
            }
            guard case .upgraded(let answer, let output) = outcome else {
                Issue.record("not upgraded: \(outcome)")
                return
            }
            #expect(answer.header("X-Stream-Protocol-Version") == "v4.channel.k8s.io")
            #expect(answer.header("Upgrade") == "SPDY/3.1")
            #expect(output.stdout == "42\n")
            #expect(output.stderr == "oops\n")
            #expect(output.error == Self.success)
        }
    }

    /// More than a window each way through `cat`: both sides hold to 64 KiB windows and give them back.
    @Test func stdinThroughCatBeyondTheWindow() async throws {
        let input = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
        try await withStreamServer(Self.execOnHostOverSPDY) { port in
            let target = StreamSessionTests.target(["cat"], "stdin=1&stdout=1")
            let outcome = try await SPDYTestClient.with(port: port, target: target, protocols: Self.kubectlProtocols) {
                session, _ in try await Self.run(session, types: ["error", "stdin", "stdout"], stdin: input)
            }
            guard case .upgraded(_, let output) = outcome else {
                Issue.record("not upgraded: \(outcome)")
                return
            }
            #expect(output.stdoutBytes.count == input.count)
            let same = output.stdoutBytes == input
            #expect(same, "what came back differs from what was sent")
            #expect(output.error == Self.success)
        }
    }

    @Test func nonZeroExitAsV4StatusAndAsV3Text() async throws {
        try await withStreamServer(Self.execOnHostOverSPDY) { port in
            let target = StreamSessionTests.target(["sh", "-c", "exit 3"], "stdout=1")
            let v4 = try await SPDYTestClient.with(port: port, target: target, protocols: ["v4.channel.k8s.io"]) {
                session, _ in try await Self.run(session, types: ["error", "stdout"])
            }
            guard case .upgraded(_, let output) = v4 else {
                Issue.record("not upgraded: \(v4)")
                return
            }
            #expect(
                output.error
                    == String(
                        decoding: StreamStatus.exited(command: ["sh", "-c", "exit 3"], code: 3).object.serialized(),
                        as: UTF8.self))
            let v3 = try await SPDYTestClient.with(port: port, target: target, protocols: ["v3.channel.k8s.io"]) {
                session, _ in try await Self.run(session, types: ["error", "stdout"])
            }
            guard case .upgraded(let answer, let text) = v3 else {
                Issue.record("not upgraded: \(v3)")
                return
            }
            #expect(answer.header("X-Stream-Protocol-Version") == "v3.channel.k8s.io")
            #expect(
                text.error
                    == "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3"
            )
        }
    }

    @Test func unsupportedOrMissingProtocolsAreRefused() async throws {
        try await withStreamServer(Self.execOnHostOverSPDY) { port in
            let target = StreamSessionTests.target(["true"], "stdout=1")
            let unknown = try await SPDYTestClient.with(port: port, target: target, protocols: ["v9.channel.k8s.io"]) {
                _, _ in ()
            }
            guard case .refused(let forbidden) = unknown else {
                Issue.record("upgraded")
                return
            }
            #expect(forbidden.status == 403)
            #expect(forbidden.body.contains("unable to negotiate protocol"))
            let none = try await SPDYTestClient.with(port: port, target: target, protocols: []) { _, _ in () }
            guard case .refused(let missing) = none else {
                Issue.record("upgraded")
                return
            }
            #expect(missing.status == 400)
            #expect(missing.body.contains("X-Stream-Protocol-Version is required"))
        }
    }

    /// A client that goes away mid-command takes the command with it.
    @Test func clientGoneKillsTheCommand() async throws {
        let marker = "/tmp/spdy-exec-gone-\(getpid())"
        try? FileManager.default.removeItem(atPath: marker)
        try await withStreamServer(Self.execOnHostOverSPDY) { port in
            let target = StreamSessionTests.target(["sh", "-c", "sleep 3; touch \(marker)"], "stdout=1")
            _ = try await SPDYTestClient.with(port: port, target: target, protocols: Self.kubectlProtocols) {
                session, _ in
                _ = try await session.openStream(headers: SPDYHeaders([("streamType", "error")]))
                _ = try await session.openStream(headers: SPDYHeaders([("streamType", "stdout")]))
                try await Task.sleep(for: .milliseconds(300))
                session.close()
            }
            try await Task.sleep(for: .seconds(4))
            #expect(!FileManager.default.fileExists(atPath: marker))
        }
    }
}
