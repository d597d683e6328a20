import RevisionLog

/// A test backend that changes one behaviour of a `MemoryBackend` and passes everything else through.
protocol WrappedMemoryBackend: LogBackend {
    var inner: MemoryBackend { get }
}

extension WrappedMemoryBackend {
    func compactBatch(revision: Int64, cursor: Int64, limit: Int) throws -> Int64? {
        try inner.compactBatch(revision: revision, cursor: cursor, limit: limit)
    }
    func storageSize() throws -> StorageSize { try inner.storageSize() }
    func defragment() throws { try inner.defragment() }
    func snapshot(to path: String) throws { try inner.snapshot(to: path) }
    func close() { inner.close() }
}
