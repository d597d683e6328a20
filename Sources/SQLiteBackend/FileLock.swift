import Foundation
import Glibc
import RevisionLog

/// An exclusive `flock` on the database file, held while a backend has it open. Kelson's committer owns the
/// revision counter of its file, so a second process on the same file (a second `kelson etcd` with the same data
/// directory, a restore or an offline defragment under a running server) would hand out revisions the first one
/// also hands out. The second one is refused at once instead.
///
/// `flock` locks are separate from the POSIX record locks SQLite takes on the same file, so the two never
/// interfere; the kernel drops the lock when the process dies, so a crash leaves nothing to clean up.
final class FileLock: Sendable {
    private let descriptor: Int32

    init(path: String) throws(StoreError) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StoreError(.backendFailure, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            close(descriptor)
            if reason == EWOULDBLOCK {
                throw StoreError(
                    .backendFailure,
                    "\(path) is in use by another Kelson process (a server, restore or defrag); stop it first: "
                        + "two processes on one SQLite file would hand out the same revisions")
            }
            throw StoreError(.backendFailure, "cannot lock \(path): \(String(cString: strerror(reason)))")
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }
}
