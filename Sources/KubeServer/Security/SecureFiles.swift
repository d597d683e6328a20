// File helpers for security material: atomic replacement (temp file, fsync, rename, fsync of the directory) with an
// exact mode, so a crash never leaves a half-written key or kubeconfig and the umask never widens a key's mode.
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

enum SecureFiles {
    /// Creates `path` and missing parents; `enforcedMode` is applied to `path` itself, even when it exists.
    static func ensureDirectory(_ path: String, enforcedMode: mode_t?) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw KubeSecurityError(code: .fileSystem, message: "cannot create directory \(path): \(error)")
        }
        if let enforcedMode, chmod(path, enforcedMode) != 0 {
            throw Self.posixError("cannot set mode of \(path)")
        }
    }

    /// Replaces `path` with `contents` atomically; the file has exactly `mode` whatever the umask.
    static func writeAtomically(_ contents: String, to path: String, mode: mode_t) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporaryPath = "\(directory.isEmpty ? "." : directory)/.\(name).tmp-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw Self.posixError("cannot create \(temporaryPath)") }
        var renamed = false
        defer { if !renamed { unlink(temporaryPath) } }
        do {
            defer { close(descriptor) }
            guard fchmod(descriptor, mode) == 0 else { throw Self.posixError("cannot set mode of \(temporaryPath)") }
            try Self.writeAll(Array(contents.utf8), to: descriptor, path: temporaryPath)
            guard fsync(descriptor) == 0 else { throw Self.posixError("cannot sync \(temporaryPath)") }
        }
        guard rename(temporaryPath, path) == 0 else { throw Self.posixError("cannot rename onto \(path)") }
        renamed = true
        Self.syncDirectory(directory.isEmpty ? "." : directory)
    }

    /// The file's text, or nil when it does not exist.
    static func readIfPresent(_ path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KubeSecurityError(code: .fileSystem, message: "cannot read \(path): \(error)")
        }
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.posixError("cannot write \(path)")
            }
            offset += written
        }
    }

    /// Makes the rename durable; best effort, as some file systems refuse fsync on directories.
    private static func syncDirectory(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    private static func posixError(_ message: String) -> KubeSecurityError {
        KubeSecurityError(code: .fileSystem, message: "\(message): \(String(cString: strerror(errno)))")
    }
}
