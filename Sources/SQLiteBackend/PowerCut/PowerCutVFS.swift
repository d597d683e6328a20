import CSQLite
import Glibc

// The SQLite VFS `SimulatedPowerCut.vfsName`: the default VFS ("unix") with every write and truncate of a main
// database or WAL file journalled first, and its syncs marked (SimulatedPowerCut.swift says why).
//
// A journalled file's sqlite3_file, in the szOsFile bytes SQLite allocates: SQLite's base struct (our io methods),
// a retained PowerCutOpenFile (the path), then the real VFS's file, to which every method forwards. Other files
// (rollback journals, temporary files) are the real VFS's file at offset 0 with the real io methods, so SQLite calls
// the real VFS directly. The -shm index is not a file SQLite opens through xOpen: the unix VFS maps it itself.
// Everything else (xAccess, xFullPathname, randomness, time, system calls) is the default VFS's own method.

/// The default VFS this one wraps (nil only if SQLite has none).
private nonisolated(unsafe) let defaultVFS: UnsafeMutablePointer<sqlite3_vfs>? = sqlite3_vfs_find(nil)

/// The VFS, registered once by the first use (Swift runs a global's initializer exactly once, thread-safely).
nonisolated(unsafe) let powerCutVFSRegistration: UnsafeMutablePointer<sqlite3_vfs>? = {
    guard let real = defaultVFS else { return nil }
    let vfs = UnsafeMutablePointer<sqlite3_vfs>.allocate(capacity: 1)  // lives as long as the process
    vfs.initialize(to: real.pointee)
    vfs.pointee.szOsFile = real.pointee.szOsFile + Int32(wrapperHeaderBytes)
    vfs.pointee.pNext = nil
    vfs.pointee.zName = UnsafePointer(strdup(SimulatedPowerCut.vfsName))
    vfs.pointee.xOpen = powerCutOpen
    vfs.pointee.xDelete = powerCutDelete
    guard sqlite3_vfs_register(vfs, 0) == SQLITE_OK else { return nil }
    return vfs
}()

// Extended result codes are macros Swift does not import: SQLITE_IOERR | (n << 8).
private let ioErrorWrite = SQLITE_IOERR | (3 << 8)
private let ioErrorTruncate = SQLITE_IOERR | (6 << 8)
private let ioErrorFstat = SQLITE_IOERR | (7 << 8)

private let wrapperHeaderBytes = MemoryLayout<sqlite3_file>.stride + MemoryLayout<UnsafeRawPointer>.stride

/// What a journalled open file knows beyond the real VFS's file.
private final class PowerCutOpenFile {
    let path: String
    init(path: String) { self.path = path }
}

private nonisolated(unsafe) let powerCutIOMethods: UnsafeMutablePointer<sqlite3_io_methods> = {
    let methods = UnsafeMutablePointer<sqlite3_io_methods>.allocate(capacity: 1)
    // Version 3 like the unix VFS's own: WAL needs the xShm methods, and xFetch/xUnfetch forward as well.
    methods.initialize(
        to: sqlite3_io_methods(
            iVersion: 3, xClose: powerCutClose, xRead: powerCutRead, xWrite: powerCutWrite,
            xTruncate: powerCutTruncate, xSync: powerCutSync, xFileSize: { real($0).xFileSize(inner($0), $1) },
            xLock: { real($0).xLock(inner($0), $1) }, xUnlock: { real($0).xUnlock(inner($0), $1) },
            xCheckReservedLock: { real($0).xCheckReservedLock(inner($0), $1) }, xFileControl: powerCutFileControl,
            xSectorSize: { real($0).xSectorSize(inner($0)) },
            xDeviceCharacteristics: { real($0).xDeviceCharacteristics(inner($0)) },
            xShmMap: { real($0).xShmMap?(inner($0), $1, $2, $3, $4) ?? SQLITE_IOERR },
            xShmLock: { real($0).xShmLock?(inner($0), $1, $2, $3) ?? SQLITE_IOERR },
            xShmBarrier: { real($0).xShmBarrier?(inner($0)) },
            xShmUnmap: { real($0).xShmUnmap?(inner($0), $1) ?? SQLITE_IOERR },
            xFetch: { file, offset, amount, pointer in
                guard let fetch = real(file).xFetch else {
                    pointer?.pointee = nil
                    return SQLITE_OK
                }
                return fetch(inner(file), offset, amount, pointer)
            },
            xUnfetch: { real($0).xUnfetch?(inner($0), $1, $2) ?? SQLITE_OK }))
    return methods
}()

private func inner(_ file: UnsafeMutablePointer<sqlite3_file>?) -> UnsafeMutablePointer<sqlite3_file> {
    (UnsafeMutableRawPointer(file!) + wrapperHeaderBytes).assumingMemoryBound(to: sqlite3_file.self)
}

private func real(_ file: UnsafeMutablePointer<sqlite3_file>?) -> sqlite3_io_methods {
    inner(file).pointee.pMethods.pointee
}

private func openFile(_ file: UnsafeMutablePointer<sqlite3_file>?) -> Unmanaged<PowerCutOpenFile> {
    let raw = UnsafeMutableRawPointer(file!).load(
        fromByteOffset: MemoryLayout<sqlite3_file>.stride, as: UnsafeRawPointer.self)
    return Unmanaged.fromOpaque(raw)
}

