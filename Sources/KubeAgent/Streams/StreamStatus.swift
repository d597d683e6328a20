import KubeAPI

/// How an exec or attach ended, as sent on the error channel. The wording is the kubelet's and the container
/// runtime's (`remotecommand.ServeExec`, the CRI streaming server's `CodeExitError`): kubectl turns
/// `NonZeroExitCode` into its own exit code and prints the rest.
public enum StreamStatus: Sendable, Equatable {
    case success
    /// The command exited with `code` (128 + the signal when a signal ended it).
    case exited(command: [String], code: Int)
    /// The command could not be run, or the attach failed.
    case internalError(String)

    /// The `metav1.Status` object, fields in Go's order.
    public var object: JSONValue {
        switch self {
        case .success:
            return ["metadata": .object(JSONObject()), "status": "Success"]
        case .exited(_, let code):
            return [
                "metadata": .object(JSONObject()), "status": "Failure", "message": .string(message),
                "reason": "NonZeroExitCode",
                "details": ["causes": [["reason": "ExitCode", "message": .string(String(code))]]],
            ]
        case .internalError(let detail):
            return [
                "metadata": .object(JSONObject()), "status": "Failure", "message": .string(message),
                "reason": "InternalError", "details": ["causes": [["message": .string(detail)]]], "code": 500,
            ]
        }
    }

    /// `StatusError.Error()`: the message.
    public var message: String {
        switch self {
        case .success:
            return ""
        case .exited(let command, let code):
            // Go's %v of a []string: the elements space-separated in brackets.
            let argv = "[" + command.joined(separator: " ") + "]"
            return "command terminated with non-zero exit code: error executing command \(argv), exit code \(code)"
        case .internalError(let detail):
            return "Internal error occurred: \(detail)"
        }
    }

    /// The error channel's payload under `channelProtocol`; nil when nothing is sent (success before v4).
    public func payload(for channelProtocol: ChannelProtocol) -> [UInt8]? {
        if channelProtocol.sendsStatusObject { return object.serialized() }
        return self == .success ? nil : Array(message.utf8)
    }
}
