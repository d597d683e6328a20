import ArgumentParser
import Foundation
import Kelson

/// `kelson migrate --from URL --to URL`: copies a store's live state into an empty store (docs/migrate.md).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy keys (with their revisions and versions) and leases into an empty Kelson store.",
        discussion: """
            Sources: sqlite:///dir, postgres://user:pass@host:port/db?sslmode=…, etcd://host:port (a live etcd, plain \
            gRPC). Destinations: sqlite:///dir or postgres://…, which must be empty. History before the source's \
            revision is not copied: the destination starts compacted at it. See docs/migrate.md.
            """)

    @Option(name: .customLong("from"), help: "The source: sqlite:///dir, postgres://… or etcd://host:port.")
    var from: String

    @Option(name: .customLong("to"), help: "The destination, which must be empty: sqlite:///dir or postgres://….")
    var to: String

    @Option(name: .customLong("batch-size"), help: "Keys per read page and per write transaction.")
    var batchSize = 1_000

    @Option(
        name: .customLong("sort-memory"),
        help: "MiB of memory for sorting keys by revision; past it, sorted runs spill to temporary files.")
    var sortMemory = 256

    func run() async throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard sortMemory > 0 else { throw ValidationError("--sort-memory must be a positive number of MiB") }
        let source = try Datastore(url: from)
        let destination = try Datastore(url: to)
        var options = MigrationOptions()
        options.batchSize = batchSize
        options.sortMemoryBytes = sortMemory << 20
        let progress = MigrationProgress()
        let report: MigrationReport
        do {
            report = try await Migration.run(from: source, to: destination, options: options, observer: progress)
        } catch {
            progress.endLine()
            throw error
        }
        progress.endLine()
        let sides = [
            ("source", source, report.source, report.sourceRevision),
            ("destination", destination, report.destination, report.destinationRevision),
        ]
        for (role, datastore, digest, revision) in sides {
            let name = role.padding(toLength: 12, withPad: " ", startingAt: 0)
            print(
                "\(name) \(datastore)  keys \(digest.keys)  leases \(digest.leases)  revision \(revision)  digest \(digest.hex)"
            )
        }
        let seconds = Double(report.duration.components.seconds) + Double(report.duration.components.attoseconds) / 1e18
        let summary =
            "migrated \(report.source.keys) keys and \(report.source.leases) leases at revision \(report.sourceRevision)"
            + " in \(String(format: "%.1f", seconds)) s"
        guard report.verified else {
            print("\(summary); verification FAILED: the destination differs from the source")
            throw ExitCode.failure
        }
        print("\(summary); verified (digest \(report.source.hex))")
    }
}
