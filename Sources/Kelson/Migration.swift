import Foundation
import RevisionLog

/// Settings of `kelson migrate`.
public struct MigrationOptions: Sendable {
    /// Keys per read page and per write transaction.
    public var batchSize = 1_000
    /// Bytes of keys and values per write transaction.
    public var batchBytes = 8 << 20
    /// Memory for sorting keys by mod revision; past it, sorted runs spill to temporary files.
    public var sortMemoryBytes = 256 << 20
    /// Where spilled runs go.
    public var temporaryDirectory = FileManager.default.temporaryDirectory.path

    public init() {}
}

/// The steps of a migration, in order, as progress reports name them.
public enum MigrationPhase: String, Sendable {
    case reading, writing, verifying
}

/// What `kelson migrate` tells its user while it runs.
public protocol MigrationObserver {
    /// `done` of `total` keys of `phase` are through.
    func progress(_ phase: MigrationPhase, done: Int64, total: Int64)
    func warn(_ message: String)
}

/// Both sides after a migration: they must agree for it to count as verified.
public struct MigrationReport: Sendable {
    public var source: LiveStateDigest
    public var destination: LiveStateDigest
    public var sourceRevision: Int64
    public var destinationRevision: Int64
    public var duration: Duration

    /// Equal digests and revisions on both sides.
    public var verified: Bool { source == destination && sourceRevision == destinationRevision }
}

/// `kelson migrate`: copies the live state of a Kelson store (SQLite, PostgreSQL) or a live etcd into an
/// empty Kelson store, keeping every key's revisions and version and the store's revision, then verifies
/// the copy by digest (see docs/migrate.md). The writing itself, and its MVCC rules, is `StoreImport`'s.
public enum Migration {
    /// Copies and verifies; `observer` hears progress per phase. Fails before writing when `destination` is not
    /// empty or is a live etcd.
    public static func run(
        from source: Datastore, to destination: Datastore, options: MigrationOptions = MigrationOptions(),
        observer: some MigrationObserver
    ) async throws -> MigrationReport {
        if case .etcd = destination {
            throw KelsonError(
                "\(destination) cannot be a destination: kelson migrate writes sqlite:// and postgres:// datastores")
        }
        guard source != destination else { throw KelsonError("--from and --to name the same datastore") }
        let started = ContinuousClock.now
        // The source first: a source that cannot be read must not leave an empty destination behind.
        let reader: any MigrationSource
        switch source {
        case .etcd(let endpoint): reader = try await EtcdMigrationSource.connect(endpoint: endpoint)
        case .sqlite, .postgres:
            do {
                reader = BackendMigrationSource(backend: try source.openBackend(creating: false))
            } catch let error as StoreError {
                throw KelsonError("cannot read \(source): \(error.detail)")
            }
        }
        do {
            let backend = try destination.openBackend()
            defer { backend.close() }
            var report = try await copy(from: reader, into: backend, destination: destination, options, observer)
            await reader.close()
            report.duration = ContinuousClock.now - started
            return report
        } catch {
            await reader.close()
            throw error
        }
    }

    private static func copy(
        from reader: any MigrationSource, into backend: any LogBackend, destination: Datastore,
        _ options: MigrationOptions, _ observer: some MigrationObserver
    ) async throws -> MigrationReport {
        do {
            try StoreImport.requireEmpty(backend)
        } catch {
            throw KelsonError("\(destination) cannot be a migration destination: \(error.detail)")
        }
        let sorter = ModRevisionSorter(
            memoryLimit: options.sortMemoryBytes, temporaryDirectory: options.temporaryDirectory)
        defer { sorter.removeFiles() }

        // Read: digest in key order, sort by mod revision.
        var sourceDigest = LiveStateDigest()
        var header = MigrationSourceHeader(revision: 0, keyCount: 0, leases: [])
        var leaseIDs: Set<Int64> = []
        var orphans = 0
        try await reader.read(
            pageSize: options.batchSize,
            header: { first in
                header = first
                leaseIDs = Set(first.leases.map(\.id))
                sourceDigest.add(leases: first.leases)
                for warning in first.warnings { observer.warn(warning) }
                observer.progress(.reading, done: 0, total: first.keyCount)
            },
            page: { page in
                for keyValue in page {
                    sourceDigest.add(keyValue)
                    try sorter.add(keyValue)
                    if keyValue.lease != 0 && !leaseIDs.contains(keyValue.lease) { orphans += 1 }
                }
                observer.progress(.reading, done: sourceDigest.keys, total: header.keyCount)
            })
        let total = sourceDigest.keys
        observer.progress(.reading, done: total, total: total)
        if orphans > 0 {
            observer.warn(
                "\(orphans) key(s) name a lease the source no longer has; they are copied as they are and will not expire"
            )
        }

        // Write, in (mod revision, key) order.
        var importer = try StoreImport(
            into: backend, revision: header.revision, leases: header.leases,
            limits: StoreImport.Limits(maximumKeys: options.batchSize, maximumBytes: options.batchBytes))
        do {
            let sorted = try sorter.sorted()
            var written: Int64 = 0
            observer.progress(.writing, done: 0, total: total)
            while let keyValue = try sorted.next() {
                try importer.add(keyValue)
                written += 1
                if written % Int64(options.batchSize) == 0 { observer.progress(.writing, done: written, total: total) }
            }
            try importer.finish()
            observer.progress(.writing, done: written, total: total)
        } catch {
            throw KelsonError(
                "copying into \(destination) failed: \(error). It now holds partial data, which kelson etcd refuses to serve; empty it before retrying"
            )
        }

        // Verify: read the destination back.
        let (revision, destinationDigest) = try backend.read { reader in
            (
                reader.revision,
                try LiveStateDigest.compute(reader, pageSize: options.batchSize) { done in
                    observer.progress(.verifying, done: done, total: total)
                }
            )
        }
        observer.progress(.verifying, done: destinationDigest.keys, total: total)
        return MigrationReport(
            source: sourceDigest, destination: destinationDigest, sourceRevision: header.revision,
            destinationRevision: revision, duration: .zero)
    }
}
