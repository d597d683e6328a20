import Crypto
import Foundation

/// etcd's snapshot stream format, which `etcdctl snapshot save` writes to its file unchanged: the
/// database bytes, then the 32-byte SHA-256 of those bytes. etcdctl refuses a stream whose length
/// `n` does not satisfy `n % 512 == 32`, so the database part must be a multiple of 512 bytes
/// (a SQLite file is a whole number of pages, and pages are multiples of 512).
public enum SnapshotFile {
    /// Bytes per stream message (etcd: 32 KiB).
    static let chunkSize = 32 * 1024
    public static let digestSize = 32

    /// Splits a saved snapshot into its database part and checks the trailer. With
    /// `skipHashCheck`, a file without a trailer (a plain copy of `kelson.db`) is accepted whole.
    /// Returns how many leading bytes of the file are the database.
    public static func verify(path: String, skipHashCheck: Bool) throws -> Int {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw SnapshotFileError("cannot open snapshot file \(path)")
        }
        defer { try? handle.close() }
        let size = Int(try handle.seekToEnd())
        if size % 512 == digestSize {
            let databaseSize = size - digestSize
            try handle.seek(toOffset: 0)
            var hash = SHA256()
            var remaining = databaseSize
            while remaining > 0 {
                let chunk = try handle.read(upToCount: min(remaining, 1 << 20)) ?? Data()
                if chunk.isEmpty { throw SnapshotFileError("snapshot file \(path) ended early") }
                hash.update(data: chunk)
                remaining -= chunk.count
            }
            let trailer = try handle.read(upToCount: digestSize) ?? Data()
            if !skipHashCheck && Data(hash.finalize()) != trailer {
                throw SnapshotFileError("snapshot file \(path): SHA-256 mismatch (the file is damaged)")
            }
            return databaseSize
        }
        if skipHashCheck { return size }
        throw SnapshotFileError(
            "snapshot file \(path) has no SHA-256 trailer (expected the output of `etcdctl snapshot save`; "
                + "use --skip-hash-check for a plain copy of kelson.db)")
    }
}

public struct SnapshotFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
