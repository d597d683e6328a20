/// A container's process as `kubectl attach` sees it. The container's stdio are pipes, not a terminal: a `tty: true`
/// container is attached to as one without.
struct AttachedContainer: AttachableContainer {
    let process: ContainerProcess
    let tty: Bool
    let stdinOnce: Bool

    func subscribeOutput() -> AsyncStream<(stream: UInt8, bytes: [UInt8])> { process.subscribeOutput() }

    func writeStdin(_ bytes: [UInt8]) async throws { try process.writeStdin(bytes) }

    /// `stdinOnce` containers see their stdin end when the first attached client closes it.
    func closeStdin() async {
        if stdinOnce { process.closeStdin() }
    }
}
