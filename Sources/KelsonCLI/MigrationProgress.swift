import Kelson

/// `kelson migrate`'s progress: a `TerminalProgress` bar per phase (read, sort, write, verify).
final class MigrationProgress: MigrationObserver {
    private let bar = TerminalProgress(unit: .keys)

    func progress(_ phase: MigrationPhase, done: Int64, total: Int64) {
        bar.update(phase.rawValue, done: done, total: total)
    }

    func warn(_ message: String) { bar.warn(message) }

    func endLine() { bar.endLine() }
}
