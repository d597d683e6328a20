import Foundation
import SQLiteBackend

/// `kelson defrag --data-dir DIR`: the offline defragment of a stopped server's data directory (see
/// `OfflineDefragment`); a running server is defragmented through the API instead (`etcdctl defrag`).
public enum DataDirectoryDefragment {
    /// `progress` gets bytes written and the expected total, from another thread.
    public static func run(
        dataDirectory: String, progress: @escaping @Sendable (_ done: Int64, _ total: Int64) -> Void = { _, _ in }
    ) throws -> (bytesBefore: Int64, bytesAfter: Int64) {
        let result = try OfflineDefragment.run(path: dataDirectory + "/kelson.db", progress: progress)
        return (result.bytesBefore, result.bytesAfter)
    }
}
