/// A gRPC status: a code and a message, carried on the wire in the `grpc-status` and `grpc-message` trailers.
public struct GRPCStatus: Error, Sendable, Equatable, CustomStringConvertible {
    /// A gRPC status code (https://github.com/grpc/grpc/blob/master/doc/statuscodes.md).
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        public static let ok = Code(rawValue: 0)
        public static let cancelled = Code(rawValue: 1)
        public static let unknown = Code(rawValue: 2)
        public static let invalidArgument = Code(rawValue: 3)
        public static let deadlineExceeded = Code(rawValue: 4)
        public static let notFound = Code(rawValue: 5)
        public static let alreadyExists = Code(rawValue: 6)
        public static let permissionDenied = Code(rawValue: 7)
        public static let resourceExhausted = Code(rawValue: 8)
        public static let failedPrecondition = Code(rawValue: 9)
        public static let aborted = Code(rawValue: 10)
        public static let outOfRange = Code(rawValue: 11)
        public static let unimplemented = Code(rawValue: 12)
        public static let internalError = Code(rawValue: 13)
        public static let unavailable = Code(rawValue: 14)
        public static let dataLoss = Code(rawValue: 15)
        public static let unauthenticated = Code(rawValue: 16)

        private static let names = [
            "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
            "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
            "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated",
        ]

        /// The name grpc-go prints for the code (`codes.Code.String()`).
        public var description: String {
            Code.names.indices.contains(rawValue) ? Code.names[rawValue] : "Code(\(rawValue))"
        }
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The OK status with an empty message.
    public static let ok = GRPCStatus(code: .ok, message: "")

    /// Formatted like grpc-go's `status.Error`: `rpc error: code = Unavailable desc = ...`.
    public var description: String { "rpc error: code = \(code) desc = \(message)" }
}

extension GRPCStatus {
    /// Maps any error a handler throws to a status: a `GRPCStatus` as is, anything else to `.unknown`.
    static func from(_ error: any Error) -> GRPCStatus {
        if let status = error as? GRPCStatus { return status }
        return GRPCStatus(code: .unknown, message: String(describing: error))
    }

    static let deadlineExceeded = GRPCStatus(code: .deadlineExceeded, message: "context deadline exceeded")
    static let streamCancelled = GRPCStatus(code: .cancelled, message: "context canceled")
}

/// `grpc-message` encoding: the gRPC HTTP/2 spec percent-encodes every byte outside 0x20...0x7E and `%` itself
/// (as `%XX`, upper-case hex) of the UTF-8 message.
enum StatusMessageCoding {
    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    static func needsEncoding(_ byte: UInt8) -> Bool { byte < 0x20 || byte > 0x7E || byte == UInt8(ascii: "%") }

    static func encode(_ message: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.utf8.count)
        for byte in message.utf8 {
            if needsEncoding(byte) {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            } else {
                out.append(byte)
            }
        }
        return out
    }

    /// Decodes `%XX` sequences; malformed sequences are kept verbatim, as grpc-go does.
    static func decode(_ bytes: UnsafeRawBufferPointer) -> String {
        guard bytes.contains(UInt8(ascii: "%")) else { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
