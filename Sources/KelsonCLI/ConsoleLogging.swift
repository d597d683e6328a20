import ArgumentParser
import Logging

/// `kelson server` and `kelson agent`'s `--log-level` (k3s's words), and their logs: text on stderr.
enum ConsoleLogging {
    static func level(_ text: String) throws -> Logger.Level {
        switch text.lowercased() {
        case "debug": .debug
        case "info": .info
        case "warn", "warning": .warning
        case "error": .error
        default: throw ValidationError("--log-level must be one of debug, info, warn, error")
        }
    }

    static func bootstrap(_ level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
