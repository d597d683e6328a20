// How a message becomes JSON: as kube-apiserver's own path would have it (protobuf into the Go struct, then the
// Go struct through encoding/json), so the rest of Kelson sees what a JSON client would have sent.
//
// - Presence: Go's generated code writes every non-pointer field, even when zero (kubectl's ConfigMap carries
//   `generateName: ""`, `generation: 0`, an empty `creationTimestamp`). A present field is written unless Go's
//   JSON would leave it out: `omitempty` on a non-pointer string, number, bool, list or map holding its zero
//   value. A present pointer (`replicas: 0`) and a present struct (`status: {}`) are always written; an absent
//   field never is.
// - Order: fields in Go's declaration order; map keys sorted by their bytes, as encoding/json sorts them.
// - Embedded structs (`VolumeSource` in `Volume`, `ProbeHandler` in `Probe`) are flattened into their parent.
// - A singular message field seen twice is merged (protobuf's rule, which Go's generated code follows); a map
//   key seen twice keeps its last value; repeated scalars may be packed or not.

/// Decodes messages of one buffer with the field tables.
struct KubeProtobufDecoder {
    let schema: KubeProtobufSchema
    let bytes: [UInt8]

    private enum Slot {
        case absent
        case single(JSONValue)
        case list([JSONValue])
        /// The occurrences of a singular message field, merged when the field is read.
        case ranges([Range<Int>])
        case entries([String: JSONValue])
    }

    /// The message's JSON; nil for a zero `Time` or `MicroTime`, which is left out like the omitted field it was.
    func decode(_ messageIndex: Int, _ range: Range<Int>, depth: Int) throws(KubeProtobufError) -> JSONValue? {
        let message = schema.messages[messageIndex]
        guard depth <= KubeProtobuf.maximumNestingDepth else {
            throw KubeProtobufError(
                .tooDeep, "protobuf messages nested deeper than \(KubeProtobuf.maximumNestingDepth) levels")
        }
        if let wellKnown = message.wellKnownType {
            return try decodeWellKnown(wellKnown, range, depth: depth)
        }
        let object = try decodeFields(message, range, depth: depth)
        if message.isSlice { return object["items"] ?? .array([]) }
        return .object(object)
    }

    private func decodeFields(
        _ message: KubeProtobufSchema.Message, _ range: Range<Int>, depth: Int
    ) throws(KubeProtobufError) -> JSONObject {
        var slots = [Slot](repeating: .absent, count: message.fields.count)
        var reader = ProtobufWireReader(bytes, range: range)
        while !reader.isAtEnd {
            let (number, wireType) = try reader.readTag()
            guard let index = message.fieldIndex(number: number) else {
                try reader.skip(wireType)
                continue
            }
            let field = message.fields[index]
            switch field.type {
            case .map(let valueType):
                try expect(wireType, .lengthDelimited, message, field)
                let (key, value) = try decodeEntry(reader.readLengthDelimited(), valueType, depth: depth + 1)
                if case .entries(var entries) = slots[index] {
                    slots[index] = .absent
                    entries[key] = value
                    slots[index] = .entries(entries)
                } else {
                    slots[index] = .entries([key: value])
                }
            case .value(.message(let valueIndex)):
                try expect(wireType, .lengthDelimited, message, field)
                let valueRange = try reader.readLengthDelimited()
                if field.isRepeated {
                    append(try decode(valueIndex, valueRange, depth: depth + 1) ?? .null, to: &slots[index])
                } else if case .ranges(let ranges) = slots[index] {
                    slots[index] = .ranges(ranges + [valueRange])
                } else {
                    slots[index] = .ranges([valueRange])
                }
            case .value(.scalar(let scalar)):
                if field.isRepeated, wireType == .lengthDelimited, scalar.wireType == .varint {
                    var packed = ProtobufWireReader(bytes, range: try reader.readLengthDelimited())
                    while !packed.isAtEnd { append(try readScalar(scalar, &packed), to: &slots[index]) }
                    continue
                }
                try expect(wireType, scalar.wireType, message, field)
                let value = try readScalar(scalar, &reader)
                if field.isRepeated { append(value, to: &slots[index]) } else { slots[index] = .single(value) }
            }
        }
        var object = JSONObject()
        for (index, field) in message.fields.enumerated() {
            guard let value = try value(of: slots[index], field, depth: depth + 1) else { continue }
            if field.isInlined, case .object(let inlined) = value {
                for (key, inlinedValue) in inlined where object[key] == nil { object[key] = inlinedValue }
            } else if !Self.omits(field, value) {
                object[field.jsonName] = value
            }
        }
        return object
    }

