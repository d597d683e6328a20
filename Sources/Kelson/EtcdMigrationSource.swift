import EtcdAPI
import EtcdClient
import Foundation
import GRPCWire
import RevisionLog

/// A live etcd (or Kelson) read through its v3 API over plain gRPC: a count fixes the revision, then every
/// page is a Range at that revision, so all pages come from one snapshot; leases come from LeaseLeases and
/// LeaseTimeToLive (for each lease's granted TTL).
struct EtcdMigrationSource: MigrationSource {
    let endpoint: String
    let client: EtcdClient

    static func connect(endpoint: String) async throws -> EtcdMigrationSource {
        guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]),
            (1...65535).contains(port)
        else { throw KelsonError("etcd://\(endpoint): expected etcd://host:port") }
        let host = endpoint[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard !host.isEmpty else { throw KelsonError("etcd://\(endpoint): expected etcd://host:port") }
        do {
            return EtcdMigrationSource(endpoint: endpoint, client: try await EtcdClient.connect(host: host, port: port))
        } catch {
            throw KelsonError("cannot connect to etcd at \(endpoint): \(error)")
        }
    }

    func read(
        pageSize: Int, header: (MigrationSourceHeader) throws -> Void, page: ([KeyValue]) throws -> Void
    ) async throws {
        var revision: Int64 = 0
        do {
            var count = Self.allKeys()
            count.countOnly = true
            let counted = try await client.range(count, timeout: Self.timeout)
            revision = counted.header.revision
            let (leases, warnings) = try await leaseRecords()
            try header(
                MigrationSourceHeader(revision: revision, keyCount: counted.count, leases: leases, warnings: warnings))
            var request = Self.allKeys()
            request.limit = Int64(max(pageSize, 1))
            request.revision = revision
            while true {
                let response = try await client.range(request, timeout: Self.timeout)
                let keyValues = response.kvs.map(Self.keyValue)
                if !keyValues.isEmpty { try page(keyValues) }
                guard response.more, let last = keyValues.last else { return }
                request.key = Data(last.key + [0])
            }
        } catch let status as GRPCStatus {
            if status.message.contains("compacted") {
                throw KelsonError(
                    "etcd at \(endpoint) compacted revision \(revision) while it was being read (something compacts it, e.g. kube-apiserver every 5 minutes); retry, or stop compaction during the migration"
                )
            }
            throw KelsonError("etcd at \(endpoint) answered: \(status)")
        }
    }

    func close() async { await client.close() }

    private static let timeout: Duration = .seconds(60)

    /// etcd's "every key": from "\0" with range_end "\0".
    private static func allKeys() -> Etcdserverpb_RangeRequest {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data([0])
        request.rangeEnd = Data([0])
        return request
    }

    private static func keyValue(_ kv: Mvccpb_KeyValue) -> KeyValue {
        KeyValue(
            key: [UInt8](kv.key), createRevision: kv.createRevision, modRevision: kv.modRevision, version: kv.version,
            value: [UInt8](kv.value), lease: kv.lease)
    }

    /// Every lease with its granted TTL. A lease that expires between the list and its TTL call is left out.
    private func leaseRecords() async throws -> ([LeaseRecord], [String]) {
        var records: [LeaseRecord] = []
        var expired = 0
        for status in try await client.leaseLeases(timeout: Self.timeout).leases {
            var request = Etcdserverpb_LeaseTimeToLiveRequest()
            request.id = status.id
            let answer = try await client.leaseTimeToLive(request, timeout: Self.timeout)
            if answer.ttl == -1 {
                expired += 1
                continue
            }
            records.append(LeaseRecord(id: status.id, ttl: answer.grantedTtl))
        }
        let warnings = expired == 0 ? [] : ["\(expired) lease(s) expired while they were being listed; not copied"]
        return (records, warnings)
    }
}
