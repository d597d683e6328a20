/// Request/response metadata (HTTP/2 headers minus pseudo-headers and reserved gRPC ones), names lowercased.
public struct GRPCMetadata: Sendable {
    /// The name/value pairs in wire order; names are lowercase.
    public var pairs: [(String, String)]

    public init() { pairs = [] }

    public init(_ pairs: [(String, String)]) {
        self.pairs = pairs.map { ($0.0.lowercased(), $0.1) }
    }

    /// The first value for `name` (compared case-insensitively), or nil.
    public subscript(name: String) -> String? {
        let lowered = name.lowercased()
        for (key, value) in pairs where key == lowered { return value }
        return nil
    }

    /// Appends a pair (the name is lowercased).
    public mutating func add(_ name: String, _ value: String) {
        pairs.append((name.lowercased(), value))
    }

    /// Whether a header name is kept out of metadata: HTTP/2 pseudo-headers and the headers gRPC itself owns
    /// (the list grpc-go's `isReservedHeader` uses; `user-agent` stays visible as in grpc-go).
    static func isReserved(_ name: UnsafeRawBufferPointer) -> Bool {
        if name.first == UInt8(ascii: ":") { return true }
        for reserved in reservedNames where reserved.count == name.count && reserved.elementsEqual(name) {
            return true
        }
        return false
    }

    private static let reservedNames: [[UInt8]] = [
        "content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "grpc-message",
        "grpc-status", "grpc-message-type", "grpc-status-details-bin",
    ].map { Array($0.utf8) }
}
