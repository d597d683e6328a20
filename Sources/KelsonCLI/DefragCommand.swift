import ArgumentParser
import Foundation
import Kelson
import Synchronization

/// `kelson defrag --data-dir DIR`: etcdutl's offline defrag, with a progress bar on a terminal.
struct DefragCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "defrag",
        abstract: "Defragment the data directory of a stopped server (like `etcdutl defrag`).",
        discussion: """
            Rewrites kelson.db without its free pages and renames the copy over it. Refused while a server has \
            the directory open: defragment a running server with `etcdctl defrag` instead.
            """)

    @Option(name: .customLong("data-dir"), help: "The data directory of a stopped server.")
    var dataDirectory: String

    func run() throws {
        let progress = Mutex(TerminalProgress(unit: .bytes))
        let result = try DataDirectoryDefragment.run(dataDirectory: dataDirectory) { done, total in
            progress.withLock { $0.update("defrag", done: done, total: total) }
        }
        progress.withLock { $0.endLine() }
        print("Finished defragmenting \(dataDirectory): \(result.bytesBefore) → \(result.bytesAfter) bytes")
    }
}
