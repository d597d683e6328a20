import Glibc
import RevisionLog
import Synchronization

// Why: a crash test that SIGKILLs the server cannot see a missing fsync, because the page cache survives the kill
// and the next process reads every byte the dead one wrote. A power cut loses what was written since the file's
// last sync. This layer records, before each write or truncate, what it replaces (an undo journal); a sync marks
// everything recorded so far as durable. After the SIGKILL, `cut` undoes every write no sync covered, which leaves
// the files as a disk could after losing power (and, with `tear`, with a torn last write).
//
// The machine itself does not lose power: the journals are written with plain write(2) and never synced, because
// SIGKILL keeps them in the page cache like the data. Each entry is written before the write it undoes, so a kill
// between the two leaves an entry that restores the bytes the file still holds.
//
// Journal format: `<path>.unsynced`, next to the file it undoes. All integers little-endian.
//   header (16 bytes):  "KPCJ", version UInt32 = 1, syncedThrough UInt64
//       syncedThrough: the journal offset where the entries not covered by a sync start (entries before it are
//       durable; `didSync` moves it with pwrite, or truncates the journal to its header when nothing follows).
//   entries, appended, each one write(2):
//       kind UInt64 (1 = write, 2 = truncate), position Int64 (write: offset; truncate: the new size),
//       length Int64 (write: bytes written; truncate: 0), oldSize Int64 (the file's size before),
//       savedLength Int64, then savedLength bytes: the file's old bytes from `position` (below the old end of file).
//   A trailing entry cut short (a kill inside write(2)) is ignored: its write never started.
// Undoing an entry: a truncate grows the file back to oldSize and restores the saved bytes; a write restores the
// saved bytes and truncates back to oldSize. Entries are undone newest first.
//
// Limits: one journal holds at most `PowerCutJournal.bytesMaximum`; a file written that much without a sync fails
// its writes (a test mode: the journal is as large as the data written since the last sync).

/// Undo journals that make a simulated power cut possible (docs in the file header: why, the journal format).
public enum SimulatedPowerCut {
    /// Environment variable: when "1", `kelson etcd` opens its files through this layer (the lead wires this).
    public static let environmentVariable = "KELSON_SIMULATE_POWER_CUT"
    /// Name of a SQLite VFS wrapping the default "unix" VFS that journals every write and truncate of the main
    /// database and its -wal file and marks them synced on xSync. Registered (idempotently, thread-safely) by
    /// `registerVFS()`.
    public static let vfsName = "kelson-power-cut"

    /// What a sync covers: the journal's length when the sync started (in one generation of the journal: a journal
    /// emptied by another sync has a new generation, and its entries were all covered already).
    public struct SyncMark: Sendable {
        let generation: UInt64
        let length: Int64
    }

    /// Registers the VFS named `vfsName` with SQLite (once; later calls do nothing). Opening a database with it
    /// fails ("no such vfs") only if SQLite has no default VFS to wrap.
    public static func registerVFS() {
        _ = powerCutVFSRegistration
    }

    /// Before a write of `length` bytes at `offset` to the open file `descriptor` (its path `path`): appends to the
    /// journal `<path>.unsynced` what the write replaces (the old bytes below the old end of file, and the old size).
    public static func willWrite(descriptor: Int32, path: String, offset: Int64, length: Int) throws(StoreError) {
        let oldSize = try size(of: descriptor, path: path)
        try PowerCutJournals.journal(for: path).record(
            .write, position: offset, length: Int64(length), oldSize: oldSize
        ) { buffer, position in readFully(descriptor, buffer, at: position) }
    }

    /// Before ftruncate of `descriptor` to `size` (records the bytes past `size` and the old size).
    public static func willTruncate(descriptor: Int32, path: String, size: Int64) throws(StoreError) {
        let oldSize = try self.size(of: descriptor, path: path)
        try PowerCutJournals.journal(for: path).record(.truncate, position: size, length: 0, oldSize: oldSize) {
            buffer, position in readFully(descriptor, buffer, at: position)
        }
    }

    /// Before an fsync/fdatasync of `path` starts: a mark of everything journalled so far.
    public static func syncStarting(path: String) -> SyncMark {
        PowerCutJournals.existingJournal(for: path)?.mark() ?? SyncMark(generation: 0, length: 0)
    }

    /// After that sync succeeded: the writes journalled before the mark are durable; later ones (made by another
    /// thread while the sync ran) are NOT (they stay in the journal).
    public static func didSync(path: String, _ mark: SyncMark) {
        PowerCutJournals.existingJournal(for: path)?.synced(mark)
    }

    /// After a file was deleted or renamed away: forget its journal.
    public static func forget(path: String) {
        PowerCutJournals.forget(path: path)
    }

    /// The power cut itself, run after the process was SIGKILLed: for every `*.unsynced` journal in `directory`,
    /// undoes, newest first, every write not covered by a sync (restores old bytes, truncates back to the old size);
    /// with `tear`, the newest unsynced write of each file keeps a random prefix of whole 512-byte sectors of its new
    /// data (a torn write). Removes the journals, also removes `*-shm` files. Returns one line per file describing
    /// what was dropped.
    public static func cut(directory: String, tear: Bool, seed: UInt64) throws -> [String] {
        try PowerCutReplay.cut(directory: directory, tear: tear, seed: seed)
    }

    private static func size(of descriptor: Int32, path: String) throws(StoreError) -> Int64 {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw StoreError(
                .backendFailure, "power-cut journal: cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        return Int64(status.st_size)
    }
}

/// Reads exactly `buffer.count` bytes at `offset` (false on an error or an early end of file).
func readFully(_ descriptor: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int64) -> Bool {
    var done = 0
    while done < buffer.count {
        let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { return false }
        done += count
    }
    return true
}

/// Writes all of `buffer` at `offset`.
func writeFully(_ descriptor: Int32, _ buffer: UnsafeRawBufferPointer, at offset: Int64) -> Bool {
    var done = 0
    while done < buffer.count {
        let count = pwrite(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { return false }
        done += count
    }
    return true
}
