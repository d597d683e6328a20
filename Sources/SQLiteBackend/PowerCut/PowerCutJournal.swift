import Glibc
import RevisionLog
import Synchronization

/// One entry of an undo journal (format in SimulatedPowerCut.swift), as read back.
struct PowerCutEntry {
    enum Kind: UInt64 {
        case write = 1
        case truncate = 2
    }
    static let headerBytes = 40
    let kind: Kind
    let position: Int64
    let length: Int64
    let oldSize: Int64
    let savedLength: Int64
    /// Where the entry starts in the journal; its saved bytes follow its header.
    let journalOffset: Int64
    var end: Int64 { journalOffset + Int64(Self.headerBytes) + savedLength }
}

/// The undo journal of one file, open for appending, and where its synced prefix ends.
final class PowerCutJournal: Sendable {
    static let headerBytes: Int64 = 16
    /// A file written this much without a sync fails its writes rather than fill the disk.
    static let bytesMaximum: Int64 = 4 << 30
    private static let magic: UInt32 = 0x4A43_504B  // "KPCJ" read as a little-endian integer
    private static let version: UInt32 = 1
    private static let generations = Atomic<UInt64>(1)

    private struct State {
        var descriptor: Int32  // -1 once forgotten
        var length: Int64
        var syncedThrough: Int64
        var generation: UInt64
    }
    private let state: Mutex<State>

    /// Opens the journal at `path`, continuing one a previous process left (a restart without a cut: its unsynced
    /// writes would still be lost by a power cut), or creates it.
    init(path: String) throws(StoreError) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.failure("cannot open", path) }
        do throws(StoreError) {
            let (storedSyncedThrough, entries) = try Self.read(descriptor: descriptor, path: path)
            var syncedThrough = storedSyncedThrough
            let length = entries.last?.end ?? Self.headerBytes
            if syncedThrough == 0 {  // a new file: write its header
                syncedThrough = Self.headerBytes
                guard Self.writeHeader(descriptor, syncedThrough: syncedThrough) else {
                    throw Self.failure("cannot write", path)
                }
            }
            // A trailing entry cut short by a kill: drop it, so that entries appended next are readable.
            guard ftruncate(descriptor, off_t(length)) == 0 else { throw Self.failure("cannot truncate", path) }
            let generation = Self.generations.add(1, ordering: .relaxed).newValue
            state = Mutex(
                State(
                    descriptor: descriptor, length: length, syncedThrough: min(syncedThrough, length),
                    generation: generation))
        } catch {
            Glibc.close(descriptor)
            throw error
        }
    }

    deinit { close() }

    /// Appends the entry for an operation about to happen; `read` fills a buffer with the file's bytes at an offset.
    func record(
        _ kind: PowerCutEntry.Kind, position: Int64, length: Int64, oldSize: Int64,
        read: (UnsafeMutableRawBufferPointer, Int64) -> Bool
    ) throws(StoreError) {
        // The old bytes below the old end of file that the operation replaces (a write) or drops (a truncate).
        let savedLength =
            kind == .write ? max(0, min(length, oldSize - position)) : max(0, oldSize - position)
        let entryBytes = PowerCutEntry.headerBytes + Int(savedLength)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: entryBytes, alignment: 8)
        defer { buffer.deallocate() }
        for (index, field) in [
            kind.rawValue, UInt64(bitPattern: position), UInt64(bitPattern: length),
            UInt64(bitPattern: oldSize), UInt64(bitPattern: savedLength),
        ].enumerated() {
            buffer.storeBytes(of: field.littleEndian, toByteOffset: index * 8, as: UInt64.self)
        }
        try state.withLock { (state: inout State) throws(StoreError) in
            guard state.descriptor >= 0 else { return }  // forgotten: the file was deleted under the writer
            guard state.length + Int64(entryBytes) <= Self.bytesMaximum else {
                throw StoreError(
                    .backendFailure,
                    "power-cut journal over \(Self.bytesMaximum) bytes: the file is written without being synced")
            }
            guard read(UnsafeMutableRawBufferPointer(rebasing: buffer[PowerCutEntry.headerBytes...]), position) else {
                throw StoreError(.backendFailure, "power-cut journal: cannot read the bytes a write replaces")
            }
            guard writeFully(state.descriptor, UnsafeRawBufferPointer(buffer), at: state.length) else {
                throw Self.failure("cannot append to", "the journal")
            }
            state.length += Int64(entryBytes)
        }
    }

    /// The journal as it stands when a sync starts.
    func mark() -> SimulatedPowerCut.SyncMark {
        state.withLock { SimulatedPowerCut.SyncMark(generation: $0.generation, length: $0.length) }
    }

    /// The entries up to `mark` are durable. When nothing was recorded after the mark the journal is emptied;
    /// otherwise its header moves. A failure leaves entries unsynced, which only makes the cut drop more.
    func synced(_ mark: SimulatedPowerCut.SyncMark) {
        state.withLock { state in
            guard state.descriptor >= 0, mark.generation == state.generation, mark.length > state.syncedThrough
            else { return }
            if mark.length == state.length {
                // The header first: a failed truncate then leaves entries unsynced, never later entries synced.
                guard Self.writeHeader(state.descriptor, syncedThrough: Self.headerBytes) else { return }
                state.syncedThrough = Self.headerBytes
                guard ftruncate(state.descriptor, off_t(Self.headerBytes)) == 0 else { return }
                state.length = Self.headerBytes
                state.generation = Self.generations.add(1, ordering: .relaxed).newValue
            } else if Self.writeHeader(state.descriptor, syncedThrough: mark.length) {
                state.syncedThrough = mark.length
            }
        }
    }

    /// Closes the journal's descriptor; later records and syncs do nothing.
    func close() {
        state.withLock { state in
            if state.descriptor >= 0 { Glibc.close(state.descriptor) }
            state.descriptor = -1
        }
    }

    /// The header's synced-through offset (0 for an empty file) and the whole entries of a journal.
    static func read(descriptor: Int32, path: String) throws(StoreError) -> (Int64, [PowerCutEntry]) {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw failure("cannot stat", path) }
        let size = Int64(status.st_size)
        guard size > 0 else { return (0, []) }
        var header = [UInt64](repeating: 0, count: 2)
        let headerRead = header.withUnsafeMutableBytes { readFully(descriptor, $0, at: 0) }
        let identity = UInt64(littleEndian: header[0])
        guard headerRead, UInt32(truncatingIfNeeded: identity) == magic, UInt32(identity >> 32) == version
        else { throw StoreError(.corrupt, "\(path) is not a power-cut journal (version \(version))") }
        var entries: [PowerCutEntry] = []
        var offset = headerBytes
        var fields = [UInt64](repeating: 0, count: 5)
        while offset + Int64(PowerCutEntry.headerBytes) <= size {
            guard fields.withUnsafeMutableBytes({ readFully(descriptor, $0, at: offset) }),
                let kind = PowerCutEntry.Kind(rawValue: UInt64(littleEndian: fields[0]))
            else { break }
            let value = { (index: Int) in Int64(bitPattern: UInt64(littleEndian: fields[index])) }
            let entry = PowerCutEntry(
                kind: kind, position: value(1), length: value(2), oldSize: value(3), savedLength: value(4),
                journalOffset: offset)
            guard entry.savedLength >= 0, entry.position >= 0, entry.oldSize >= 0, entry.end <= size else { break }
            entries.append(entry)
            offset = entry.end
        }
        return (Int64(bitPattern: UInt64(littleEndian: header[1])), entries)
    }

    private static func writeHeader(_ descriptor: Int32, syncedThrough: Int64) -> Bool {
        let header = [UInt64(magic) | UInt64(version) << 32, UInt64(bitPattern: syncedThrough)].map(\.littleEndian)
        return header.withUnsafeBytes { writeFully(descriptor, $0, at: 0) }
    }

    private static func failure(_ what: String, _ path: String) -> StoreError {
        StoreError(.backendFailure, "power-cut journal: \(what) \(path): \(String(cString: strerror(errno)))")
    }
}

