import Foundation
import Testing

/// etcdctl 3.4 given a URL (`http://127.0.0.1:PORT`) rather than a bare address: the commands that dial each
/// endpoint by itself (`endpoint status`, `endpoint hashkv`, `defrag`) make grpc-go send that URL as :authority,
/// which an HTTP/2 server checking authority syntax resets. etcd accepts it; so must Kelson.
extension IntegrationTests {
    @Suite("etcdctl with a scheme in --endpoints")
    struct SchemeEndpointTests {
        @Test("endpoint status, endpoint hashkv, defrag and --user work with --endpoints=http://127.0.0.1:PORT")
        func urlEndpoint() throws {
            for kind in [ServerKind.etcd, ServerKind.candidate] {
                let server = try ServerProcess.launch(kind)
                defer { server.stop() }
                let url = server.clientURL
                let put = try Etcdctl.run(endpoint: url, ["put", "a", "1"])
                #expect(put.exitCode == 0, "\(server.name) put: \(put)")
                let commands: [(arguments: [String], expected: String)] = [
                    (["endpoint", "status"], url),
                    (["endpoint", "hashkv"], url),
                    (["defrag"], "Finished defragmenting etcd member[\(url)]"),
                ]
                for command in commands {
                    let result = try Etcdctl.run(endpoint: url, command.arguments)
                    #expect(
                        result.exitCode == 0 && result.stdout.contains(command.expected),
                        "\(server.name) \(command.arguments): \(result)")
                }
                // Auth with a URL endpoint too (this part also passed before the fix, which left other commands alone).
                for arguments in [["user", "add", "root", "--new-user-password=secret"], ["auth", "enable"]] {
                    let result = try Etcdctl.run(endpoint: url, arguments)
                    #expect(result.exitCode == 0, "\(server.name) \(arguments): \(result)")
                }
                let get = try Etcdctl.run(endpoint: url, ["--user", "root:secret", "get", "a", "--print-value-only"])
                #expect(get.exitCode == 0 && get.stdout == "1\n", "\(server.name) get --user: \(get)")
                server.reportIfDied()
            }
        }
    }
}
