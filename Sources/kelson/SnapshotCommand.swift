import ArgumentParser
import Kelson

/// `kelson snapshot restore`: the offline half of `etcdctl snapshot save`.
struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot", abstract: "Work with snapshot files.", subcommands: [Restore.self])

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

        func run() throws {
            try SnapshotRestore.restore(snapshotPath: file, dataDirectory: dataDirectory, skipHashCheck: skipHashCheck)
            print("restored \(file) into \(dataDirectory)")
        }
    }
}
