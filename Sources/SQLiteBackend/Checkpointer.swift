import CSQLite
import Foundation
import Logging
import RevisionLog
import Synchronization

/// Copies the WAL back into the database file on its own thread and connection, so commits rarely pay for a
/// checkpoint. The writer's automatic checkpoint is replaced by a WAL hook (`register(on:)`) that reports the
/// WAL's length after each commit; past `thresholdFrames` this thread runs a PASSIVE checkpoint, which blocks
/// neither the writer nor readers. The next write after a complete checkpoint starts the WAL from its
/// beginning again; a large threshold means pages rewritten by many commits are copied once (measured in
/// docs/benchmarks.md).
///
/// Under sustained writes that restart keeps slipping: it needs a moment in which every frame is copied, and
/// commits append frames while this thread copies (the WAL was seen at three times the threshold, and without
/// bound with a small one). Each pass copies what the previous one left, so what is left shrinks to what
/// commits add during one short pass. The writer then finishes the job itself, in the hook, between two commits
/// (SQLite's own auto-checkpoint runs there too): nothing can append meanwhile, so the next write restarts the
/// WAL. It does so once the WAL is past `catchUpFrames` and at most `smallRemainderFrames` are left to copy, so
/// the commit waits for a short copy; past `forceFrames` it catches up whatever is left, which bounds the WAL
/// unless a reader keeps an old snapshot open the whole time (an online snapshot of a big store).
///
/// If this thread cannot open its connection it logs an error and ends; the writer's catch-up alone then bounds
/// the WAL (at `forceFrames`, copying everything in the commit that gets there).
final class Checkpointer: @unchecked Sendable {  // `requested` is guarded by `worker.condition`
    private let path: String
    private let vfs: String?
    private let logger: Logger
    let thresholdFrames: Int32
    let catchUpFrames: Int32
    let forceFrames: Int32
    static let smallRemainderFrames: Int32 = 1_024
    private let worker = WorkerThread()
    private var condition: NSCondition { worker.condition }
    private var requested = false
    /// The last pass over the current WAL: its length then (high 32 bits) and the frames copied (low 32 bits).
    /// Zero after the WAL restarts.
    private let lastPass = Atomic<Int64>(0)
    /// The WAL's length after the previous commit; only the WAL hook touches it (commits on the writer connection
    /// are serialized by the backend).
    private var previousFrames: Int32 = 0

    init(path: String, vfs: String? = nil, thresholdFrames: Int32, logger: Logger) {
        self.path = path
        self.vfs = vfs
        self.logger = logger
        self.thresholdFrames = thresholdFrames
        catchUpFrames = thresholdFrames + thresholdFrames / 8
        forceFrames = thresholdFrames + thresholdFrames / 2
    }

    /// Installs the WAL hook on the writer. `self` must outlive the connection (the backend closes the writer
    /// before it stops the checkpointer).
    func register(on connection: SQLiteConnection) {
        connection.setWALHook(Unmanaged.passUnretained(self).toOpaque()) { context, writer, _, frames in
            guard let context else { return SQLITE_OK }
            Unmanaged<Checkpointer>.fromOpaque(context).takeUnretainedValue().committed(frames: frames, writer: writer)
            return SQLITE_OK
        }
    }

    /// Runs right after every commit on the writer connection.
    private func committed(frames: Int32, writer: OpaquePointer?) {
        defer { previousFrames = frames }
        if frames < previousFrames { lastPass.store(0, ordering: .relaxed) }  // the WAL restarted
        guard frames >= thresholdFrames else { return }
        let pass = Self.unpack(lastPass.load(ordering: .relaxed))
        // A pass over a longer WAL than this one was over an earlier WAL: nothing of this one is copied.
        let remainder = frames - (pass.length <= frames ? pass.copied : 0)
        if frames >= forceFrames || (frames >= catchUpFrames && remainder <= Self.smallRemainderFrames) {
            // PASSIVE never waits: while this thread is in a pass it answers SQLITE_BUSY at once, and the next
            // commit tries again.
            var length: Int32 = 0
            var copied: Int32 = 0
            if sqlite3_wal_checkpoint_v2(writer, nil, SQLITE_CHECKPOINT_PASSIVE, &length, &copied) == SQLITE_OK,
                length >= 0, copied >= 0
            {
                lastPass.store(Self.pack(length: length, copied: copied), ordering: .relaxed)
            }
            return
        }
        condition.lock()
        if !requested {
            requested = true
            condition.signal()
        }
        condition.unlock()
    }

    func start() { worker.start(name: "kelson-checkpoint") { [self] in run() } }

    private func run() {
        let connection: SQLiteConnection
        do {
            connection = try SQLiteConnection(path: path, readOnly: false, vfs: vfs)
        } catch {
            // Requests raised by later commits are left unanswered; `stop()` finds the thread finished.
            logger.error(
                "the background WAL checkpointer cannot open its connection; commits copy the WAL back themselves",
                metadata: ["path": "\(path)", "error": "\(error)", "forceFrames": "\(forceFrames)"])
            return
        }
        while true {
            condition.lock()
            while !requested && !worker.stopping { condition.wait() }
            requested = false
            let stop = worker.stopping
            condition.unlock()
            if stop { break }
            // A busy or failed checkpoint is retried after a later commit; the WAL keeps every frame meanwhile.
            if let (length, copied) = connection.checkpointPassive() {
                lastPass.store(Self.pack(length: length, copied: copied), ordering: .relaxed)
            }
        }
        connection.close()
    }

    func stop() { worker.stop() }

    private static func pack(length: Int32, copied: Int32) -> Int64 {
        Int64(length) << 32 | Int64(UInt32(truncatingIfNeeded: copied))
    }

    private static func unpack(_ value: Int64) -> (length: Int32, copied: Int32) {
        (Int32(truncatingIfNeeded: value >> 32), Int32(truncatingIfNeeded: value))
    }
}
