import Foundation

/// Runs the host's tools (`ip`, `nft`, `mount`) and waits: the kernel's network and mount interfaces are easiest to
/// drive, and to read about in an error, through the commands an operator would type.
struct HostCommand {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `arguments` (the first is found on PATH), feeding `input` on stdin; throws with stderr on failure.
    @discardableResult
    static func run(_ arguments: [String], input: String? = nil) throws(Failure) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        let output = Pipe()
        let errors = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        // Foundation's waitUntilExit polls its run loop (about 50 ms a command here); the termination handler is told
        // at once.
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do {
            try process.run()
        } catch {
            throw Failure(description: "\(arguments.joined(separator: " ")): \(error)")
        }
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        // Read both before waiting: a full pipe would block the command.
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        exited.wait()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure(description: "\(arguments.joined(separator: " ")): \(message)")
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The same, on a thread of its own: commands block, and the concurrency pool's few threads must not.
    @discardableResult
    static func run(_ arguments: [String], input: String? = nil) async throws(Failure) -> String {
        let result: Result<String, Failure> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                do throws(Failure) {
                    continuation.resume(returning: .success(try run(arguments, input: input)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Whether `tool` is on PATH.
    static func exists(_ tool: String) -> Bool {
        ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"].contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)")
        }
    }

    /// Quotes `text` for /bin/sh.
    static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
