import Foundation
import Robustness
import Testing

/// The fuzzing corpus and every input that ever broke a promise (`Fuzz/Regressions`), replayed against a server
/// built the ordinary way: the same checks as `scripts/fuzz` (the server answers after every input, closes
/// half-closed connections, and a refused request leaves the revision alone), without the sanitizer build.
@Suite("fuzz corpus and regressions replayed", .serialized)
struct FuzzCorpusTests {
    /// The hand-made seeds, then the committed corpus and regressions of `target`.
    private static func inputs(_ target: String, seeds: [[UInt8]]) throws -> [(name: String, bytes: [UInt8])] {
        let root = Locations.packageRoot.appendingPathComponent("Fuzz")
        var inputs: [(String, [UInt8])] = seeds.enumerated().map { ("FuzzSeeds #\($0.offset)", $0.element) }
        for directory in ["Corpus/\(target)", "Regressions/\(target)"] {
            let url = root.appendingPathComponent(directory)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                inputs.append(("\(directory)/\(name)", Array(try Data(contentsOf: url.appendingPathComponent(name)))))
            }
        }
        return inputs
    }

    /// Runs `body` on a thread of its own: the fuzz traffic waits synchronously, as libFuzzer's callback does, and
    /// must not hold a thread of Swift's small cooperative pool while it waits.
    private static func onThread(_ body: @escaping @Sendable () -> String?) async -> String? {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    @Test("requests: random protobuf bytes for every RPC")
    func requests() async throws {
        let seeds = FuzzSeeds.requests()
        let inputs = try Self.inputs("requests", seeds: seeds)
        #expect(inputs.count >= 2 * seeds.count, "the committed corpus is missing (scripts/fuzz --seed)")
        let server = try await FuzzServer.start()
        for input in inputs {
            let failure = await Self.onThread {
                do {
                    try FuzzTraffic.sendRequest(input.bytes, client: server.client)
                    return nil
                } catch {
                    return "\(error)"
                }
            }
            if let failure { Issue.record("\(input.name): \(failure)") }
        }
        await server.stop()
    }

    @Test("connection: raw bytes on fresh TCP connections")
    func connections() async throws {
        let seeds = FuzzSeeds.connections()
        let inputs = try Self.inputs("connection", seeds: seeds)
        #expect(inputs.count >= 2 * seeds.count, "the committed corpus is missing (scripts/fuzz --seed)")
        let server = try await FuzzServer.start()
        for input in inputs {
            let failure = await Self.onThread {
                do {
                    try FuzzTraffic.checkConnection(input.bytes, server: server)
                    return nil
                } catch {
                    return "\(error)"
                }
            }
            if let failure { Issue.record("\(input.name): \(failure)") }
        }
        await server.stop()
    }
}
