import Foundation
import KubeServer
import Synchronization

/// A container's stdout and stderr in the CRI log format the kubelet writes (`/var/log/pods/…/<container>/<n>.log`):
/// one line per record, `<RFC 3339 nano time> <stdout|stderr> <F|P> <text>`, `P` for a piece of a line longer than
/// `pieceMaximum` (the rest follows). Rotated by size: `n.log` becomes `n.log.1` (older ones shift up, at most
/// `files` are kept).
final class ContainerLogWriter: Sendable {
    static let pieceMaximum = 16 * 1024

    let path: String
    let maximumBytes: Int
    let files: Int
    private let state: Mutex<(handle: FileHandle?, size: Int, partial: [[UInt8]])>

    init(path: String, maximumBytes: Int, files: Int) {
        self.path = path
        self.maximumBytes = maximumBytes
        self.files = max(1, files)
        try? FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = FileHandle(forWritingAtPath: path)
        let size = (try? handle?.seekToEnd()).flatMap { $0 }.map(Int.init) ?? 0
        state = Mutex((handle, size, [[], []]))
    }

    /// Bytes from stream 1 (stdout) or 2 (stderr).
    func write(stream: Int, _ bytes: [UInt8]) {
        let name = stream == 2 ? "stderr" : "stdout"
        let index = stream == 2 ? 1 : 0
        state.withLock { state in
            var pending = state.partial[index] + bytes
            var records: [UInt8] = []
            var start = 0
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                records += Self.record(name, "F", pending[start..<newline])
                start = newline + 1
            }
            pending.removeFirst(start)
            while pending.count >= Self.pieceMaximum {
                records += Self.record(name, "P", pending[..<Self.pieceMaximum])
                pending.removeFirst(Self.pieceMaximum)
            }
            state.partial[index] = pending
            append(records, to: &state)
        }
    }

    /// Writes what is left of unfinished lines (the container ended).
    func close() {
        state.withLock { state in
            for (index, name) in ["stdout", "stderr"].enumerated() where !state.partial[index].isEmpty {
                let records = Self.record(name, "F", state.partial[index][...])
                state.partial[index] = []
                append(records, to: &state)
            }
            try? state.handle?.close()
            state.handle = nil
        }
    }

    private func append(_ records: [UInt8], to state: inout (handle: FileHandle?, size: Int, partial: [[UInt8]])) {
        guard !records.isEmpty, let handle = state.handle else { return }
        if state.size + records.count > maximumBytes, state.size > 0 {
            try? handle.close()
            Self.rotate(path, keeping: files)
            FileManager.default.createFile(atPath: path, contents: nil)
            state.handle = FileHandle(forWritingAtPath: path)
            state.size = 0
        }
        state.handle?.write(Data(records))
        state.size += records.count
    }

    static func rotate(_ path: String, keeping files: Int) {
        let manager = FileManager.default
        try? manager.removeItem(atPath: "\(path).\(files - 1)")
        if files > 1 {
            for index in stride(from: files - 2, through: 1, by: -1) {
                try? manager.moveItem(atPath: "\(path).\(index)", toPath: "\(path).\(index + 1)")
            }
            try? manager.moveItem(atPath: path, toPath: "\(path).1")
        } else {
            try? manager.removeItem(atPath: path)
        }
    }

    private static func record(_ stream: String, _ tag: String, _ text: ArraySlice<UInt8>) -> [UInt8] {
        Array("\(timestamp(Date())) \(stream) \(tag) ".utf8) + text + [UInt8(ascii: "\n")]
    }

    /// RFC 3339 with nanoseconds, UTC, as the CRI writes it.
    static func timestamp(_ date: Date) -> String { APITime.format(date, fractionalDigits: 9) }
}
