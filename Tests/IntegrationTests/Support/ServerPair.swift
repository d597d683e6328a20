import Foundation
import Testing

/// etcdctl output after normalisation; two servers agree when their outcomes are equal.
struct Outcome: Equatable, CustomStringConvertible {
    var exitCode: Int32
    var stdout: String
    var stderr: String

    init(_ result: EtcdctlResult) {
        exitCode = result.exitCode
        stdout = JSONNormalizer.normalizedStdout(result.stdout)
        stderr = JSONNormalizer.normalizedStderr(result.stderr)
    }

    var description: String {
        var text = "exit \(exitCode)"
        if !stdout.isEmpty { text += "\nstdout:\n\(stdout.truncatedForReport())" }
        if !stderr.isEmpty { text += "\nstderr:\n\(stderr.truncatedForReport())" }
        return text
    }
}

/// What the reference (etcd) is expected to do: a self-check that a case really exercises the
/// path it means to (a typo in an etcdctl command would otherwise "pass" on both servers).
enum Expectation {
    case success
    /// Non-zero exit with this text in standard error.
    case failure(String)
    case anything
}

/// etcd (the reference) and the candidate (Kelson, or a second etcd when
/// `INTEGRATION_CANDIDATE=etcd`), both started empty with the same options.
final class ServerPair {
    let reference: ServerProcess
    let candidate: ServerProcess

    init(options: ServerOptions = ServerOptions(), candidate kind: ServerKind = .candidate) throws {
        let reference = try ServerProcess.make(.etcd, options: options)
        let candidate: ServerProcess
        do {
            candidate = try ServerProcess.make(kind, options: options)
        } catch {
            reference.stop()
            throw error
        }
        self.reference = reference
        self.candidate = candidate
        do {
            // Launch both, then wait for both: saves a second per test.
            try reference.launchProcess()
            try candidate.launchProcess()
            try reference.waitUntilReady(timeout: 15)
            try candidate.waitUntilReady(timeout: 15)
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    /// Stops both servers; records an issue (with the log tail) for a server that died on its own.
    func stop() {
        reference.stop()
        candidate.stop()
    }

    /// Runs `etcdctl <args>` against both servers and records an issue showing both outputs
    /// when the normalised outcomes differ.
    @discardableResult
    func assertSame(
        _ arguments: String...,
        stdin: String? = nil,
        expect expectation: Expectation = .success,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> (reference: EtcdctlResult, candidate: EtcdctlResult) {
        assertSame(arguments, stdin: stdin, expect: expectation, sourceLocation: sourceLocation)
    }

    @discardableResult
    func assertSame(
        _ arguments: [String],
        stdin: String? = nil,
        expect expectation: Expectation = .success,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> (reference: EtcdctlResult, candidate: EtcdctlResult) {
        let command = Self.render(arguments, stdin: stdin)
        for server in [reference, candidate] where !server.isRunning {
            // Reported once (with the log tail); later commands are skipped, not timed out.
            server.reportIfDied(sourceLocation: sourceLocation)
            let dead = EtcdctlResult(exitCode: -1, stdout: "", stderr: "\(server.name) is not running")
            return (dead, dead)
        }
        let expected: EtcdctlResult
        let actual: EtcdctlResult
        do {
            expected = try Etcdctl.run(endpoint: reference.endpoint, arguments, stdin: stdin)
            actual = try Etcdctl.run(endpoint: candidate.endpoint, arguments, stdin: stdin)
        } catch {
            Issue.record("\(command): \(error)", sourceLocation: sourceLocation)
            let empty = EtcdctlResult(exitCode: -1, stdout: "", stderr: "\(error)")
            return (empty, empty)
        }
        let referenceOutcome = Outcome(expected)
        let candidateOutcome = Outcome(actual)

        switch expectation {
        case .success where expected.exitCode != 0:
            Issue.record(
                """
                test-case self-check: reference etcd was expected to succeed
                \(command)
                --- etcd ---
                \(referenceOutcome)
                """, sourceLocation: sourceLocation)
        case .failure(let text) where expected.exitCode == 0 || !expected.stderr.contains(text):
            Issue.record(
                """
                test-case self-check: reference etcd was expected to fail with "\(text)"
                \(command)
                --- etcd ---
                \(referenceOutcome)
                """, sourceLocation: sourceLocation)
        default:
            break
        }

        if referenceOutcome != candidateOutcome {
            Issue.record(
                """
                etcd and \(candidate.name) differ
                \(command)
                --- etcd ---
                \(referenceOutcome)
                --- \(candidate.name) ---
                \(candidateOutcome)
                \(candidate.isRunning ? "" : "(\(candidate.name) is no longer running: \(candidate.exitSummary))\n")\
                --- first difference ---
                \(Self.firstDifference(referenceOutcome.description, candidateOutcome.description, candidate: candidate.name))
                """, sourceLocation: sourceLocation)
        }
        return (expected, actual)
    }

    /// Where two texts first differ, with some context, for long JSON answers.
    static func firstDifference(_ reference: String, _ candidate: String, candidate name: String) -> String {
        let left = Array(reference), right = Array(candidate)
        var index = 0
        while index < left.count, index < right.count, left[index] == right[index] { index += 1 }
        let start = max(0, index - 60)
        func excerpt(_ characters: [Character]) -> String {
            let end = min(characters.count, index + 80)
            return start < end ? String(characters[start..<end]) : "<end>"
        }
        return "at character \(index):\n  etcd: ...\(excerpt(left))\n  \(name): ...\(excerpt(right))"
    }

    /// The command as one would type it (stdin shown after it), for issue messages.
    static func render(_ arguments: [String], stdin: String?) -> String {
        var text = "$ etcdctl " + arguments.map(shellQuote).joined(separator: " ")
        if let stdin {
            var lines = stdin.split(separator: "\n", omittingEmptySubsequences: false).map {
                $0.count > 200 ? "\($0.prefix(40))... [\($0.utf8.count) bytes]" : String($0)
            }
            if lines.count > 16 {
                lines = lines.prefix(8) + ["... [\(lines.count - 12) more lines]"] + lines.suffix(4)
            }
            text += "   <<STDIN\n\(lines.joined(separator: "\n"))\nSTDIN"
        }
        return text
    }

    static func shellQuote(_ argument: String) -> String {
        let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_=./:,@%+"))
        if !argument.isEmpty, argument.unicodeScalars.allSatisfy(safe.contains) {
            return argument.count > 200 ? "<\(argument.utf8.count) bytes: \(argument.prefix(20))...>" : argument
        }
        if argument.count > 200 { return "'<\(argument.utf8.count) bytes: \(argument.prefix(20))...>'" }
        return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

extension String {
    /// Long texts (1.6 MiB values) shortened for issue messages.
    func truncatedForReport(limit: Int = 4000) -> String {
        guard utf8.count > limit else { return self }
        return String(prefix(limit)) + "\n... [\(utf8.count) bytes in total]"
    }
}
