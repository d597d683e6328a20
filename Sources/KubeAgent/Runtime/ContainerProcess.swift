import Foundation
import Synchronization

/// One run of a container: the spawned process, its output, its end. The process the agent spawns is `nsenter`
/// (which becomes `unshare`); the container's own init is `unshare`'s child, PID 1 of the new PID namespace:
/// signals go to it, and when it ends the kernel ends everything else in the namespace.
final class ContainerProcess: Sendable {
    struct Exit: Sendable {
        var code: Int32
        var signal: Int32?
        var oomKilled: Bool
        var finishedAt: Date
    }

    let launch: ContainerLaunch
    let startedAt: Date
    private let process: Process
    private let state = Mutex<(exit: Exit?, waiters: [CheckedContinuation<Exit, Never>])>((nil, []))
    private let oomKillsBefore: Int
    private let killed = Atomic<Bool>(false)

    /// Output subscribers (attach), each with a bounded buffer (the newest output is kept when one falls behind).
    private let subscribers = Mutex<[UUID: AsyncStream<(stream: UInt8, bytes: [UInt8])>.Continuation]>([:])
    /// The write end of the container's stdin (`stdin: true` in its spec), nil once closed.
    private let stdinWriter = Mutex<FileHandle?>(nil)
    static let subscriberBufferMessages = 256

    /// Starts the container; `output` gets its stdout (1) and stderr (2) bytes as they come, from any thread.
    /// With `keepsStdin`, the container reads a pipe that attach sessions write to.
    init(
        launch: ContainerLaunch, keepsStdin: Bool = false,
        output: @escaping @Sendable (_ stream: Int, _ bytes: [UInt8]) -> Void
    ) throws {
        self.launch = launch
        try launch.prepare()
        oomKillsBefore = launch.cgroup.oomKills
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = launch.command
        process.environment = ["PATH": ContainerLaunch.defaultPath]
        let outputs = [Pipe(), Pipe()]
        process.standardOutput = outputs[0]
        process.standardError = outputs[1]
        let input = keepsStdin ? Pipe() : nil
        process.standardInput = input ?? FileHandle.nullDevice
        self.process = process
        startedAt = Date()
        stdinWriter.withLock { $0 = input?.fileHandleForWriting }
        let drained = DispatchGroup()
        for (index, pipe) in outputs.enumerated() {
            drained.enter()
            let handle = pipe.fileHandleForReading
            handle.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty {
                    handle.readabilityHandler = nil
                    drained.leave()
                } else {
                    let bytes = Array(data)
                    output(index + 1, bytes)
                    self.deliver(UInt8(index + 1), bytes)
                }
            }
        }
        process.terminationHandler = { process in self.finished(process, drained: drained) }
        try process.run()
        // The container holds its own copy of the read end.
        try? input?.fileHandleForReading.close()
    }

    private func deliver(_ stream: UInt8, _ bytes: [UInt8]) {
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield((stream, bytes)) }
    }

    func subscribeOutput() -> AsyncStream<(stream: UInt8, bytes: [UInt8])> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: (stream: UInt8, bytes: [UInt8]).self, bufferingPolicy: .bufferingNewest(Self.subscriberBufferMessages))
        let id = UUID()
        let ended = subscribers.withLock { subscribers -> Bool in
            if exit != nil { return true }
            subscribers[id] = continuation
            return false
        }
        if ended { continuation.finish() }
        continuation.onTermination = { [weak self] _ in _ = self?.subscribers.withLock { $0.removeValue(forKey: id) } }
        return stream
    }

    struct NoStdin: Error, CustomStringConvertible {
        var description: String { "the container has no stdin (set stdin: true in its spec)" }
    }

    func writeStdin(_ bytes: [UInt8]) throws {
        guard let writer = stdinWriter.withLock({ $0 }) else { throw NoStdin() }
        try writer.write(contentsOf: Data(bytes))
    }

    func closeStdin() {
        let writer = stdinWriter.withLock { writer -> FileHandle? in
            defer { writer = nil }
            return writer
        }
        try? writer?.close()
    }

    private func finished(_ process: Process, drained: DispatchGroup) {
        // Everything the container wrote is read before its end is told (bounded: a process that passed the
        // pipe on to something outside the namespace must not hold the status back).
        _ = drained.wait(timeout: .now() + 2)
        var status = process.terminationStatus
        var signalled = process.terminationReason == .uncaughtSignal
        let oomKilled = launch.cgroup.oomKills > oomKillsBefore
        // `unshare` passes its child's death by signal on by killing itself with it, except for SIGKILL (it cannot
        // unblock that one and exits 1): a SIGKILL from the OOM killer or from us is reported as such.
        if !signalled, status == 1, launch.isolated, oomKilled || killed.load(ordering: .relaxed) {
            status = SIGKILL
            signalled = true
        }
        let exit = Exit(
            code: signalled ? 128 + status : status, signal: signalled ? status : nil, oomKilled: oomKilled,
            finishedAt: Date())
        let waiters = state.withLock { state in
            state.exit = exit
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: exit) }
        for continuation in subscribers.withLock({ subscribers in
            defer { subscribers = [:] }
            return Array(subscribers.values)
        }) { continuation.finish() }
        closeStdin()
    }

    var pid: Int32 { process.processIdentifier }

    /// The container's PID 1 on the host: `unshare`'s child (or the process itself without isolation).
    var initPID: Int32? {
        guard launch.isolated else { return pid }
        let file = "/proc/\(pid)/task/\(pid)/children"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    var exit: Exit? { state.withLock { $0.exit } }

    /// Waits for the end.
    func wait() async -> Exit {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Exit? in
                if let exit = state.exit { return exit }
                state.waiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    func signal(_ signal: Int32) {
        if signal == SIGKILL { killed.store(true, ordering: .relaxed) }
        if let pid = initPID { kill(pid, signal) }
    }

    /// SIGTERM, up to `grace`, then SIGKILL to everything in the cgroup; returns once the process ended.
    func stop(grace: Duration) async -> Exit {
        if let exit { return exit }
        signal(SIGTERM)
        let deadline = ContinuousClock.now + grace
        while exit == nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let ended = exit != nil
        if !ended {
            signal(SIGKILL)
            for pid in launch.cgroup.processes { kill(pid, SIGKILL) }
            kill(process.processIdentifier, SIGKILL)
        }
        return await wait()
    }
}
