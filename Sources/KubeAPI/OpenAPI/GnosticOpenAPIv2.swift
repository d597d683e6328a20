// The protobuf form of `/openapi/v2` that kubectl asks for (`Accept: application/com.github.proto-openapi.spec.v2@
// v1.0+protobuf`) and decodes as gnostic's `openapi.v2.Document` (google/gnostic-models `openapiv2/OpenAPIv2.proto`;
// field numbers below are that file's). kube-apiserver makes it with kube-openapi's `ToProtoBinary`, which parses
// the Swagger JSON with gnostic's `ParseDocument` and marshals the result; this file follows gnostic's mapping:
// - each JSON key with a slot goes to that field (`$ref` to `_ref`, `basePath` to `base_path`, and so on), fields
//   in number order, scalars at their zero value left out; keys that start with `x-` go, in document order, to the
//   message's `vendor_extension` as `NamedAny{name, value: Any{yaml}}`, `yaml` holding the value's text;
// - maps (`definitions`, `properties`, `parameters`, `responses`, `securityDefinitions`, `headers`) become a
//   wrapper whose field 1 repeats `Named…{name = 1, value = 2}` in document order; `paths` keeps keys starting
//   with `/` in `path` (2) and `x-` keys in `vendor_extension` (1); `responses` keeps status codes and `default`;
// - oneofs are chosen as gnostic's matching ends up choosing them: a parameter by `in` (body or one of the four
//   non-body sub-schemas), a parameter or response with `$ref` becomes a `JsonReference`, `additionalProperties`
//   is a boolean (written even when false) or else a schema, a response schema of type `file` a `FileSchema`, a
//   security definition by `type` and `flow`;
// - `type` becomes `TypeItem{value}` from a string or a list; `items` becomes `ItemsItem{schema}` with one schema;
//   `default`, `example` and `enum` values are `Any{yaml}` like extensions.
// Keys with no slot are left out (gnostic would refuse the document); so are values of the wrong JSON type, but
// where a schema goes, gnostic reads any value as a schema, an empty one unless it is an object, and so do we.
//
// The one difference from kube-apiserver's bytes: gnostic writes an `Any`'s value as block YAML (`- group: apps`),
// we write it as JSON, which YAML reads as flow style. Every reader `yaml.Unmarshal`s it (kubectl's query-parameter
// verifier into `map[string]string` for a PATCH operation's `x-kubernetes-group-version-kind`, kube-openapi's
// models for explain and validation into `interface{}`), and reads the same value, except that a string like `yes`
// or `on`, which gnostic leaves unquoted and go-yaml v2 then reads as a boolean, stays a string here. Checked
// against gnostic's own output for a full kube-apiserver swagger document: identical up to that text.

/// Encodes a Swagger 2.0 document as the gnostic `openapi.v2.Document` protobuf that kubectl reads.
public enum GnosticOpenAPIv2 {
    /// The media type kubectl 1.27 and 1.28 ask `/openapi/v2` for.
    public static let mediaType = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"

    /// The media type kube-apiserver names in `Content-Type` when it answers either protobuf media type.
    public static let responseMediaType = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

    /// How deeply schemas (and parameter `items`) may nest; deeper ones are left out rather than overflow the stack.
    public static let maximumSchemaDepth = 256

    /// The document as `openapi.v2.Document` bytes; anything but a JSON object encodes as an empty document.
    public static func encode(_ swagger: JSONValue) -> [UInt8] {
        guard let document = swagger.objectValue else { return [] }
        var encoder = GnosticDocumentEncoder()
        encoder.documentFields(document)
        return encoder.writer.bytes
    }
}

/// Writes gnostic messages from Swagger JSON; one `…Fields` method per message writes that message's content.
struct GnosticDocumentEncoder {
    var writer = GnosticProtobufWriter()
    /// How many schemas enclose the one being written.
    var schemaDepth = 0

    mutating func documentFields(_ document: JSONObject) {
        string(1, document["swagger"])
        message(2, document["info"]) { $0.infoFields($1) }
        string(3, document["host"])
        string(4, document["basePath"])
        strings(5, document["schemes"])
        strings(6, document["consumes"])
        strings(7, document["produces"])
        message(8, document["paths"]) { $0.pathsFields($1) }
        namedMap(9, document["definitions"]) { $0.schema(2, $1) }
        namedMap(10, document["parameters"]) { $0.parameter(2, $1) }
        namedMap(11, document["responses"]) { encoder, value in
            encoder.message(2, value) { $0.responseFields($1) }
        }
        securityRequirements(12, document["security"])
        namedMap(13, document["securityDefinitions"]) { $0.securityDefinitionsItem(2, $1) }
        messages(14, document["tags"]) { $0.tagFields($1) }
        message(15, document["externalDocs"]) { $0.externalDocsFields($1) }
        vendorExtensions(16, document)
    }

