import Crypto
import EtcdAPI
import EtcdServer
import Foundation
import GRPCWire
import RevisionLog
import RevisionLogTesting
import SQLiteBackend
import Testing

/// Maintenance and Cluster RPCs over real gRPC: snapshot stream format, hashes, defragment,
/// alarms, leadership and membership answers.
@Suite("Maintenance and Cluster services over gRPC")
struct MaintenanceServiceTests {
    @Test("Snapshot streams the database with etcd's SHA-256 trailer; the copy opens as a store")
    func snapshot() async throws {
        try await withServedStore { served in
            for index in 0..<300 { try await served.put("snap/\(index % 50)", String(repeating: "x", count: index)) }
            let stream = try await served.client.openStream("/etcdserverpb.Maintenance/Snapshot")
            try await stream.send(try Etcdserverpb_SnapshotRequest().serializedBytes())
            try await stream.finish()
            var file = Data()
            var messages: [Etcdserverpb_SnapshotResponse] = []
            for try await bytes in stream.responses {
                let message = try Etcdserverpb_SnapshotResponse(serializedBytes: bytes)
                messages.append(message)
                file.append(message.blob)
            }
            // etcdctl's check: total % 512 == 32, the last 32 bytes the SHA-256 of the rest.
            #expect(file.count % 512 == 32)
            let database = file.prefix(file.count - 32)
            #expect(Data(SHA256.hash(data: database)) == file.suffix(32))
            #expect(messages.dropLast().allSatisfy { $0.blob.count <= 32 * 1024 })
            #expect(messages.dropLast().last?.remainingBytes == 0)
            #expect(messages.first?.remainingBytes == UInt64(database.count - (messages.first?.blob.count ?? 0)))

            let savedPath = served.directory + "/saved.snapshot"
            try file.write(to: URL(fileURLWithPath: savedPath))
            #expect(try SnapshotFile.verify(path: savedPath, skipHashCheck: false) == database.count)
            let copyPath = served.directory + "/copy.db"
            try database.write(to: URL(fileURLWithPath: copyPath))
            let copy = try Store(
                backend: SQLiteBackend(configuration: SQLiteConfiguration(path: copyPath)), logger: conformanceLogger())
            defer { copy.close() }
            let servedHash = try await served.store.hashKV(revision: 0)
            #expect(try await copy.hashKV(revision: 0) == servedHash)

            // A damaged file is refused.
            var damaged = file
            damaged[100] ^= 0xFF
            try damaged.write(to: URL(fileURLWithPath: savedPath))
            #expect(throws: SnapshotFileError.self) { try SnapshotFile.verify(path: savedPath, skipHashCheck: false) }
            // No temporary copies are left behind.
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: served.directory)
            #expect(!leftovers.contains { $0.hasPrefix("kelson-snapshot-") }, "\(leftovers)")
        }
    }

    @Test("Hash and HashKV: deterministic, errors like etcd's")
    func hashes() async throws {
        try await withServedStore { served in
            for index in 0..<20 { try await served.put("h/\(index % 3)", "\(index)") }
            var request = Etcdserverpb_HashKVRequest()
            request.revision = 10
            let first: Etcdserverpb_HashKVResponse = try await served.unary("/etcdserverpb.Maintenance/HashKV", request)
            try await served.put("later", "x")
            let second: Etcdserverpb_HashKVResponse = try await served.unary(
                "/etcdserverpb.Maintenance/HashKV", request)
            #expect(first.hash == second.hash && first.hash != 0)
            #expect(first.hashRevision == 10 && first.compactRevision == -1)
            #expect(second.header.revision == 22, "the header carries the head revision")
            request.revision = 100
            await #expect(
                throws: GRPCStatus(
                    code: .outOfRange, message: "etcdserver: mvcc: required revision is a future revision")
            ) {
                let _: Etcdserverpb_HashKVResponse = try await served.unary("/etcdserverpb.Maintenance/HashKV", request)
            }
            let hash: Etcdserverpb_HashResponse = try await served.unary(
                "/etcdserverpb.Maintenance/Hash", Etcdserverpb_HashRequest())
            #expect(hash.header.revision == 22)
        }
    }

    @Test("Defragment shrinks the file; alarms activate, list and disarm; MoveLeader and members")
    func defragmentAlarmsLeadershipMembers() async throws {
        try await withServedStore { served in
            let value = String(repeating: "v", count: 8_000)
            for index in 0..<500 { try await served.put("big/\(index)", value) }
            _ = try await served.store.delete(DeleteRequest(range: .fromKey(Array("big/".utf8))))
            _ = try await served.store.compact(revision: served.store.revision, physical: true)
            let before: Etcdserverpb_StatusResponse = try await served.unary(
                "/etcdserverpb.Maintenance/Status", Etcdserverpb_StatusRequest())
            let _: Etcdserverpb_DefragmentResponse = try await served.unary(
                "/etcdserverpb.Maintenance/Defragment", Etcdserverpb_DefragmentRequest())
            let after: Etcdserverpb_StatusResponse = try await served.unary(
                "/etcdserverpb.Maintenance/Status", Etcdserverpb_StatusRequest())
            #expect(after.dbSize * 4 < before.dbSize, "\(before.dbSize) -> \(after.dbSize)")

            var alarm = Etcdserverpb_AlarmRequest()
            alarm.action = .activate
            alarm.memberID = 2
            alarm.alarm = .nospace
            let activated: Etcdserverpb_AlarmResponse = try await served.unary("/etcdserverpb.Maintenance/Alarm", alarm)
            #expect(activated.alarms.map(\.alarm) == [.nospace])
            alarm.action = .get
            alarm.alarm = .none
            let listed: Etcdserverpb_AlarmResponse = try await served.unary("/etcdserverpb.Maintenance/Alarm", alarm)
            #expect(listed.alarms.map(\.memberID) == [2])
            let status: Etcdserverpb_StatusResponse = try await served.unary(
                "/etcdserverpb.Maintenance/Status", Etcdserverpb_StatusRequest())
            #expect(status.errors == ["memberID:2 alarm:NOSPACE "])
            alarm.action = .deactivate
            alarm.alarm = .nospace
            let _: Etcdserverpb_AlarmResponse = try await served.unary("/etcdserverpb.Maintenance/Alarm", alarm)
            alarm.action = .get
            let empty: Etcdserverpb_AlarmResponse = try await served.unary("/etcdserverpb.Maintenance/Alarm", alarm)
            #expect(empty.alarms.isEmpty)

            var move = Etcdserverpb_MoveLeaderRequest()
            move.targetID = 2
            let _: Etcdserverpb_MoveLeaderResponse = try await served.unary(
                "/etcdserverpb.Maintenance/MoveLeader", move)
            move.targetID = 77
            await #expect(throws: GRPCStatus(code: .failedPrecondition, message: "etcdserver: bad leader transferee")) {
                let _: Etcdserverpb_MoveLeaderResponse = try await served.unary(
                    "/etcdserverpb.Maintenance/MoveLeader", move)
            }

            var add = Etcdserverpb_MemberAddRequest()
            add.peerUrls = ["http://127.0.0.1:2390"]
            do {
                let _: Etcdserverpb_MemberAddResponse = try await served.unary("/etcdserverpb.Cluster/MemberAdd", add)
                Issue.record("member add should be refused")
            } catch let status as GRPCStatus {
                #expect(status.code == .failedPrecondition)
                #expect(status.message.contains("one member per database"))
            }
            var remove = Etcdserverpb_MemberRemoveRequest()
            remove.id = 12345
            await #expect(throws: GRPCStatus(code: .notFound, message: "etcdserver: member not found")) {
                let _: Etcdserverpb_MemberRemoveResponse = try await served.unary(
                    "/etcdserverpb.Cluster/MemberRemove", remove)
            }
        }
    }
}
