import Glibc
import RevisionLog

/// The two system calls that decide durability, behind one seam: `SystemLogIO` makes them; a test wraps it to count
/// syncs, and the power-cut simulation (`PowerCutLogIO`) journals what each write replaced so a simulated power cut can
/// take back everything not synced.
public protocol LogFileIO: Sendable {
    /// Writes all of `bytes` at `offset` of the open file `descriptor` (whose path is `path`).
    func write(_ descriptor: Int32, path: String, bytes: UnsafeRawBufferPointer, at offset: Int64) throws(StoreError)
    /// fdatasync: every write to `path` that returned before this call began is durable when it returns.
    func sync(_ descriptor: Int32, path: String) throws(StoreError)
    /// After `path` was renamed to `target` or deleted (`target` nil).
    func didMove(_ path: String, to target: String?)
}

extension LogFileIO {
    public func didMove(_ path: String, to target: String?) {}
}

/// The real system calls.
public struct SystemLogIO: LogFileIO {
    public init() {}

    public func write(_ descriptor: Int32, path: String, bytes: UnsafeRawBufferPointer, at offset: Int64)
        throws(StoreError)
    {
        var done = 0
        while done < bytes.count {
            let written = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if written < 0 {
                if errno == EINTR { continue }
                throw StoreError(.backendFailure, "write to \(path) failed: \(String(cString: strerror(errno)))")
            }
            done += written
        }
    }

    public func sync(_ descriptor: Int32, path: String) throws(StoreError) {
        guard fdatasync(descriptor) == 0 else {
            throw StoreError(.backendFailure, "fdatasync of \(path) failed: \(String(cString: strerror(errno)))")
        }
    }
}
