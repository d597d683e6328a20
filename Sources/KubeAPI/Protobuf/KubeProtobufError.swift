/// Why a `application/vnd.kubernetes.protobuf` body could not be read.
public struct KubeProtobufError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, in broad strokes; the exact text is `message`.
    public enum Kind: Sendable, Equatable {
        /// The body does not start with the 4 bytes `k8s\0`.
        case missingMagic
        /// A varint, length or value runs past the end of its message.
        case truncated
        /// The bytes are not protobuf: a bad tag, wire type, varint or string.
        case malformed
        /// The envelope names an apiVersion and kind that have no message here.
        case unknownKind
        /// Messages nested deeper than `KubeProtobuf.maximumNestingDepth`.
        case tooDeep
        /// Well-formed protobuf holding a value Kubernetes refuses (an IntOrString of type 7, a time in year 20000).
        case invalidValue
    }

    /// The class of error.
    public let kind: Kind
    /// A sentence for the client, naming the message and field where that helps.
    public let message: String

    public var description: String { message }

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}
