import GRPCWire
import KubeAPI
import Logging
import Testing

@testable import KubeAgent

/// Attach over a real SPDY/3.1 upgrade, to `EchoContainer` (stdin comes back upper-cased on stdout, as sent on
/// stderr; closing stdin ends its output).
@Suite("Attach over SPDY", .timeLimit(.minutes(1)))
struct SPDYAttachTests {
    @Test func attachCarriesAContainersStreams() async throws {
        let container = EchoContainer()
        let handler: @Sendable (HTTPRequest) throws(KubeError) -> HTTPResponse = { request throws(KubeError) in
            let options = try StreamOptions.parse(query: request.query, requiresCommand: false)
            return try SPDYRemoteCommand.startAttach(
                request: request, options: options, container: container, logger: Logger(label: "test"))
        }
        try await withStreamServer(handler) { port in
            let outcome = try await SPDYTestClient.with(
                port: port, target: "/attach?stdin=true&stdout=true&stderr=true",
                protocols: SPDYExecTests.kubectlProtocols
            ) { session, _ in
                var streams: [String: SPDYStream] = [:]
                for type in ["error", "stdin", "stdout", "stderr"] {
                    streams[type] = try await session.openStream(headers: SPDYHeaders([("streamType", type)]))
                }
                let (stdout, stderr, error) = (streams["stdout"]!, streams["stderr"]!, streams["error"]!)
                async let out = stdout.text()
                async let err = stderr.text()
                try await streams["stdin"]!.write(Array("hi\n".utf8))
                // The echo arrives before stdin closes (which ends the container's output).
                try await Task.sleep(for: .milliseconds(200))
                await streams["stdin"]!.closeWrite()
                let result = (await out, await err, await error.text())
                session.close()
                return [result.0, result.1, result.2]
            }
            guard case .upgraded(_, let texts) = outcome else {
                Issue.record("not upgraded: \(outcome)")
                return
            }
            #expect(texts == ["HI\n", "hi\n", SPDYExecTests.success])
        }
    }
}
