import Foundation

/// What the real `curl` got back from one request.
struct CurlResult: CustomStringConvertible {
    var exitCode: Int32
    /// `HTTP/1.1`, `HTTP/2`, ...; empty when there was no response.
    var httpVersion = ""
    var statusCode = 0
    /// Header fields, names lowercased (the last one wins).
    var headers: [String: String] = [:]
    var body = ""
    var stderr = ""

    var description: String {
        "curl exit \(exitCode): \(httpVersion) \(statusCode) \(headers) body \(body.debugDescription) \(stderr)"
    }
}

enum Curl {
    /// `curl --silent --show-error --include <arguments>`; killed after `watchdog` seconds.
    static func run(_ arguments: [String], watchdog: TimeInterval = 20) throws -> CurlResult {
        let executable = "/usr/bin/curl"
        try Locations.requireExecutable(executable, hint: "install it with `apt-get install -y curl`")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--silent", "--show-error", "--include", "--max-time", "10"] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let timer = DispatchWorkItem { _ = sendSignal(process.processIdentifier, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + watchdog, execute: timer)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        var result = parse(String(decoding: data, as: UTF8.self))
        result.exitCode = process.terminationStatus
        result.stderr = String(decoding: errorData, as: UTF8.self)
        return result
    }

    /// Splits `--include` output into status line, header fields and body.
    static func parse(_ text: String) -> CurlResult {
        var result = CurlResult(exitCode: 0)
        guard let split = text.range(of: "\r\n\r\n") else {
            result.body = text
            return result
        }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = lines.first?.split(separator: " ") ?? []
        result.httpVersion = status.first.map(String.init) ?? ""
        result.statusCode = status.dropFirst().first.flatMap { Int($0) } ?? 0
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            result.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        result.body = String(text[split.upperBound...])
        return result
    }
}