    private func value(
        of slot: Slot, _ field: KubeProtobufSchema.Field, depth: Int
    ) throws(KubeProtobufError) -> JSONValue? {
        switch slot {
        case .absent: return nil
        case .single(let value): return value
        case .list(let values): return .array(values)
        case .entries(let entries):
            let keys = entries.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            return .object(JSONObject(uniqueEntries: keys.map { (key: $0, value: entries[$0]!) }))
        case .ranges(let ranges):
            guard case .value(.message(let messageIndex)) = field.type else { return nil }
            if ranges.count == 1 { return try decode(messageIndex, ranges[0], depth: depth) }
            // Protobuf merges repeated occurrences of a message field: decoding the concatenation does exactly that.
            let merged = ranges.flatMap { bytes[$0] }
            let decoder = KubeProtobufDecoder(schema: schema, bytes: merged)
            return try decoder.decode(messageIndex, 0..<merged.count, depth: depth)
        }
    }

    /// Go's encoding/json `omitempty` (and `omitzero`, the same for these types) on a non-pointer field; structs
    /// are never empty to Go (zero times were left out already).
    private static func omits(_ field: KubeProtobufSchema.Field, _ value: JSONValue) -> Bool {
        guard !field.isPointer, field.omitsEmpty || field.omitsZero else { return false }
        if case .value(.message) = field.type, !field.isRepeated { return false }
        switch value {
        case .string(let string): return string.isEmpty
        case .int(let int): return int == 0
        case .bool(let bool): return !bool
        case .array(let array): return array.isEmpty
        case .object(let object): return object.isEmpty
        case .null, .double: return false
        }
    }

    private func append(_ value: JSONValue, to slot: inout Slot) {
        if case .list(var values) = slot {
            slot = .absent
            values.append(value)
            slot = .list(values)
        } else {
            slot = .list([value])
        }
    }

    /// A map entry: key (field 1) and value (field 2), each its zero value when missing, as Go reads them.
    private func decodeEntry(
        _ range: Range<Int>, _ valueType: KubeProtobufSchema.ValueType, depth: Int
    ) throws(KubeProtobufError) -> (String, JSONValue) {
        var reader = ProtobufWireReader(bytes, range: range)
        var key = ""
        var value: JSONValue?
        while !reader.isAtEnd {
            let (number, wireType) = try reader.readTag()
            switch (number, valueType) {
            case (1, _):
                try expect(wireType, .lengthDelimited, entryOf: "key")
                key = try string(reader.readLengthDelimited())
            case (2, .scalar(let scalar)):
                try expect(wireType, scalar.wireType, entryOf: "value")
                value = try readScalar(scalar, &reader)
            case (2, .message(let messageIndex)):
                try expect(wireType, .lengthDelimited, entryOf: "value")
                value = try decode(messageIndex, reader.readLengthDelimited(), depth: depth) ?? .null
            default:
                try reader.skip(wireType)
            }
        }
        if let value { return (key, value) }
        switch valueType {
        case .scalar(.string), .scalar(.bytes): return (key, "")
        case .scalar(.bool): return (key, false)
        case .scalar(.int32), .scalar(.int64): return (key, 0)
        case .message(let messageIndex): return (key, try decode(messageIndex, 0..<0, depth: depth) ?? .null)
        }
    }

    private func readScalar(
        _ scalar: KubeProtobufSchema.Scalar, _ reader: inout ProtobufWireReader
    ) throws(KubeProtobufError) -> JSONValue {
        switch scalar {
        case .string: .string(try string(reader.readLengthDelimited()))
        case .bytes: .string(KubeProtobufText.base64(bytes[try reader.readLengthDelimited()]))
        case .bool: .bool(try reader.readVarint() != 0)
        // Go's generated code keeps the low 32 bits of the varint (negative int32s are sign-extended to 10 bytes).
        case .int32: .int(Int64(Int32(truncatingIfNeeded: try reader.readVarint())))
        case .int64: .int(Int64(bitPattern: try reader.readVarint()))
        }
    }

    /// Kelson refuses strings that are not UTF-8, as its JSON reader does (Go would replace the bytes).
    func string(_ range: Range<Int>) throws(KubeProtobufError) -> String {
        guard let string = String(validating: bytes[range], as: UTF8.self) else {
            throw KubeProtobufError(.malformed, "protobuf string at byte \(range.lowerBound) is not valid UTF-8")
        }
        return string
    }

    private func expect(
        _ wireType: ProtobufWireType, _ expected: ProtobufWireType, _ message: KubeProtobufSchema.Message,
        _ field: KubeProtobufSchema.Field
    ) throws(KubeProtobufError) {
        guard wireType != expected else { return }
        throw KubeProtobufError(
            .malformed, "proto: wrong wireType = \(wireType.rawValue) for field \(message.fullName).\(field.jsonName)")
    }

    private func expect(
        _ wireType: ProtobufWireType, _ expected: ProtobufWireType, entryOf part: String
    ) throws(KubeProtobufError) {
        guard wireType != expected else { return }
        throw KubeProtobufError(.malformed, "proto: wrong wireType = \(wireType.rawValue) for map entry \(part)")
    }
}
