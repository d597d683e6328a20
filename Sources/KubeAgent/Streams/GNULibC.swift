import Glibc

/// glibc calls Swift's Glibc module does not show (it is imported without `_GNU_SOURCE`), looked up by name, and
/// the Linux pseudo-terminal ioctls `posix_openpt`, `unlockpt` and `ptsname` are made of.
enum GNULibC {
    /// `POSIX_SPAWN_SETSID` (glibc ≥ 2.26).
    static let spawnSetSession: CInt = 0x80
    /// `TIOCGPTN` and `TIOCSPTLCK`: `_IOR('T', 0x30, unsigned int)` and `_IOW('T', 0x31, int)` (the same on
    /// x86_64 and arm64).
    static let getPseudoTerminalNumber: UInt = 0x8004_5430
    static let setPseudoTerminalLock: UInt = 0x4004_5431

    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<CInt>?, CInt) -> CInt
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, CInt) -> CInt

    private static func symbol<Function>(_ name: String, as type: Function.Type) -> Function? {
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(address, to: type)
    }

    private static let pipe2Function = symbol("pipe2", as: Pipe2.self)
    private static let addCloseFromFunction = symbol(
        "posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self)

    /// `pipe2(ends, O_CLOEXEC)`: no window in which another thread's spawn inherits the ends.
    static func pipe2(_ ends: UnsafeMutablePointer<CInt>, _ flags: CInt) -> CInt {
        guard let pipe2Function else { return -1 }
        return pipe2Function(ends, flags)
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc ≥ 2.34); false where it is missing.
    @discardableResult
    static func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: CInt) -> Bool {
        guard let addCloseFromFunction else { return false }
        return addCloseFromFunction(actions, lowest) == 0
    }
}
