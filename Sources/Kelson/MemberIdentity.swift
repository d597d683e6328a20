import EtcdServer
import Foundation
import RevisionLog

/// The member and cluster IDs, chosen at random when a data directory is created and kept in the
/// store's metadata (under "member") so every restart reports the same IDs, as etcd does. A
/// restored snapshot gets new ones, like `etcdctl snapshot restore` gives a new cluster.
enum MemberIdentity {
    static let metadataName = "member"

    private struct Stored: Codable {
        var memberID: UInt64
        var clusterID: UInt64
    }

    /// Reads the IDs, creating them on first use. Runs before the store's committer starts, so
    /// it may write through the backend directly.
    static func loadOrCreate(backend: any LogBackend, name: String) throws -> ServerIdentity {
        let stored = try backend.write { writer -> Stored in
            if let bytes = try writer.metadata(metadataName),
                let stored = try? JSONDecoder().decode(Stored.self, from: Data(bytes))
            {
                return stored
            }
            // Never zero: etcd clients treat 0 as "no member".
            let created = Stored(
                memberID: UInt64.random(in: 1...UInt64.max), clusterID: UInt64.random(in: 1...UInt64.max))
            try writer.setMetadata(metadataName, [UInt8](try JSONEncoder().encode(created)))
            return created
        }
        return ServerIdentity(clusterID: stored.clusterID, memberID: stored.memberID, name: name)
    }

    /// Forgets the IDs (a restored snapshot must not pose as the member it was taken from).
    static func forget(backend: any LogBackend) throws {
        try backend.write { try $0.setMetadata(metadataName, nil) }
    }
}
