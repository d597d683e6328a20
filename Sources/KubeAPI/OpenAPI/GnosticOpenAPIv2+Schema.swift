// Schemas of gnostic's `openapi.v2` messages (see GnosticOpenAPIv2.swift for the mapping). kubectl's explain and
// validation build their models from `definitions` with kube-openapi's `NewOpenAPIData`, which reads `_ref`
// (`#/definitions/…`), `type` (`TypeItem`), `properties` (present, even empty, means a kind), `items`
// (`ItemsItem`, exactly one schema), `additionalProperties` (its schema), `required`, `description`, `default`
// and the `x-` extensions (`x-kubernetes-group-version-kind` as a list of {group, version, kind}).

extension GnosticDocumentEncoder {
    /// A `Schema` sub-message; past `GnosticOpenAPIv2.maximumSchemaDepth` nested schemas, nothing. A value that is
    /// not an object gives an empty schema, as in gnostic (which reads any YAML node as a map with no keys): so
    /// `items: [a, b]` gives one empty item schema, which kube-openapi reads as an arbitrary value.
    mutating func schema(_ number: Int, _ value: JSONValue?) {
        guard let value, schemaDepth < GnosticOpenAPIv2.maximumSchemaDepth else { return }
        schemaDepth += 1
        defer { schemaDepth -= 1 }
        let start = writer.beginMessage(number)
        if let object = value.objectValue { schemaFields(object) }
        writer.endMessage(start)
    }

    mutating func schemaFields(_ schema: JSONObject) {
        string(1, schema["$ref"])
        string(2, schema["format"])
        string(3, schema["title"])
        string(4, schema["description"])
        any(5, schema["default"])
        double(6, schema["multipleOf"])
        double(7, schema["maximum"])
        bool(8, schema["exclusiveMaximum"])
        double(9, schema["minimum"])
        bool(10, schema["exclusiveMinimum"])
        int64(11, schema["maxLength"])
        int64(12, schema["minLength"])
        string(13, schema["pattern"])
        int64(14, schema["maxItems"])
        int64(15, schema["minItems"])
        bool(16, schema["uniqueItems"])
        int64(17, schema["maxProperties"])
        int64(18, schema["minProperties"])
        strings(19, schema["required"])
        anys(20, schema["enum"])
        additionalProperties(21, schema["additionalProperties"])
        typeItem(22, schema["type"])
        itemsItem(23, schema["items"])
        if let allOf = schema["allOf"]?.arrayValue {
            for element in allOf { self.schema(24, element) }
        }
        namedMap(25, schema["properties"]) { $0.schema(2, $1) }
        string(26, schema["discriminator"])
        bool(27, schema["readOnly"])
        message(28, schema["xml"]) { encoder, xml in
            encoder.string(1, xml["name"])
            encoder.string(2, xml["namespace"])
            encoder.string(3, xml["prefix"])
            encoder.bool(4, xml["attribute"])
            encoder.bool(5, xml["wrapped"])
            encoder.vendorExtensions(6, xml)
        }
        message(29, schema["externalDocs"]) { $0.externalDocsFields($1) }
        any(30, schema["example"])
        vendorExtensions(31, schema)
    }

    /// `AdditionalPropertiesItem`: a boolean (2, written even when false: it is a oneof), else a schema (1).
    private mutating func additionalProperties(_ number: Int, _ value: JSONValue?) {
        guard let value else { return }
        let start = writer.beginMessage(number)
        if let allowed = value.boolValue {
            writer.appendVarintField(2, allowed ? 1 : 0)
        } else {
            schema(1, value)
        }
        writer.endMessage(start)
    }

    /// `TypeItem{repeated string value = 1}` from one type name or a list of them.
    private mutating func typeItem(_ number: Int, _ value: JSONValue?) {
        guard let value, value.stringValue != nil || value.arrayValue != nil else { return }
        let start = writer.beginMessage(number)
        if let name = value.stringValue { writer.appendStringField(1, name) } else { strings(1, value) }
        writer.endMessage(start)
    }

    /// `ItemsItem{repeated Schema schema = 1}`: gnostic reads one schema, whatever the value (see `schema`).
    private mutating func itemsItem(_ number: Int, _ value: JSONValue?) {
        guard let value else { return }
        let start = writer.beginMessage(number)
        schema(1, value)
        writer.endMessage(start)
    }

