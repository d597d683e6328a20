import Foundation
import GRPCWire

/// The WebSocket subprotocols of exec and attach (`k8s.io/apimachinery/pkg/util/remotecommand`, the kubelet's
/// and the API server's `wsstream`). Every message is one channel: a leading byte names it (0 stdin, 1 stdout,
/// 2 stderr, 3 error, 4 resize), the rest is its payload. The base64 variants send text: the channel as an ASCII
/// digit, then the payload in base64. v4 and later send the outcome on the error channel as a JSON
/// `metav1.Status` (older ones send only a failure's message); v5 adds channel 255, "this channel is closed",
/// whose payload is the channel's number (kubectl closes stdin with it).
public enum ChannelProtocol: String, Sendable, CaseIterable {
    case v5 = "v5.channel.k8s.io"
    case v4 = "v4.channel.k8s.io"
    case v4Base64 = "v4.base64.channel.k8s.io"
    case v3 = "v3.channel.k8s.io"
    case v2 = "v2.channel.k8s.io"
    case v1 = "channel.k8s.io"
    case v1Base64 = "base64.channel.k8s.io"

    public static let stdin: UInt8 = 0
    public static let stdout: UInt8 = 1
    public static let stderr: UInt8 = 2
    public static let error: UInt8 = 3
    public static let resize: UInt8 = 4
    public static let close: UInt8 = 255

    /// Result of negotiation: the protocol, and the name to answer in `Sec-WebSocket-Protocol` (nil when the
    /// client offered none and gets the unversioned binary protocol).
    public struct Agreement: Sendable, Equatable {
        public var channelProtocol: ChannelProtocol
        public var subprotocol: String?
    }

    /// Picks the first protocol the client offers that is supported, as `wsstream`'s handshake does (kubectl
    /// offers the newest first); a client that offers none gets `channel.k8s.io`; nil when none of its offers is
    /// supported (the upgrade is refused).
    public static func negotiate(offered: [String]) -> Agreement? {
        guard !offered.isEmpty else { return Agreement(channelProtocol: .v1, subprotocol: nil) }
        for name in offered {
            if let found = ChannelProtocol(rawValue: name) {
                return Agreement(channelProtocol: found, subprotocol: name)
            }
        }
        return nil
    }

    /// The subprotocols in a request's `Sec-WebSocket-Protocol` headers (comma-separated, possibly repeated).
    public static func offered(in request: HTTPRequest) -> [String] {
        request.headers.filter { $0.name == "sec-websocket-protocol" }
            .flatMap { $0.value.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    public var isBase64: Bool { self == .v4Base64 || self == .v1Base64 }
    /// v4 and later: the status is JSON, success included.
    public var sendsStatusObject: Bool { self == .v5 || self == .v4 || self == .v4Base64 }
    public var supportsClose: Bool { self == .v5 }

    /// One message carrying `payload` on `channel`.
    public func frame(channel: UInt8, _ payload: [UInt8]) -> WebSocketSession.Message {
        if isBase64 {
            return .text(String(UnicodeScalar(UInt8(ascii: "0") + channel)) + Data(payload).base64EncodedString())
        }
        return .binary([channel] + payload)
    }

    /// What a client's message says: data on a channel, or (v5) that the client closed one. Nil for an empty or
    /// undecodable message, which is ignored as `wsstream` ignores it.
    public func unframe(_ message: WebSocketSession.Message) -> InboundFrame? {
        var bytes: [UInt8]
        switch message {
        case .binary(let data): bytes = data
        case .text(let text): bytes = Array(text.utf8)
        }
        guard var channel = bytes.first else { return nil }
        bytes.removeFirst()
        if isBase64 {
            channel = channel &- UInt8(ascii: "0")
            guard let decoded = Data(base64Encoded: Data(bytes)) else { return nil }
            bytes = Array(decoded)
        }
        if supportsClose && channel == Self.close {
            guard bytes.count == 1 else { return nil }
            return .closed(channel: bytes[0])
        }
        return .data(channel: channel, bytes)
    }

    public enum InboundFrame: Sendable, Equatable {
        case data(channel: UInt8, [UInt8])
        case closed(channel: UInt8)
    }
}
