import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A progress bar on standard error for long terminal work (migrate, snapshot save and restore): one line redrawn in
/// place (`\r`) with a bar, done / total and a rate, at most ten times a second. Quiet when standard error is not a
/// terminal (a log file or a pipe gets only the commands' own summary lines).
final class TerminalProgress {
    private let unit: Unit
    private let interactive = isatty(STDERR_FILENO) != 0
    private var label: String?
    private var started = ContinuousClock.now
    private var lastDrawn: ContinuousClock.Instant?
    private var lineOpen = false

    enum Unit {
        case keys
        case bytes
    }

    init(unit: Unit) { self.unit = unit }

    func update(_ label: String, done: Int64, total: Int64) {
        guard interactive else { return }
        let now = ContinuousClock.now
        if label != self.label {
            endLine()
            self.label = label
            started = now
            lastDrawn = nil
        }
        let total = max(total, done)
        if let lastDrawn, done < total, now - lastDrawn < .milliseconds(100) { return }
        lastDrawn = now
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let elapsed = now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let width = 30
        let filled = min(Int(fraction * Double(width)), width)
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let padded = label.padding(toLength: 9, withPad: " ", startingAt: 0)
        // ESC[K clears what a longer previous line left behind.
        write("\r\(padded) [\(bar)] \(amount(done))/\(amount(total))  \(amount(Int64(rate)))/s\u{1B}[K")
        lineOpen = true
    }

    /// Ends the redrawn line, so what follows starts on its own.
    func endLine() {
        if lineOpen { write("\n") }
        lineOpen = false
    }

    func warn(_ message: String) {
        endLine()
        write("warning: \(message)\n")
    }

    private func amount(_ value: Int64) -> String {
        switch unit {
        case .keys: return "\(value) keys"
        case .bytes:
            let units = ["B", "KiB", "MiB", "GiB", "TiB"]
            var scaled = Double(value)
            var index = 0
            while scaled >= 1024 && index < units.count - 1 {
                scaled /= 1024
                index += 1
            }
            return index == 0 ? "\(value) B" : String(format: "%.1f %@", scaled, units[index])
        }
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
