import Foundation
import Glibc
import RevisionLog

/// `SimulatedPowerCut.cut`: undoes, newest first, what no sync covered (journal format in SimulatedPowerCut.swift).
enum PowerCutReplay {
    static let sectorBytes: Int64 = 512
    static let journalSuffix = ".unsynced"

    static func cut(directory: String, tear: Bool, seed: UInt64) throws(StoreError) -> [String] {
        let directory = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        // Journals this process still has open (it wrote the files itself) stop first, so nothing appends to them.
        PowerCutJournals.closeAll(inDirectory: directory)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw StoreError(.backendFailure, "power cut: cannot list \(directory): \(error)")
        }
        var lines: [String] = []
        for name in names where name.hasSuffix(journalSuffix) {
            let file = String(name.dropLast(journalSuffix.count))
            var generator = SplitMix64(seed: seed ^ stableHash(file))
            lines.append(try undo(directory: directory, file: file, tear: tear, generator: &generator))
            unlink(directory + "/" + name)
        }
        // The shared-memory index is rebuilt from the WAL by the next opener; what it held is gone with the power.
        for name in names where name.hasSuffix("-shm") { unlink(directory + "/" + name) }
        return lines
    }

    /// Undoes the unsynced entries of one file's journal; the line says what was dropped.
    private static func undo(
        directory: String, file: String, tear: Bool, generator: inout SplitMix64
    ) throws(StoreError) -> String {
        let path = directory + "/" + file
        let journal = open(path + journalSuffix, O_RDONLY | O_CLOEXEC)
        guard journal >= 0 else { throw failure("cannot open the journal of", path) }
        defer { close(journal) }
        let (syncedThrough, entries) = try PowerCutJournal.read(descriptor: journal, path: path + journalSuffix)
        let unsynced = entries.filter { $0.journalOffset >= syncedThrough }
        guard !unsynced.isEmpty else { return "\(file): nothing unsynced" }
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else {
            guard errno == ENOENT else { throw failure("cannot open", path) }
            return "\(file): deleted; its \(unsynced.count) unsynced writes and truncates dropped with it"
        }
        defer { close(descriptor) }
        let sizeBefore = try size(descriptor, path)
        let torn = tear ? tornPrefix(of: unsynced.last!, descriptor, generator: &generator) : nil
        for entry in unsynced.reversed() { try undo(entry, descriptor: descriptor, journal: journal, path: path) }
        var line =
            "\(file): undid \(unsynced.filter { $0.kind == .write }.count) writes and "
            + "\(unsynced.filter { $0.kind == .truncate }.count) truncates not synced "
            + "(\(unsynced.reduce(0) { $0 + $1.length }) bytes written)"
        if let torn, let newest = unsynced.last {
            guard torn.withUnsafeBytes({ writeFully(descriptor, $0, at: newest.position) }) else {
                throw failure("cannot write the torn write into", path)
            }
            line += "; the newest write (\(newest.length) bytes at \(newest.position)) torn after \(torn.count) bytes"
        }
        return line + ", size \(sizeBefore) → \(try size(descriptor, path))"
    }

    private static func undo(_ entry: PowerCutEntry, descriptor: Int32, journal: Int32, path: String) throws(StoreError)
    {
        let saved = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(entry.savedLength), alignment: 8)
        defer { saved.deallocate() }
        guard readFully(journal, saved, at: entry.journalOffset + Int64(PowerCutEntry.headerBytes)) else {
            throw failure("cannot read the journal of", path)
        }
        // A truncate grows the file back before its bytes return; a write's bytes return before it shrinks back.
        if entry.kind == .truncate, ftruncate(descriptor, off_t(entry.oldSize)) != 0 {
            throw failure("cannot truncate", path)
        }
        guard writeFully(descriptor, UnsafeRawBufferPointer(saved), at: entry.position),
            ftruncate(descriptor, off_t(entry.oldSize)) == 0
        else { throw failure("cannot restore", path) }
    }

    /// The bytes a torn `newest` write leaves: its new data up to a random 512-byte boundary of the file (or none,
    /// or all of it), read before the undo. Nil when the newest entry is not a write.
    private static func tornPrefix(
        of newest: PowerCutEntry, _ descriptor: Int32, generator: inout SplitMix64
    ) -> [UInt8]? {
        guard newest.kind == .write, newest.length > 0 else { return nil }
        let end = newest.position + newest.length
        let firstBoundary = (newest.position / sectorBytes + 1) * sectorBytes
        let innerBoundaries = firstBoundary < end ? (end - 1 - firstBoundary) / sectorBytes + 1 : 0
        let choice = Int64(generator.next() % UInt64(innerBoundaries + 2))  // 0: nothing kept; last: all of it
        let keptEnd =
            choice == 0 ? newest.position : choice <= innerBoundaries ? firstBoundary + (choice - 1) * sectorBytes : end
        var bytes = [UInt8](repeating: 0, count: Int(keptEnd - newest.position))
        guard bytes.withUnsafeMutableBytes({ readFully(descriptor, $0, at: newest.position) }) else { return nil }
        return bytes
    }

    private static func size(_ descriptor: Int32, _ path: String) throws(StoreError) -> Int64 {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw failure("cannot stat", path) }
        return Int64(status.st_size)
    }

    /// FNV-1a: each file tears differently under one seed, and the same way in every run.
    private static func stableHash(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    private static func failure(_ what: String, _ path: String) -> StoreError {
        StoreError(.backendFailure, "power cut: \(what) \(path): \(String(cString: strerror(errno)))")
    }
}

/// A small seeded generator (Steele, Lea and Flood's SplitMix64): the same seed tears the same way.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
