// Paths, operations, parameters, responses and security of gnostic's `openapi.v2` messages (see
// GnosticOpenAPIv2.swift for the mapping). kubectl's query-parameter verifier walks `paths`, picks the PATCH
// operation whose `x-kubernetes-group-version-kind` is the object's, and looks among its parameters for a
// `NonBodyParameter.query_parameter_sub_schema` named `fieldValidation`, or a `JsonReference` to one under the
// document's `parameters`.

extension GnosticDocumentEncoder {
    mutating func pathsFields(_ paths: JSONObject) {
        vendorExtensions(1, paths)
        namedEntries(2, paths, where: { $0.hasPrefix("/") }) { encoder, value in
            encoder.message(2, value) { $0.pathItemFields($1) }
        }
    }

    /// `PathItem`: `$ref` = 1, the operations get … patch = 2 … 8, parameters = 9.
    mutating func pathItemFields(_ pathItem: JSONObject) {
        string(1, pathItem["$ref"])
        let operations = ["get", "put", "post", "delete", "options", "head", "patch"]
        for (offset, method) in operations.enumerated() {
            message(2 + offset, pathItem[method]) { $0.operationFields($1) }
        }
        parametersItems(9, pathItem["parameters"])
        vendorExtensions(10, pathItem)
    }

    mutating func operationFields(_ operation: JSONObject) {
        strings(1, operation["tags"])
        string(2, operation["summary"])
        string(3, operation["description"])
        message(4, operation["externalDocs"]) { $0.externalDocsFields($1) }
        string(5, operation["operationId"])
        strings(6, operation["produces"])
        strings(7, operation["consumes"])
        parametersItems(8, operation["parameters"])
        message(9, operation["responses"]) { encoder, responses in
            encoder.namedEntries(1, responses, where: Self.isResponseCode) { $0.responseValue(2, $1) }
            encoder.vendorExtensions(2, responses)
        }
        strings(10, operation["schemes"])
        bool(11, operation["deprecated"])
        securityRequirements(12, operation["security"])
        vendorExtensions(13, operation)
    }

    /// Repeated `ParametersItem`: a `JsonReference` (2) for `$ref`, else a `Parameter` (1).
    mutating func parametersItems(_ number: Int, _ value: JSONValue?) {
        guard let elements = value?.arrayValue else { return }
        for element in elements {
            guard let object = element.objectValue else { continue }
            if object["$ref"] != nil {
                let start = writer.beginMessage(number)
                message(2, element) { $0.jsonReferenceFields($1) }
                writer.endMessage(start)
            } else if Self.parameterLocations.contains(object["in"]?.stringValue ?? "") {
                let start = writer.beginMessage(number)
                parameter(1, element)
                writer.endMessage(start)
            }
        }
    }

    private static let parameterLocations: Set<String> = ["body", "header", "formData", "query", "path"]

    /// `Parameter`: `BodyParameter` (1) or `NonBodyParameter` (2), whose oneof is header (1), formData (2),
    /// query (3) or path (4); chosen by `in`. An unknown `in` writes nothing.
    mutating func parameter(_ number: Int, _ value: JSONValue?) {
        guard let object = value?.objectValue, let location = object["in"]?.stringValue else { return }
        let nonBodyField: Int
        switch location {
        case "body":
            let start = writer.beginMessage(number)
            message(1, value) { $0.bodyParameterFields($1) }
            writer.endMessage(start)
            return
        case "header": nonBodyField = 1
        case "formData": nonBodyField = 2
        case "query": nonBodyField = 3
        case "path": nonBodyField = 4
        default: return
        }
        let start = writer.beginMessage(number)
        let nonBodyStart = writer.beginMessage(2)
        message(nonBodyField, value) { encoder, parameter in
            // Query and formData sub-schemas have `allow_empty_value` at 5, which shifts the rest by one.
            let hasAllowEmptyValue = nonBodyField == 2 || nonBodyField == 3
            encoder.bool(1, parameter["required"])
            encoder.string(2, parameter["in"])
            encoder.string(3, parameter["description"])
            encoder.string(4, parameter["name"])
            if hasAllowEmptyValue { encoder.bool(5, parameter["allowEmptyValue"]) }
            let first = hasAllowEmptyValue ? 6 : 5
            encoder.simpleSchemaFields(parameter, from: first)
            encoder.vendorExtensions(first + 17, parameter)
        }
        writer.endMessage(nonBodyStart)
        writer.endMessage(start)
    }

