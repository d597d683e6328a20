import EtcdServer
import Foundation
import RevisionLog
import SQLiteBackend

/// `kelson snapshot restore FILE --data-dir DIR`: turns a file written by `etcdctl snapshot save`
/// against Kelson (the database plus a SHA-256 trailer, see `SnapshotFile`) back into a data
/// directory. The new directory gets new member and cluster IDs on first start, and (by default) its revision
/// jumps forward and is marked compacted (`RevisionBump`), so revisions never go backwards for clients.
public enum SnapshotRestore {
    /// `progress` gets bytes copied and the total.
    public static func restore(
        snapshotPath: String, dataDirectory: String, skipHashCheck: Bool = false,
        bumpRevision: Int64 = 0, markCompacted: Bool = false,
        progress: (_ done: Int64, _ total: Int64) -> Void = { _, _ in }
    ) throws {
        let databaseSize = try SnapshotFile.verify(path: snapshotPath, skipHashCheck: skipHashCheck)
        let databasePath = dataDirectory + "/kelson.db"
        // A log without its database (a directory someone emptied by hand) would be replayed into the restored file.
        if FileManager.default.fileExists(atPath: databasePath)
            || FileManager.default.fileExists(atPath: databasePath + "-log")
        {
            throw KelsonError("data directory \(dataDirectory) already holds a database; restore into a new directory")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw KelsonError("cannot create data directory \(dataDirectory): \(error.localizedDescription)")
        }
        // Copy into a temporary name and rename, so a half-restored directory never looks complete.
        let partial = databasePath + ".restoring"
        try copyPrefix(of: snapshotPath, bytes: databaseSize, to: partial, progress: progress)
        do {
            let backend = try SQLiteBackend(configuration: SQLiteConfiguration(path: partial))
            defer { backend.close() }
            try MemberIdentity.forget(backend: backend)
            try RevisionBump.apply(to: backend, by: bumpRevision, markCompacted: markCompacted)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw KelsonError("\(snapshotPath) is not a Kelson snapshot: \(error)")
        }
        // Opening switched the copy to WAL mode; after a clean close the WAL is empty.
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: partial + suffix) }
        try FileManager.default.moveItem(atPath: partial, toPath: databasePath)
    }

    static func copyPrefix(
        of source: String, bytes: Int, to target: String,
        progress: (_ done: Int64, _ total: Int64) -> Void = { _, _ in }
    ) throws {
        guard let input = FileHandle(forReadingAtPath: source) else { throw KelsonError("cannot open \(source)") }
        defer { try? input.close() }
        guard FileManager.default.createFile(atPath: target, contents: nil, attributes: [.posixPermissions: 0o600]),
            let output = FileHandle(forWritingAtPath: target)
        else { throw KelsonError("cannot create \(target)") }
        defer { try? output.close() }
        var remaining = bytes
        while remaining > 0 {
            let chunk = try input.read(upToCount: min(remaining, 1 << 20)) ?? Data()
            if chunk.isEmpty { throw KelsonError("\(source) ended early") }
            try output.write(contentsOf: chunk)
            remaining -= chunk.count
            progress(Int64(bytes - remaining), Int64(bytes))
        }
        try output.synchronize()
    }
}