    /// The run of fields `type` … `multipleOf` that parameters, headers and primitive items share, numbered from
    /// `first`: type, format, items (`PrimitivesItems`), collectionFormat, default, maximum, exclusiveMaximum,
    /// minimum, exclusiveMinimum, maxLength, minLength, pattern, maxItems, minItems, uniqueItems, enum, multipleOf.
    mutating func simpleSchemaFields(_ object: JSONObject, from first: Int) {
        string(first, object["type"])
        string(first + 1, object["format"])
        primitivesItems(first + 2, object["items"])
        string(first + 3, object["collectionFormat"])
        any(first + 4, object["default"])
        double(first + 5, object["maximum"])
        bool(first + 6, object["exclusiveMaximum"])
        double(first + 7, object["minimum"])
        bool(first + 8, object["exclusiveMinimum"])
        int64(first + 9, object["maxLength"])
        int64(first + 10, object["minLength"])
        string(first + 11, object["pattern"])
        int64(first + 12, object["maxItems"])
        int64(first + 13, object["minItems"])
        bool(first + 14, object["uniqueItems"])
        anys(first + 15, object["enum"])
        double(first + 16, object["multipleOf"])
    }

    /// `PrimitivesItems`: the simple-schema run from 1, extensions at 18. Nests like schemas, under the same limit.
    private mutating func primitivesItems(_ number: Int, _ value: JSONValue?) {
        guard schemaDepth < GnosticOpenAPIv2.maximumSchemaDepth else { return }
        schemaDepth += 1
        defer { schemaDepth -= 1 }
        message(number, value) { encoder, items in
            encoder.simpleSchemaFields(items, from: 1)
            encoder.vendorExtensions(18, items)
        }
    }

    /// A response `Header`: the simple-schema run from 1, description at 18, extensions at 19.
    mutating func headerFields(_ header: JSONObject) {
        simpleSchemaFields(header, from: 1)
        string(18, header["description"])
        vendorExtensions(19, header)
    }

    mutating func fileSchemaFields(_ schema: JSONObject) {
        string(1, schema["format"])
        string(2, schema["title"])
        string(3, schema["description"])
        any(4, schema["default"])
        strings(5, schema["required"])
        string(6, schema["type"])
        bool(7, schema["readOnly"])
        message(8, schema["externalDocs"]) { $0.externalDocsFields($1) }
        any(9, schema["example"])
        vendorExtensions(10, schema)
    }
}

extension GnosticOpenAPIv2 {
    /// The text of an `Any`'s `yaml` field: the value as compact JSON, which YAML reads as flow style, and a
    /// newline, as gnostic's YAML ends. The YAML reader (go-yaml) refuses some characters JSON leaves raw: DEL,
    /// the C1 controls, U+FEFF, U+FFFE and U+FFFF; they can only sit inside strings, so they are escaped there.
    static func yamlText(_ value: JSONValue) -> String {
        let json = value.serialized()
        var text: [UInt8] = []
        text.reserveCapacity(json.count + 1)
        var index = 0
        while index < json.count {
            let byte = json[index]
            if byte == 0x7F {
                appendEscape(0x7F, to: &text)
            } else if byte == 0xC2, index + 1 < json.count, json[index + 1] < 0xA0 {
                appendEscape(UInt32(json[index + 1]), to: &text)
                index += 1
            } else if byte == 0xEF, index + 2 < json.count,
                (json[index + 1] == 0xBB && json[index + 2] == 0xBF)
                    || (json[index + 1] == 0xBF && json[index + 2] >= 0xBE)
            {
                let scalar = (UInt32(json[index + 1] & 0x3F) << 6 | UInt32(json[index + 2] & 0x3F)) | 0xF000
                appendEscape(scalar, to: &text)
                index += 2
            } else {
                text.append(byte)
            }
            index += 1
        }
        text.append(UInt8(ascii: "\n"))
        return String(decoding: text, as: UTF8.self)
    }

    private static func appendEscape(_ scalar: UInt32, to text: inout [UInt8]) {
        let digits = Array("0123456789abcdef".utf8)
        text.append(contentsOf: "\\u".utf8)
        for shift in stride(from: 12, through: 0, by: -4) {
            text.append(digits[Int(scalar >> UInt32(shift) & 0xF)])
        }
    }
}
