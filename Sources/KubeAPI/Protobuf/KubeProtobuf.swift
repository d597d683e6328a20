// Kubernetes' protobuf media type (apimachinery runtime/serializer/protobuf): the 4 bytes `k8s\0`, then a
// `runtime.Unknown` message {typeMeta=1 {apiVersion=1, kind=2}, raw=2, contentEncoding=3, contentType=4} whose
// `raw` is the object's own message from the group's generated.proto. client-go (kubectl ≥1.32's `create`
// generators, `create token`) sends built-in kinds this way and does not fall back to JSON, so the server reads
// it. Like upstream's serializer, contentEncoding and contentType are not consulted.

/// Reads `application/vnd.kubernetes.protobuf` request bodies into the JSON the rest of Kelson handles.
public enum KubeProtobuf {
    /// The media type, as clients send it in `Content-Type`.
    public static let mediaType = "application/vnd.kubernetes.protobuf"
    /// How deep messages may nest inside one another (a Pod template in a Job in a CronJob is about 10).
    public static let maximumNestingDepth = 100

    static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]

    /// The object in a protobuf body, as JSON with `apiVersion` and `kind` first. The caller bounds the size.
    public static func decodeObject(_ bytes: [UInt8]) throws(KubeProtobufError) -> JSONValue {
        guard bytes.count >= magic.count, bytes.starts(with: magic) else {
            throw KubeProtobufError(
                .missingMagic,
                "provided data does not appear to be a protobuf message, expected prefix \(magic)")
        }
        guard bytes.count > magic.count else { throw KubeProtobufError(.truncated, "empty body") }
        let schema = KubeProtobufSchema.builtIn
        let decoder = KubeProtobufDecoder(schema: schema, bytes: bytes)
        let envelope = try Envelope(decoder, magic.count..<bytes.count)
        guard !envelope.kind.isEmpty else {
            throw KubeProtobufError(.unknownKind, "Object 'Kind' is missing in the protobuf envelope")
        }
        guard let groupVersion = GroupVersion(apiVersion: envelope.apiVersion) else {
            throw KubeProtobufError(
                .unknownKind, "Object 'apiVersion' is missing or malformed in the protobuf envelope")
        }
        let requested = KubeGroupVersionKind(
            group: groupVersion.group, version: groupVersion.version, kind: envelope.kind)
        guard let messageIndex = messageIndex(for: requested, in: schema) else {
            throw KubeProtobufError(
                .unknownKind, "no kind \"\(envelope.kind)\" is registered for version \"\(envelope.apiVersion)\"")
        }
        var object: JSONObject = ["apiVersion": .string(envelope.apiVersion), "kind": .string(envelope.kind)]
        if case .object(let fields) = try decoder.decode(messageIndex, envelope.raw, depth: 1) {
            for (key, value) in fields { object[key] = value }
        }
        return .object(object)
    }

    /// The kinds whose protobuf this build reads, at the versions their packages register; other versions of the
    /// same group (`batch/v1beta1`, `extensions/v1beta1` for apps) are read as these.
    public static let supportedKinds: [KubeGroupVersionKind] = KubeProtobufSchema.builtIn.kinds.keys.sorted {
        ($0.group, $0.version, $0.kind) < ($1.group, $1.version, $1.kind)
    }

    /// The full protobuf message name a body of this kind is read with (`k8s.io.api.apps.v1.Deployment`).
    public static func messageName(for kind: KubeGroupVersionKind) -> String? {
        let schema = KubeProtobufSchema.builtIn
        return messageIndex(for: kind, in: schema).map { schema.messages[$0].fullName }
    }

    /// The exact version's message; otherwise the group's stable one (Kelson stores one form per kind, and the
    /// beta versions it serves as aliases carry the same fields for what kubectl writes); `extensions/v1beta1`
    /// kinds moved to apps and networking; the options kinds (`DeleteOptions`) are registered in every version.
    private static func messageIndex(for requested: KubeGroupVersionKind, in schema: KubeProtobufSchema) -> Int? {
        if let index = schema.kinds[requested] { return index }
        let groups = requested.group == "extensions" ? ["apps", "networking.k8s.io"] : [requested.group]
        for group in groups {
            if let match = schema.kinds.first(where: { $0.key.group == group && $0.key.kind == requested.kind }) {
                return match.value
            }
        }
        return schema.kinds[KubeGroupVersionKind(group: "meta.k8s.io", version: "v1", kind: requested.kind)]
    }
}

/// The `runtime.Unknown` wrapper around the object.
private struct Envelope {
    var apiVersion = ""
    var kind = ""
    var raw: Range<Int> = 0..<0

    init(_ decoder: KubeProtobufDecoder, _ range: Range<Int>) throws(KubeProtobufError) {
        var reader = ProtobufWireReader(decoder.bytes, range: range)
        while !reader.isAtEnd {
            let (number, wireType) = try reader.readTag()
            guard number == 1 || number == 2 else {
                try reader.skip(wireType)
                continue
            }
            guard wireType == .lengthDelimited else {
                throw KubeProtobufError(
                    .malformed, "proto: wrong wireType = \(wireType.rawValue) for field \(number) of runtime.Unknown")
            }
            let value = try reader.readLengthDelimited()
            if number == 2 {
                raw = value
                continue
            }
            var typeMeta = ProtobufWireReader(decoder.bytes, range: value)
            while !typeMeta.isAtEnd {
                let (typeMetaNumber, typeMetaWireType) = try typeMeta.readTag()
                guard typeMetaNumber == 1 || typeMetaNumber == 2, typeMetaWireType == .lengthDelimited else {
                    try typeMeta.skip(typeMetaWireType)
                    continue
                }
                let text = try decoder.string(typeMeta.readLengthDelimited())
                if typeMetaNumber == 1 { apiVersion = text } else { kind = text }
            }
        }
    }
}
