import CSQLite
import Foundation
import RevisionLog

/// Copies the WAL back into the database file on its own thread and connection, so no commit ever pays for a
/// checkpoint. The writer's automatic checkpoint is replaced by a WAL hook (`register(on:)`) that reports the
/// WAL's length after each commit; past `thresholdFrames` this thread runs a PASSIVE checkpoint, which blocks
/// neither the writer nor readers. The next write after a complete checkpoint starts the WAL from its
/// beginning again, so the WAL stays near `thresholdFrames` pages; a large threshold means pages rewritten by
/// many commits are copied once (measured in docs/benchmarks.md).
final class Checkpointer: @unchecked Sendable {  // `requested` is guarded by `worker.condition`
    private let path: String
    let thresholdFrames: Int32
    private let worker = WorkerThread()
    private var condition: NSCondition { worker.condition }
    private var requested = false

    init(path: String, thresholdFrames: Int32) {
        self.path = path
        self.thresholdFrames = thresholdFrames
    }

    /// Installs the WAL hook on the writer. `self` must outlive the connection (the backend closes the writer
    /// before it stops the checkpointer).
    func register(on connection: SQLiteConnection) {
        connection.setWALHook(Unmanaged.passUnretained(self).toOpaque()) { context, _, _, frames in
            guard let context else { return SQLITE_OK }
            Unmanaged<Checkpointer>.fromOpaque(context).takeUnretainedValue().committed(frames: frames)
            return SQLITE_OK
        }
    }

    private func committed(frames: Int32) {
        guard frames >= thresholdFrames else { return }
        condition.lock()
        if !requested {
            requested = true
            condition.signal()
        }
        condition.unlock()
    }

    func start() { worker.start(name: "kelson-checkpoint") { [self] in run() } }

    private func run() {
        let connection = try? SQLiteConnection(path: path, readOnly: false)
        while true {
            condition.lock()
            while !requested && !worker.stopping { condition.wait() }
            requested = false
            let stop = worker.stopping
            condition.unlock()
            if stop { break }
            // A busy or failed checkpoint is retried after a later commit; the WAL keeps every frame meanwhile.
            try? connection?.execute("PRAGMA wal_checkpoint(PASSIVE)")
        }
        connection?.close()
    }

    func stop() { worker.stop() }
}
