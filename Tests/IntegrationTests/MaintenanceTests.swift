import Foundation
import Testing

/// `endpoint status`, `endpoint health`, `member list` and `alarm list` against etcd and Kelson.
/// IDs and sizes differ between servers, so this compares the shape and the promises, not bytes.
extension IntegrationTests {
    @Suite("etcdctl endpoint and member commands")
    struct MaintenanceTests {
        @Test("endpoint status, endpoint health, member list and alarm list")
        func maintenance() throws {
            let pair = try ServerPair()
            defer { pair.stop() }
            pair.assertSame("put", "a", "1")
            pair.assertSame("alarm", "list")
            for server in [pair.reference, pair.candidate] {
                let health = try Etcdctl.run(endpoint: server.endpoint, ["endpoint", "health"])
                #expect(health.exitCode == 0 && health.stderr.contains("is healthy"), "\(server.name): \(health)")

                let status = try Etcdctl.run(endpoint: server.endpoint, ["endpoint", "status", "-w", "json"])
                let entries = (try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8))) as? [[String: Any]]
                let response = entries?.first?["Status"] as? [String: Any]
                let header = response?["header"] as? [String: Any]
                #expect(response != nil, "\(server.name): \(status)")
                let version = response?["version"] as? String ?? ""
                let parts = version.split(separator: ".").compactMap { Int($0) }
                #expect(parts.count == 3 && (parts[0], parts[1]) >= (3, 4), "\(server.name): version \(version)")
                #expect(
                    "\(response?["leader"] ?? "")" == "\(header?["member_id"] ?? "-")", "\(server.name): leader is self"
                )
                #expect(((response?["dbSize"] as? NSNumber)?.intValue ?? 0) > 0, "\(server.name): dbSize")
                #expect(((response?["raftIndex"] as? NSNumber)?.intValue ?? 0) > 0, "\(server.name): raftIndex")

                let members = try Etcdctl.run(endpoint: server.endpoint, ["member", "list", "-w", "json"])
                let list = (try? JSONSerialization.jsonObject(with: Data(members.stdout.utf8))) as? [String: Any]
                let member = (list?["members"] as? [[String: Any]])?.first
                #expect((list?["members"] as? [Any])?.count == 1, "\(server.name): \(members)")
                #expect(member?["name"] as? String == "default", "\(server.name): member name")
                #expect((member?["clientURLs"] as? [String]) == [server.clientURL], "\(server.name): client URLs")
            }
            // Kelson reports a version Kubernetes trusts for watch progress requests (>= 3.5.13).
            let status = try Etcdctl.run(endpoint: pair.candidate.endpoint, ["endpoint", "status", "-w", "json"])
            #expect(status.stdout.contains("\"version\":\"3.6."), "\(status)")
        }
    }
}