    mutating func bodyParameterFields(_ parameter: JSONObject) {
        string(1, parameter["description"])
        string(2, parameter["name"])
        string(3, parameter["in"])
        bool(4, parameter["required"])
        schema(5, parameter["schema"])
        vendorExtensions(6, parameter)
    }

    mutating func jsonReferenceFields(_ reference: JSONObject) {
        string(1, reference["$ref"])
        string(2, reference["description"])
    }

    /// Gnostic's `^([0-9]{3})$|^(default)$`.
    private static func isResponseCode(_ key: String) -> Bool {
        key == "default"
            || (key.utf8.count == 3 && key.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
    }

    /// `ResponseValue`: a `JsonReference` (2) for `$ref`, else a `Response` (1).
    mutating func responseValue(_ number: Int, _ value: JSONValue?) {
        guard let object = value?.objectValue else { return }
        let start = writer.beginMessage(number)
        if object["$ref"] != nil {
            message(2, value) { $0.jsonReferenceFields($1) }
        } else {
            message(1, value) { $0.responseFields($1) }
        }
        writer.endMessage(start)
    }

    mutating func responseFields(_ response: JSONObject) {
        string(1, response["description"])
        if let schema = response["schema"], let object = schema.objectValue {
            // `SchemaItem`: a `FileSchema` (2) for type `file`, else a `Schema` (1).
            let start = writer.beginMessage(2)
            if object["type"]?.stringValue == "file" {
                message(2, schema) { $0.fileSchemaFields($1) }
            } else {
                self.schema(1, schema)
            }
            writer.endMessage(start)
        }
        namedMap(3, response["headers"]) { encoder, value in
            encoder.message(2, value) { $0.headerFields($1) }
        }
        namedMap(4, response["examples"]) { $0.any(2, $1) }
        vendorExtensions(5, response)
    }

    /// Repeated `SecurityRequirement{repeated NamedStringArray{name, StringArray{value}}}` from a list of maps.
    mutating func securityRequirements(_ number: Int, _ value: JSONValue?) {
        messages(number, value) { encoder, requirement in
            encoder.namedEntries(1, requirement) { encoder, scopes in
                guard scopes.arrayValue != nil else { return }
                let start = encoder.writer.beginMessage(2)
                encoder.strings(1, scopes)
                encoder.writer.endMessage(start)
            }
        }
    }

    /// `SecurityDefinitionsItem`: basic (1), apiKey (2), or oauth2 by flow: implicit (3), password (4),
    /// application (5), accessCode (6).
    mutating func securityDefinitionsItem(_ number: Int, _ value: JSONValue?) {
        guard let object = value?.objectValue else { return }
        let choice: Int
        switch (object["type"]?.stringValue, object["flow"]?.stringValue) {
        case ("basic", _): choice = 1
        case ("apiKey", _): choice = 2
        case ("oauth2", "implicit"): choice = 3
        case ("oauth2", "password"): choice = 4
        case ("oauth2", "application"): choice = 5
        case ("oauth2", "accessCode"): choice = 6
        default: return
        }
        let start = writer.beginMessage(number)
        message(choice, value) { encoder, scheme in
            encoder.string(1, scheme["type"])
            switch choice {
            case 1:
                encoder.string(2, scheme["description"])
                encoder.vendorExtensions(3, scheme)
            case 2:
                encoder.string(2, scheme["name"])
                encoder.string(3, scheme["in"])
                encoder.string(4, scheme["description"])
                encoder.vendorExtensions(5, scheme)
            default:
                encoder.oauth2Fields(scheme, choice: choice)
            }
        }
        writer.endMessage(start)
    }

    /// The OAuth2 schemes: type = 1, flow = 2, scopes = 3, then the URLs their flow has, description, extensions.
    private mutating func oauth2Fields(_ scheme: JSONObject, choice: Int) {
        string(2, scheme["flow"])
        namedMap(3, scheme["scopes"]) { $0.string(2, $1) }
        var next = 4
        if choice == 3 || choice == 6 {
            string(next, scheme["authorizationUrl"])
            next += 1
        }
        if choice != 3 {
            string(next, scheme["tokenUrl"])
            next += 1
        }
        string(next, scheme["description"])
        vendorExtensions(next + 1, scheme)
    }
}
