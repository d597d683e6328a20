import Glibc

/// A pseudo-terminal pair: the master stays with the agent; the child opens the slave by path after `setsid`, so
/// the terminal becomes its controlling terminal (job control, ^C, SIGHUP on close).
struct PseudoTerminal {
    let master: CInt
    let slavePath: String

    /// `posix_openpt`, `grantpt` (nothing to do with devpts), `unlockpt` and `ptsname` as glibc does them on Linux.
    static func open() throws(SystemError) -> PseudoTerminal {
        let master = Glibc.open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw SystemError("open /dev/ptmx") }
        var unlock: CInt = 0
        var number: CUnsignedInt = 0
        guard ioctl(master, GNULibC.setPseudoTerminalLock, &unlock) == 0,
            ioctl(master, GNULibC.getPseudoTerminalNumber, &number) == 0
        else {
            let error = SystemError("ioctl /dev/ptmx")
            close(master)
            throw error
        }
        return PseudoTerminal(master: master, slavePath: "/dev/pts/\(number)")
    }

    /// Sets the window size (the kubelet applies each resize message the same way, through the runtime).
    static func resize(_ descriptor: CInt, width: UInt16, height: UInt16) {
        var size = winsize(ws_row: height, ws_col: width, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(descriptor, UInt(TIOCSWINSZ), &size)
    }
}

/// A failed system call: its name and errno's text.
struct SystemError: Error, CustomStringConvertible {
    let description: String

    init(_ call: String, errno code: CInt = errno) {
        description = "\(call): \(String(cString: strerror(code)))"
    }
}
