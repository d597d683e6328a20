import EtcdAPI
import Foundation
import GRPCWire
import Testing

/// etcd's HTTP endpoints on the client URL, which share the port with gRPC, compared with curl against etcd 3.4;
/// and the watch progress flag, checked on the wire with Kelson's own client (etcdctl 3.4 cannot ask for
/// progress notifications).
extension IntegrationTests {
    @Suite("HTTP /health and /version on the client URL")
    struct HealthTests {
        @Test("/health, an unknown path and a POST answer exactly like etcd; /version has etcd's shape")
        func healthLikeEtcd() throws {
            let pair = try ServerPair()
            defer { pair.stop() }
            pair.assertSame("put", "a", "1")  // gRPC on the same port, before and after
            let requests: [[String]] = [
                ["/health"], ["/health?exclude=NOSPACE"], ["/nope"], ["-X", "POST", "/health"],
            ]
            for request in requests {
                let path = request.last!
                let flags = Array(request.dropLast())
                let expected = try Curl.run(flags + [pair.reference.clientURL + path])
                let actual = try Curl.run(flags + [pair.candidate.clientURL + path])
                #expect(expected.statusCode != 0, "etcd: \(expected)")
                #expect(actual.statusCode == expected.statusCode, "\(request)\netcd: \(expected)\nkelson: \(actual)")
                #expect(actual.body == expected.body, "\(request)\netcd: \(expected)\nkelson: \(actual)")
                for header in ["content-type", "allow", "x-content-type-options"] {
                    #expect(actual.headers[header] == expected.headers[header], "\(request) \(header)")
                }
            }
            let health = try Curl.run([pair.candidate.clientURL + "/health"])
            #expect(health.statusCode == 200 && health.body == #"{"health":"true"}"#, "\(health)")
            // etcd 3.6's probes (the 3.4 reference has none; a NOSPACE store is covered in QuotaTests).
            for probe in ["/readyz", "/livez"] {
                let answer = try Curl.run([pair.candidate.clientURL + probe])
                #expect(answer.statusCode == 200 && answer.body == #"{"health":"true"}"#, "\(probe): \(answer)")
                let posted = try Curl.run(["-X", "POST", pair.candidate.clientURL + probe])
                #expect(posted.statusCode == 405 && posted.headers["allow"] == "GET", "\(probe): \(posted)")
            }

            let expected = try Curl.run([pair.reference.clientURL + "/version"])
            let actual = try Curl.run([pair.candidate.clientURL + "/version"])
            let keys = { (result: CurlResult) in
                ((try? JSONSerialization.jsonObject(with: Data(result.body.utf8))) as? [String: String]).map {
                    Set($0.keys)
                }
            }
            #expect(expected.statusCode == 200 && actual.statusCode == 200, "etcd: \(expected)\nkelson: \(actual)")
            #expect(keys(actual) == keys(expected) && keys(expected) == ["etcdserver", "etcdcluster"], "\(actual)")
            #expect(actual.headers["content-type"] == expected.headers["content-type"])
            #expect(actual.body == #"{"etcdserver":"3.6.0","etcdcluster":"3.6.0"}"#, "\(actual)")
            pair.assertSame("get", "a")
        }
    }

    @Suite("--experimental-watch-progress-notify-interval")
    struct WatchProgressFlagTests {
        @Test("a progress_notify watcher gets empty progress responses at the configured interval")
        func progressNotifyInterval() async throws {
            var options = ServerOptions()
            options.extraArguments = ["--experimental-watch-progress-notify-interval", "500ms"]
            let pair = try ServerPair(options: options)
            defer { pair.stop() }
            // Kelson also takes the name without "experimental-" (etcd 3.5+), with any Go duration.
            let alias = try ServerProcess.launch(
                .kelson, options: ServerOptions(extraArguments: ["--watch-progress-notify-interval", "0.5s"]))
            defer { alias.stop() }
            for server in [pair.reference, pair.candidate, alias] {
                // With the default (10 min) nothing would arrive before the call's 15 s deadline.
                let progress = try await firstProgressNotification(server)
                #expect(progress.events.isEmpty && !progress.created && !progress.canceled, "\(server.name)")
                #expect(progress.header.revision == 1, "\(server.name): \(progress)")
            }
        }

        private func firstProgressNotification(_ server: ServerProcess) async throws -> Etcdserverpb_WatchResponse {
            let client = try await GRPCClient.connect(
                GRPCClientConfiguration(host: "127.0.0.1", port: server.clientPort))
            do {
                let stream = try await client.openStream("/etcdserverpb.Watch/Watch", timeout: .seconds(15))
                var create = Etcdserverpb_WatchCreateRequest()
                create.key = Data("progress".utf8)
                create.progressNotify = true
                var request = Etcdserverpb_WatchRequest()
                request.createRequest = create
                try await stream.send(try request.serializedBytes())
                var responses = stream.responses.makeAsyncIterator()
                let created = try await responses.next().map { try Etcdserverpb_WatchResponse(serializedBytes: $0) }
                #expect(created?.created == true, "\(server.name): \(String(describing: created))")
                guard let bytes = try await responses.next() else {
                    throw HarnessError("\(server.name): watch stream ended without a progress notification")
                }
                stream.cancel()
                await client.close()
                return try Etcdserverpb_WatchResponse(serializedBytes: bytes)
            } catch {
                await client.close()
                throw error
            }
        }
    }
}
