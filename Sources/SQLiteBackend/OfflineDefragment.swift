import Foundation
import Glibc
import Logging
import RevisionLog
import Synchronization

/// `kelson defrag --data-dir DIR` (etcdutl's offline defrag): rewrites a stopped server's database without its free
/// pages. Unlike the online Defragment RPC (an in-place `VACUUM` that blocks writes while it runs) it can report
/// progress: it writes a compact copy with `VACUUM INTO` next to the file, which grows towards the size of the pages
/// in use, and then renames the copy over the original. A crash before the rename leaves the original untouched
/// (and a stale copy, removed by the next run); the rename itself is atomic.
public enum OfflineDefragment {
    public struct Result: Sendable, Equatable {
        /// Database plus WAL before, and database after (there is no WAL after).
        public var bytesBefore: Int64
        public var bytesAfter: Int64
    }

    /// `progress` gets bytes written and the expected total (the pages in use), about ten times a second, from
    /// another thread. Fails without changing anything when a server (or another tool) has the file open.
    public static func run(
        path: String, progress: @escaping @Sendable (_ done: Int64, _ total: Int64) -> Void = { _, _ in }
    ) throws -> Result {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.backendFailure, "no database at \(path)")
        }
        let lock = try FileLock(path: path)
        let before = fileSize(path) + fileSize(path + "-wal")
        let copy = path + ".defrag"
        try? FileManager.default.removeItem(atPath: copy)

        var connection: SQLiteConnection? = try SQLiteConnection(path: path, readOnly: false)
        let version = try connection!.integer("PRAGMA user_version") ?? 0
        guard version >= 1, version <= Schema.currentVersion else {
            throw StoreError(.corrupt, "\(path) is not a Kelson database this version understands (schema \(version))")
        }
        // A server that crashed left writes in its log that the file does not hold yet: fold them in first.
        let logDirectory = path + "-log"
        if FileManager.default.fileExists(atPath: logDirectory) {
            try Schema.migrate(connection!)
            _ = try LogRecovery.recover(connection!, logDirectory: logDirectory, logger: Logger(label: "kelson.defrag"))
            rmdir(logDirectory)
        }
        try connection!.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        let pageSize = try connection!.integer("PRAGMA page_size") ?? 4096
        let inUse =
            try pageSize
            * ((connection!.integer("PRAGMA page_count") ?? 0)
                - (connection!.integer("PRAGMA freelist_count") ?? 0))

        let watching = Atomic(true)
        let watcherDone = DispatchSemaphore(value: 0)
        Thread {
            while watching.load(ordering: .acquiring) {
                progress(min(fileSize(copy), inUse), inUse)
                Thread.sleep(forTimeInterval: 0.1)
            }
            watcherDone.signal()
        }.start()
        // Joined before anything else reports, so the bar never moves after the final report.
        func stopWatching() {
            if watching.exchange(false, ordering: .acquiringAndReleasing) { watcherDone.wait() }
        }
        defer { stopWatching() }
        do {
            try connection!.execute("VACUUM INTO '\(copy.replacingOccurrences(of: "'", with: "''"))'")
            try synchronize(copy)
        } catch {
            stopWatching()
            try? FileManager.default.removeItem(atPath: copy)
            throw error
        }
        stopWatching()
        // The last connection to close checkpoints and removes the WAL: afterwards the original is one file.
        connection = nil
        if FileManager.default.fileExists(atPath: path + "-wal") {
            try? FileManager.default.removeItem(atPath: copy)
            throw StoreError(.backendFailure, "\(path)-wal is still there after closing; left the database as it was")
        }
        try? FileManager.default.removeItem(atPath: path + "-shm")
        // The copy was created with the umask's mode; keep the original's (0600 for a data directory).
        if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber {
            chmod(copy, mode_t(mode.uint16Value))
        }
        guard rename(copy, path) == 0 else {
            throw StoreError(.backendFailure, "cannot rename \(copy) to \(path): \(String(cString: strerror(errno)))")
        }
        try synchronize((path as NSString).deletingLastPathComponent, directory: true)
        progress(inUse, inUse)
        withExtendedLifetime(lock) {}
        return Result(bytesBefore: before, bytesAfter: fileSize(path))
    }

    private static func synchronize(_ path: String, directory: Bool = false) throws {
        let descriptor = open(path.isEmpty ? "." : path, directory ? O_RDONLY | O_DIRECTORY : O_RDWR)
        guard descriptor >= 0, fsync(descriptor) == 0 else {
            if descriptor >= 0 { close(descriptor) }
            throw StoreError(.backendFailure, "cannot fsync \(path): \(String(cString: strerror(errno)))")
        }
        close(descriptor)
    }
}

/// The size of the file at `path`; 0 when there is none.
func fileSize(_ path: String) -> Int64 {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
}
