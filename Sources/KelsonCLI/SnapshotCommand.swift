import ArgumentParser
import Foundation
import Kelson

/// `kelson snapshot save | status | restore`: etcdctl's snapshot commands, for Kelson's snapshot files.
struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot", abstract: "Work with snapshot files.",
        subcommands: [Save.self, Status.self, Restore.self])

    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Save a consistent online snapshot of a running server (like `etcdctl snapshot save`).")

        @Argument(help: "The file to write (must not exist).")
        var file: String

        @Option(name: .customLong("endpoints"), help: "The server's client address, host:port.")
        var endpoint = "127.0.0.1:2379"

        func run() async throws {
            guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...])
            else { throw ValidationError("--endpoints must be host:port") }
            let host = String(endpoint[..<colon])
            let progress = TerminalProgress(unit: .bytes)
            let size = try await Snapshots.save(host: host, port: port, to: file) { done, total in
                progress.update("save", done: done, total: total)
            }
            progress.endLine()
            print("Snapshot saved at \(file) (\(size) bytes)")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a snapshot file's revision, key count, size and HashKV digest.")

        @Argument(help: "The snapshot file.")
        var file: String

        @Option(name: [.customShort("w"), .customLong("write-out")], help: "Output format: simple or json.")
        var format = "simple"

        func run() async throws {
            let status = try await Snapshots.status(of: file)
            switch format {
            case "json":
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
            case "simple":
                // etcdctl's simple form: hash, revision, total keys, total size.
                print("\(String(status.hash, radix: 16)), \(status.revision), \(status.totalKey), \(status.totalSize)")
            default:
                throw ValidationError("--write-out must be simple or json")
            }
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a file written by `etcdctl snapshot save` into a new data directory.")

        @Argument(help: "The snapshot file.")
        var file: String

        @Option(name: .customLong("data-dir"), help: "The data directory to create (must not hold a database).")
        var dataDirectory: String

        @Flag(
            name: .customLong("skip-hash-check"),
            help: "Accept a file without a SHA-256 trailer (a plain copy of kelson.db).")
        var skipHashCheck = false

        @Option(
            name: .customLong("bump-revision"),
            help:
                "Move the restored store's revision forward by this much, past any revision clients saw before (0: keep the snapshot's)."
        )
        var bumpRevision: Int64 = 1_000_000_000

        @Option(
            name: .customLong("mark-compacted"),
            help:
                "Mark the restored revision compacted, so clients resuming from older revisions list again (true or false)."
        )
        var markCompacted = true

        func run() throws {
            guard bumpRevision >= 0 else { throw ValidationError("--bump-revision must not be negative") }
            let progress = TerminalProgress(unit: .bytes)
            try SnapshotRestore.restore(
                snapshotPath: file, dataDirectory: dataDirectory, skipHashCheck: skipHashCheck,
                bumpRevision: bumpRevision, markCompacted: markCompacted
            ) { done, total in
                progress.update("restore", done: done, total: total)
            }
            progress.endLine()
            print("restored \(file) into \(dataDirectory)")
        }
    }
}