private func powerCutOpen(
    _ vfs: UnsafeMutablePointer<sqlite3_vfs>?, _ name: UnsafePointer<CChar>?,
    _ file: UnsafeMutablePointer<sqlite3_file>?,
    _ flags: Int32, _ outFlags: UnsafeMutablePointer<Int32>?
) -> Int32 {
    guard let real = defaultVFS, let file else { return SQLITE_ERROR }
    guard let name, flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL) != 0 else {
        return real.pointee.xOpen(real, name, file, flags, outFlags)
    }
    let status = real.pointee.xOpen(real, name, inner(file), flags, outFlags)
    guard status == SQLITE_OK else {
        // SQLite calls xClose after a failed open only when pMethods is set: close the real file here instead.
        if let methods = inner(file).pointee.pMethods { _ = methods.pointee.xClose(inner(file)) }
        file.pointee.pMethods = nil
        return status
    }
    let openFile = Unmanaged.passRetained(PowerCutOpenFile(path: String(cString: name))).toOpaque()
    UnsafeMutableRawPointer(file).storeBytes(
        of: UnsafeRawPointer(openFile), toByteOffset: MemoryLayout<sqlite3_file>.stride, as: UnsafeRawPointer.self)
    file.pointee.pMethods = UnsafePointer(powerCutIOMethods)
    return SQLITE_OK
}

/// Deleting a file (SQLite deletes its WAL on the last close) forgets its journal: nothing is left to undo.
private func powerCutDelete(
    _ vfs: UnsafeMutablePointer<sqlite3_vfs>?, _ name: UnsafePointer<CChar>?, _ syncDirectory: Int32
) -> Int32 {
    guard let real = defaultVFS else { return SQLITE_ERROR }
    if let name { SimulatedPowerCut.forget(path: String(cString: name)) }
    return real.pointee.xDelete(real, name, syncDirectory)
}

private func powerCutClose(_ file: UnsafeMutablePointer<sqlite3_file>?) -> Int32 {
    let status = real(file).xClose(inner(file))
    openFile(file).release()
    file?.pointee.pMethods = nil
    return status
}

private func powerCutRead(
    _ file: UnsafeMutablePointer<sqlite3_file>?, _ buffer: UnsafeMutableRawPointer?, _ amount: Int32,
    _ offset: sqlite3_int64
) -> Int32 {
    real(file).xRead(inner(file), buffer, amount, offset)
}

private func powerCutWrite(
    _ file: UnsafeMutablePointer<sqlite3_file>?, _ buffer: UnsafeRawPointer?, _ amount: Int32, _ offset: sqlite3_int64
) -> Int32 {
    guard record(file, .write, position: offset, length: Int64(amount)) else { return ioErrorWrite }
    return real(file).xWrite(inner(file), buffer, amount, offset)
}

private func powerCutTruncate(_ file: UnsafeMutablePointer<sqlite3_file>?, _ size: sqlite3_int64) -> Int32 {
    guard record(file, .truncate, position: size, length: 0) else { return ioErrorTruncate }
    return real(file).xTruncate(inner(file), size)
}

private func powerCutSync(_ file: UnsafeMutablePointer<sqlite3_file>?, _ flags: Int32) -> Int32 {
    let path = openFile(file).takeUnretainedValue().path
    let mark = SimulatedPowerCut.syncStarting(path: path)
    let status = real(file).xSync(inner(file), flags)
    if status == SQLITE_OK { SimulatedPowerCut.didSync(path: path, mark) }
    return status
}

/// A size hint can grow the file with ftruncate inside the unix VFS (when memory-mapped I/O is on), past xTruncate:
/// record the size first, so that a cut shrinks the file back.
private func powerCutFileControl(
    _ file: UnsafeMutablePointer<sqlite3_file>?, _ operation: Int32, _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    if operation == SQLITE_FCNTL_SIZE_HINT, let argument {
        var size: sqlite3_int64 = 0
        guard real(file).xFileSize(inner(file), &size) == SQLITE_OK else { return ioErrorFstat }
        if argument.load(as: sqlite3_int64.self) > size {
            guard record(file, .truncate, position: size, length: 0) else { return ioErrorTruncate }
        }
    }
    return real(file).xFileControl(inner(file), operation, argument)
}

/// Journals what an operation on `file` replaces, reading the old bytes through the real file.
private func record(
    _ file: UnsafeMutablePointer<sqlite3_file>?, _ kind: PowerCutEntry.Kind, position: Int64, length: Int64
) -> Bool {
    let methods = real(file)
    let realFile = inner(file)
    var oldSize: sqlite3_int64 = 0
    guard methods.xFileSize(realFile, &oldSize) == SQLITE_OK else { return false }
    do {
        try PowerCutJournals.journal(for: openFile(file).takeUnretainedValue().path).record(
            kind, position: position, length: length, oldSize: oldSize
        ) { buffer, position in
            // In pieces an Int32 can count (a truncate may drop more than 2 GiB).
            var done = 0
            while done < buffer.count {
                let piece = min(buffer.count - done, 1 << 20)
                let status = methods.xRead(realFile, buffer.baseAddress! + done, Int32(piece), position + Int64(done))
                guard status == SQLITE_OK else { return false }
                done += piece
            }
            return true
        }
        return true
    } catch {
        return false
    }
}
