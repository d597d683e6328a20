import GRPCWire
import KubeAPI

/// What an exec or attach request asks for, from its query (`PodExecOptions` / `PodAttachOptions` as the API server
/// passes them on: `command` repeated, `container`, and the `stdin`, `stdout`, `stderr`, `tty` flags).
public struct StreamOptions: Sendable, Equatable {
    /// The argv to run (exec only; empty for attach).
    public var command: [String] = []
    /// The container named in the request; nil when the request names none (the agent picks the pod's only one).
    public var container: String?
    public var stdin = false
    public var stdout = false
    public var stderr = false
    public var tty = false

    public init(
        command: [String] = [], container: String? = nil, stdin: Bool = false, stdout: Bool = false,
        stderr: Bool = false, tty: Bool = false
    ) {
        self.command = command
        self.container = container
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.tty = tty
    }

    /// Parses and checks a request's query the way the kubelet does (`remotecommand.NewOptions`): with a tty,
    /// stderr is dropped (a terminal has one output); at least one of the three streams is required. Exec also
    /// needs a command.
    public static func parse(query: String, requiresCommand: Bool) throws(KubeError) -> StreamOptions {
        var options = StreamOptions()
        for (name, value) in QueryItems.parse(query) {
            switch name {
            case "command": options.command.append(value)
            case "container": options.container = value.isEmpty ? nil : value
            case "stdin": options.stdin = try flag(value)
            case "stdout": options.stdout = try flag(value)
            case "stderr": options.stderr = try flag(value)
            case "tty": options.tty = try flag(value)
            default: break
            }
        }
        if options.tty && options.stderr { options.stderr = false }
        guard options.stdin || options.stdout || options.stderr else {
            throw .badRequest("you must specify at least 1 of stdin, stdout, stderr")
        }
        if requiresCommand && options.command.isEmpty {
            throw .badRequest("you must specify at least 1 command")
        }
        return options
    }

    /// Go's `strconv.ParseBool`, which decodes the API server's boolean query parameters (kubectl sends `true`,
    /// the API server's proxy `1`).
    static func flag(_ value: String) throws(KubeError) -> Bool {
        switch value {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default: throw .badRequest("strconv.ParseBool: parsing \"\(value)\": invalid syntax")
        }
    }
}

/// `name=value` pairs of a URL query, percent- and `+`-decoded, in order (names may repeat).
enum QueryItems {
    static func parse(_ query: String) -> [(String, String)] {
        query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    static func decode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var rest = Array(text.utf8)[...]
        while let byte = rest.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), rest.count >= 2,
                let value = UInt8(String(decoding: rest.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                rest = rest.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
