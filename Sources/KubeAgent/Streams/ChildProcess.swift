import Foundation
import Glibc
import Synchronization

/// A command started for exec with `posix_spawn`, in a session of its own (so it can be killed with everything
/// it started in its process group, and so a terminal can become its controlling one). The agent keeps the other
/// ends of its stdio: pipes, or a pseudo-terminal's master when a tty is asked for. Streams not asked for are
/// /dev/null. Signals start at their defaults and unblocked whatever the agent does with them; no descriptor of
/// the agent's leaks past 2.
final class ChildProcess: Sendable {
    let pid: pid_t
    /// Where the agent writes the child's stdin (nil when stdin was not asked for).
    let stdin: CInt?
    /// What the agent reads, by the channel it goes out on (stdout 1, stderr 2; with a tty only 1).
    let outputs: [(channel: UInt8, descriptor: CInt)]
    /// The terminal's master, for resizes (nil without a tty).
    let terminal: CInt?
    /// True from the moment the child is known to have exited until forever: no signal is sent after it, since
    /// its pid may be reused once reaped.
    private let exited = Mutex(false)

    private init(pid: pid_t, stdin: CInt?, outputs: [(channel: UInt8, descriptor: CInt)], terminal: CInt?) {
        self.pid = pid
        self.stdin = stdin
        self.outputs = outputs
        self.terminal = terminal
    }

    /// Starts `argv` (searched on the agent's PATH) with `environment`.
    static func spawn(argv: [String], environment: [String: String], options: StreamOptions) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var ours: [CInt] = []  // the agent's ends, closed on failure
        var theirs: [CInt] = []  // the child's ends, closed in the agent once it started
        defer { theirs.forEach { close($0) } }
        var stdinEnd: CInt?
        var outputs: [(channel: UInt8, descriptor: CInt)] = []
        var terminalEnd: CInt?
        do {
            if options.tty {
                let terminal = try PseudoTerminal.open()
                ours.append(terminal.master)
                // Held open until the child has the slave, so the master does not read as hung up meanwhile.
                let slave = Glibc.open(terminal.slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
                guard slave >= 0 else { throw SystemError("open \(terminal.slavePath)") }
                theirs.append(slave)
                // Opened after setsid (glibc runs setsid before the file actions) without O_NOCTTY: it becomes
                // the child's controlling terminal.
                posix_spawn_file_actions_addopen(&actions, 0, terminal.slavePath, O_RDWR, 0)
                posix_spawn_file_actions_adddup2(&actions, 0, 1)
                posix_spawn_file_actions_adddup2(&actions, 0, 2)
                terminalEnd = try duplicate(terminal.master, &ours)
                if options.stdin { stdinEnd = try duplicate(terminal.master, &ours) }
                if options.stdout { outputs.append((1, try duplicate(terminal.master, &ours))) }
            } else {
                let null = Glibc.open("/dev/null", O_RDWR | O_CLOEXEC)
                guard null >= 0 else { throw SystemError("open /dev/null") }
                theirs.append(null)
                for (target, wanted) in [(CInt(0), options.stdin), (1, options.stdout), (2, options.stderr)] {
                    guard wanted else {
                        posix_spawn_file_actions_adddup2(&actions, null, target)
                        continue
                    }
                    let (read, write) = try pipe()
                    let (childEnd, agentEnd) = target == 0 ? (read, write) : (write, read)
                    theirs.append(childEnd)
                    ours.append(agentEnd)
                    posix_spawn_file_actions_adddup2(&actions, childEnd, target)
                    if target == 0 { stdinEnd = agentEnd } else { outputs.append((UInt8(target), agentEnd)) }
                }
            }
            GNULibC.addCloseFrom(&actions, 3)
            let pid = try start(argv: argv, environment: environment, actions: &actions)
            return ChildProcess(pid: pid, stdin: stdinEnd, outputs: outputs, terminal: terminalEnd)
        } catch {
            ours.forEach { close($0) }
            throw error
        }
    }

    private static func start(
        argv: [String], environment: [String: String], actions: inout posix_spawn_file_actions_t
    ) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(
            &attributes, Int16(GNULibC.spawnSetSession | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }
        var pid = pid_t()
        let result = posix_spawnp(&pid, argv[0], &actions, &attributes, arguments, variables)
        guard result == 0 else { throw SystemError("exec \(argv[0])", errno: result) }
        return pid
    }

    private static func pipe() throws -> (read: CInt, write: CInt) {
        var ends: [CInt] = [-1, -1]
        guard GNULibC.pipe2(&ends, O_CLOEXEC) == 0 else { throw SystemError("pipe2") }
        return (ends[0], ends[1])
    }

    private static func duplicate(_ descriptor: CInt, _ owned: inout [CInt]) throws -> CInt {
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 3)
        guard copy >= 0 else { throw SystemError("fcntl F_DUPFD_CLOEXEC") }
        owned.append(copy)
        return copy
    }

    /// Waits on a thread of its own (a blocking wait must not hold one of the few cooperative threads) and
    /// returns the exit code, 128 + the signal's number when a signal ended it (the runtime reports it so).
    func waitForExit() async -> Int {
        await withCheckedContinuation { continuation in
            let thread = Thread { [self] in
                var info = siginfo_t()
                // Seen but not reaped: the pid cannot be reused until `exited` is set.
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
                self.exited.withLock { $0 = true }
                var status: CInt = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let code = (status & 0x7f) == 0 ? Int((status >> 8) & 0xff) : 128 + Int(status & 0x7f)
                continuation.resume(returning: code)
            }
            thread.name = "exec-wait-\(pid)"
            thread.start()
        }
    }

    /// SIGKILL to the child's process group (nsenter and what it forked included), unless it already exited.
    func kill() {
        exited.withLock { exited in
            guard !exited else { return }
            _ = Glibc.kill(-pid, SIGKILL)
            _ = Glibc.kill(pid, SIGKILL)
        }
    }
}
