import EtcdClient
import EtcdServer
import Foundation
import Logging
import RevisionLog
import SQLiteBackend

/// `kelson snapshot save` and `kelson snapshot status`: a consistent online copy of a running server, taken through
/// its Maintenance Snapshot stream (as `etcdctl snapshot save` does), and what a snapshot file holds.
///
/// A snapshot is the SQLite database as one consistent read saw it (`VACUUM INTO` while the server keeps writing),
/// followed by etcd's SHA-256 trailer. Restoring it (`kelson snapshot restore`) by default moves the revision
/// 1,000,000,000 past the snapshot's and marks it compacted (`RevisionBump`, etcdutl's `--bump-revision` and
/// `--mark-compacted`), so revisions never go back for a client that reconnects, and a watch or read resuming from
/// an older revision is told it was compacted and lists again. `--bump-revision 0 --mark-compacted false` keeps
/// the snapshot's revision, as a plain etcd restore does (documented in docs/operations.md).
public enum Snapshots {
    /// What `kelson snapshot status` reports. `hash` is etcd's HashKV at `revision` (the CRC-32C of the history
    /// that compaction keeps), so it equals `etcdctl endpoint hashkv --rev REVISION` on the server the snapshot came
    /// from, and on a server restored from it.
    public struct Status: Sendable, Equatable, Codable {
        public var hash: UInt32
        public var revision: Int64
        public var totalKey: Int64
        public var totalSize: Int64
    }

    /// Streams a snapshot of the server at `host:port` into `path` (through `path.part`, renamed once complete and
    /// its trailer checked). `progress` gets bytes received and the total expected. Refuses to overwrite a file.
    public static func save(
        host: String, port: Int, to path: String, progress: (_ done: Int64, _ total: Int64) -> Void = { _, _ in }
    ) async throws -> Int64 {
        if FileManager.default.fileExists(atPath: path) { throw KelsonError("\(path) already exists") }
        let partial = path + ".part"
        guard FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600]),
            let output = FileHandle(forWritingAtPath: partial)
        else { throw KelsonError("cannot create \(partial)") }
        var received: Int64 = 0
        do {
            let client = try await EtcdClient.connect(host: host, port: port)
            do {
                try await client.snapshot { chunk in
                    try output.write(contentsOf: chunk.blob)
                    received += Int64(chunk.blob.count)
                    progress(received, received + Int64(chunk.remainingBytes))
                }
            } catch {
                await client.close()
                throw error
            }
            await client.close()
            try output.synchronize()
            try output.close()
            // The trailer must match what arrived: a cut-off or damaged stream never becomes a snapshot file.
            _ = try SnapshotFile.verify(path: partial, skipHashCheck: false)
            try FileManager.default.moveItem(atPath: partial, toPath: path)
            return received
        } catch {
            try? output.close()
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
    }

    /// Checks the file's trailer and opens a scratch copy of its database to read the revision, the number of live
    /// keys and the HashKV at that revision. The file itself is not changed.
    public static func status(of path: String) async throws -> Status {
        let databaseSize = try SnapshotFile.verify(path: path, skipHashCheck: false)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kelson-status-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let copy = scratch.appendingPathComponent("kelson.db").path
        try SnapshotRestore.copyPrefix(of: path, bytes: databaseSize, to: copy)
        let store: Store
        do {
            let backend = try SQLiteBackend(configuration: SQLiteConfiguration(path: copy))
            store = try Store(backend: backend, logger: Logger(label: "kelson-snapshot-status"))
        } catch {
            throw KelsonError("\(path) is not a Kelson snapshot: \(error)")
        }
        defer { store.close() }
        let hash = try await Store.awaiting { store.hashKV(revision: 0, completion: $0) }
        var all = RangeRequest(range: .fromKey([0]))
        all.countOnly = true
        let count = try await Store.awaiting { store.range(all, completion: $0) }.count
        return Status(hash: hash.hash, revision: hash.revision, totalKey: count, totalSize: Int64(databaseSize))
    }
}
