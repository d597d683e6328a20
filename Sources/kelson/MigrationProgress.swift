import Foundation
import Kelson

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `kelson migrate`'s progress on standard error: on a terminal, one line redrawn in place (`\r`) with a
/// bar, keys done / total and keys per second; otherwise (a log file) a plain line every 10 %.
final class MigrationProgress: MigrationObserver {
    private let interactive = isatty(STDERR_FILENO) != 0
    private var phase: MigrationPhase?
    private var phaseStarted = ContinuousClock.now
    private var lastDrawn: ContinuousClock.Instant?
    private var lastTenth = -1
    private var lineOpen = false

    func progress(_ phase: MigrationPhase, done: Int64, total: Int64) {
        let now = ContinuousClock.now
        if phase != self.phase {
            endLine()
            self.phase = phase
            phaseStarted = now
            lastDrawn = nil
            lastTenth = -1
        }
        let total = max(total, done)
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let elapsed = now - phaseStarted
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Int(Double(done) / seconds) : 0
        if interactive {
            // Redrawing costs a write per call: at most ten a second, plus the last.
            if let lastDrawn, done < total, now - lastDrawn < .milliseconds(100) { return }
            lastDrawn = now
            let width = 30
            let filled = min(Int(fraction * Double(width)), width)
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let label = phase.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
            // ESC[K clears what a longer previous line left behind.
            write("\r\(label) [\(bar)] \(done)/\(total) keys  \(rate) keys/s\u{1B}[K")
            lineOpen = true
        } else {
            let tenth = Int(fraction * 10)
            guard tenth > lastTenth else { return }
            lastTenth = tenth
            write("\(phase.rawValue): \(tenth * 10)% (\(done)/\(total) keys, \(rate) keys/s)\n")
        }
    }

    func warn(_ message: String) {
        endLine()
        write("warning: \(message)\n")
    }

    /// Ends the redrawn line, so what follows starts on its own.
    func endLine() {
        if lineOpen { write("\n") }
        lineOpen = false
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