/// The journals open in this process, by the path of the file they undo.
enum PowerCutJournals {
    /// Files journalled at once (each holds a descriptor).
    static let filesMaximum = 1024
    private static let table = Mutex<[String: PowerCutJournal]>([:])

    static func journalPath(of path: String) -> String { path + ".unsynced" }

    /// The journal of `path`, opened or created.
    static func journal(for path: String) throws(StoreError) -> PowerCutJournal {
        try table.withLock { (table: inout [String: PowerCutJournal]) throws(StoreError) in
            if let journal = table[path] { return journal }
            guard table.count < filesMaximum else {
                throw StoreError(.backendFailure, "power-cut journal: more than \(filesMaximum) files journalled")
            }
            let journal = try PowerCutJournal(path: journalPath(of: path))
            table[path] = journal
            return journal
        }
    }

    /// The journal of `path` when one is open or left on disk (a sync of a file never written has none).
    static func existingJournal(for path: String) -> PowerCutJournal? {
        if let journal = table.withLock({ $0[path] }) { return journal }
        guard access(journalPath(of: path), F_OK) == 0 else { return nil }
        return try? journal(for: path)
    }

    /// Closes (without removing them) the journals of files in `directory`: a cut is about to undo them.
    static func closeAll(inDirectory directory: String) {
        let prefix = directory + "/"
        let closing = table.withLock { table in
            let inside = table.filter { $0.key.hasPrefix(prefix) && !$0.key.dropFirst(prefix.count).contains("/") }
            for path in inside.keys { table[path] = nil }
            return Array(inside.values)
        }
        closing.forEach { $0.close() }
    }

    /// Drops the journal of a file deleted or renamed away.
    static func forget(path: String) {
        let journal = table.withLock { $0.removeValue(forKey: path) }
        journal?.close()
        unlink(journalPath(of: path))
    }
}