    mutating func infoFields(_ info: JSONObject) {
        string(1, info["title"])
        string(2, info["version"])
        string(3, info["description"])
        string(4, info["termsOfService"])
        message(5, info["contact"]) { encoder, contact in
            encoder.string(1, contact["name"])
            encoder.string(2, contact["url"])
            encoder.string(3, contact["email"])
            encoder.vendorExtensions(4, contact)
        }
        message(6, info["license"]) { encoder, license in
            encoder.string(1, license["name"])
            encoder.string(2, license["url"])
            encoder.vendorExtensions(3, license)
        }
        vendorExtensions(7, info)
    }

    mutating func externalDocsFields(_ externalDocs: JSONObject) {
        string(1, externalDocs["description"])
        string(2, externalDocs["url"])
        vendorExtensions(3, externalDocs)
    }

    mutating func tagFields(_ tag: JSONObject) {
        string(1, tag["name"])
        string(2, tag["description"])
        message(3, tag["externalDocs"]) { $0.externalDocsFields($1) }
        vendorExtensions(4, tag)
    }

    // MARK: - Field helpers: each writes nothing when the value is missing or of the wrong JSON type.

    /// A sub-message from a JSON object.
    mutating func message(_ number: Int, _ value: JSONValue?, _ fields: (inout Self, JSONObject) -> Void) {
        guard let object = value?.objectValue else { return }
        let start = writer.beginMessage(number)
        fields(&self, object)
        writer.endMessage(start)
    }

    /// A repeated sub-message from a JSON array of objects.
    mutating func messages(_ number: Int, _ value: JSONValue?, _ fields: (inout Self, JSONObject) -> Void) {
        guard let elements = value?.arrayValue else { return }
        for element in elements { message(number, element, fields) }
    }

    /// A map message (`Definitions`, `Properties`, …): field 1 repeats `Named…{name = 1, value = 2}`.
    mutating func namedMap(_ number: Int, _ value: JSONValue?, _ entryValue: (inout Self, JSONValue) -> Void) {
        guard let object = value?.objectValue else { return }
        let start = writer.beginMessage(number)
        namedEntries(1, object, entryValue)
        writer.endMessage(start)
    }

    /// `Named…{name = 1, value = 2}` in field `number` for each entry whose key passes `isIncluded`.
    mutating func namedEntries(
        _ number: Int, _ object: JSONObject, where isIncluded: (String) -> Bool = { _ in true },
        _ entryValue: (inout Self, JSONValue) -> Void
    ) {
        for (key, value) in object where isIncluded(key) {
            let start = writer.beginMessage(number)
            if !key.isEmpty { writer.appendStringField(1, key) }
            entryValue(&self, value)
            writer.endMessage(start)
        }
    }

    /// The object's `x-` keys as `NamedAny` entries.
    mutating func vendorExtensions(_ number: Int, _ object: JSONObject) {
        namedEntries(number, object, where: { $0.hasPrefix("x-") }) { $0.any(2, $1) }
    }

    /// An `Any{yaml = 2}` holding the value's text.
    mutating func any(_ number: Int, _ value: JSONValue?) {
        guard let value else { return }
        let start = writer.beginMessage(number)
        writer.appendStringField(2, GnosticOpenAPIv2.yamlText(value))
        writer.endMessage(start)
    }

    /// A repeated `Any` from a JSON array.
    mutating func anys(_ number: Int, _ value: JSONValue?) {
        guard let elements = value?.arrayValue else { return }
        for element in elements { any(number, element) }
    }

    /// A string; gnostic also takes an integer's digits.
    mutating func string(_ number: Int, _ value: JSONValue?) {
        guard let text = Self.text(value), !text.isEmpty else { return }
        writer.appendStringField(number, text)
    }

    /// A repeated string from a JSON array (elements of other types are skipped, as gnostic skips them).
    mutating func strings(_ number: Int, _ value: JSONValue?) {
        guard let elements = value?.arrayValue else { return }
        for element in elements {
            if let text = Self.text(element) { writer.appendStringField(number, text) }
        }
    }

    mutating func bool(_ number: Int, _ value: JSONValue?) {
        guard value?.boolValue == true else { return }
        writer.appendVarintField(number, 1)
    }

    mutating func int64(_ number: Int, _ value: JSONValue?) {
        guard let integer = value?.intValue, integer != 0 else { return }
        writer.appendVarintField(number, UInt64(bitPattern: integer))
    }

    mutating func double(_ number: Int, _ value: JSONValue?) {
        let double: Double
        switch value {
        case .int(let integer): double = Double(integer)
        case .double(let value): double = value
        default: return
        }
        guard double.bitPattern != 0 else { return }
        writer.appendDoubleField(number, double)
    }

    private static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let string): string
        case .int(let integer): String(integer)
        default: nil
        }
    }
}
