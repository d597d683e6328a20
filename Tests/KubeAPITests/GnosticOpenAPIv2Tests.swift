import Foundation
import Testing

@testable import KubeAPI

// The encoder is checked two ways: the bytes of small documents by hand, and a document like kube-apiserver's
// decoded by the real `protoc` (installed by scripts/install-deps) against the subset of gnostic's
// `openapiv2/OpenAPIv2.proto` written out below, whose field numbers are the upstream ones.

/// The messages of gnostic's `openapi.v2` that `deploymentSwagger` uses, with the upstream field numbers.
private let gnosticSubsetProto = """
    syntax = "proto3";
    package openapi.v2;
    message Document {
      string swagger = 1;
      Info info = 2;
      Paths paths = 8;
      Definitions definitions = 9;
      ParameterDefinitions parameters = 10;
      repeated NamedAny vendor_extension = 16;
    }
    message Info { string title = 1; string version = 2; }
    message Any { string yaml = 2; }
    message NamedAny { string name = 1; Any value = 2; }
    message Paths { repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2; }
    message NamedPathItem { string name = 1; PathItem value = 2; }
    message PathItem {
      Operation get = 2;
      Operation patch = 8;
      repeated ParametersItem parameters = 9;
      repeated NamedAny vendor_extension = 10;
    }
    message Operation {
      string description = 3;
      string operation_id = 5;
      repeated string consumes = 7;
      repeated ParametersItem parameters = 8;
      Responses responses = 9;
      repeated NamedAny vendor_extension = 13;
    }
    message ParametersItem { oneof oneof { Parameter parameter = 1; JsonReference json_reference = 2; } }
    message JsonReference { string _ref = 1; string description = 2; }
    message Parameter { oneof oneof { BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2; } }
    message BodyParameter { string name = 2; string in = 3; bool required = 4; Schema schema = 5; }
    message NonBodyParameter {
      oneof oneof {
        QueryParameterSubSchema query_parameter_sub_schema = 3;
        PathParameterSubSchema path_parameter_sub_schema = 4;
      }
    }
    message QueryParameterSubSchema {
      bool required = 1;
      string in = 2;
      string description = 3;
      string name = 4;
      string type = 6;
      bool unique_items = 20;
    }
    message PathParameterSubSchema {
      bool required = 1;
      string in = 2;
      string description = 3;
      string name = 4;
      string type = 5;
    }
    message Responses { repeated NamedResponseValue response_code = 1; }
    message NamedResponseValue { string name = 1; ResponseValue value = 2; }
    message ResponseValue { oneof oneof { Response response = 1; JsonReference json_reference = 2; } }
    message Response { string description = 1; SchemaItem schema = 2; }
    message SchemaItem { oneof oneof { Schema schema = 1; } }
    message ParameterDefinitions { repeated NamedParameter additional_properties = 1; }
    message NamedParameter { string name = 1; Parameter value = 2; }
    message Definitions { repeated NamedSchema additional_properties = 1; }
    message NamedSchema { string name = 1; Schema value = 2; }
    message Schema {
      string _ref = 1;
      string format = 2;
      string description = 4;
      repeated string required = 19;
      AdditionalPropertiesItem additional_properties = 21;
      TypeItem type = 22;
      ItemsItem items = 23;
      Properties properties = 25;
      repeated NamedAny vendor_extension = 31;
    }
    message AdditionalPropertiesItem { oneof oneof { Schema schema = 1; bool boolean = 2; } }
    message TypeItem { repeated string value = 1; }
    message ItemsItem { repeated Schema schema = 1; }
    message Properties { repeated NamedSchema additional_properties = 1; }
    """

private let deploymentSwagger = #"""
    {
      "swagger": "2.0",
      "info": {"title": "Kubernetes", "version": "v1.27.0"},
      "paths": {
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}": {
          "patch": {
            "description": "partially update the specified Deployment",
            "consumes": ["application/strategic-merge-patch+json", "application/apply-patch+yaml"],
            "operationId": "patchAppsV1NamespacedDeployment",
            "parameters": [
              {"name": "body", "in": "body", "required": true,
               "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}},
              {"uniqueItems": true, "type": "string", "description": "fieldValidation instructs the server",
               "name": "fieldValidation", "in": "query"},
              {"$ref": "#/parameters/pretty-tJGM1-ng"}
            ],
            "responses": {
              "200": {"description": "OK", "schema": {"$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"}}
            },
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": "apps", "kind": "Deployment", "version": "v1"}
          },
          "parameters": [
            {"name": "name", "in": "path", "required": true, "type": "string", "description": "name of the Deployment"}
          ]
        },
        "x-paths-note": true
      },
      "definitions": {
        "io.k8s.api.apps.v1.Deployment": {
          "description": "Deployment enables declarative updates for Pods and ReplicaSets.",
          "type": "object",
          "required": ["spec"],
          "properties": {
            "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                         "description": "Standard object's metadata."},
            "spec": {"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"}
          },
          "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}]
        },
        "io.k8s.api.apps.v1.DeploymentSpec": {
          "type": "object",
          "properties": {
            "replicas": {"type": "integer", "format": "int32"},
            "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "empty": {"type": "object", "properties": {}}
          }
        },
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
          "type": "object",
          "properties": {
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "closed": {"type": "object", "additionalProperties": false}
          }
        },
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch": {"type": "object"}
      },
      "parameters": {
        "pretty-tJGM1-ng": {"uniqueItems": true, "type": "string", "name": "pretty", "in": "query"}
      },
      "x-top": {"a": [1, 2.5, null]}
    }
    """#

/// Runs `protoc --decode=openapi.v2.Document` on `bytes` against `gnosticSubsetProto`; its text, each line trimmed.
private func protocDecode(_ bytes: [UInt8]) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kelson-gnostic-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try Data(gnosticSubsetProto.utf8).write(to: directory.appendingPathComponent("gnostic_subset.proto"))
    let input = directory.appendingPathComponent("document.pb")
    let output = directory.appendingPathComponent("document.txt")
    try Data(bytes).write(to: input)
    _ = FileManager.default.createFile(atPath: output.path, contents: nil)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "protoc", "--proto_path=\(directory.path)", "--decode=openapi.v2.Document", "gnostic_subset.proto",
    ]
    process.currentDirectoryURL = directory
    process.standardInput = try FileHandle(forReadingFrom: input)
    process.standardOutput = try FileHandle(forWritingTo: output)
    try process.run()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "protoc failed (is protobuf-compiler installed?)")
    let text = try String(contentsOf: output, encoding: .utf8)
    return text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "\n")
}

@Suite struct GnosticOpenAPIv2Tests {
    @Test func deploymentDocumentDecodesWithProtoc() throws {
        let swagger = try JSONValue.parse(Array(deploymentSwagger.utf8))
        let text = try protocDecode(GnosticOpenAPIv2.encode(swagger))
        // Every byte landed in a field of the subset: protoc prints unknown fields by number.
        #expect(!text.split(separator: "\n").contains { $0.first?.isNumber == true }, "\(text)")

        let expectedRuns = [
            // The PATCH operation kubectl's query-parameter verifier looks for, with its GVK and fieldValidation.
            #"""
            path {
            name: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
            value {
            patch {
            description: "partially update the specified Deployment"
            operation_id: "patchAppsV1NamespacedDeployment"
            consumes: "application/strategic-merge-patch+json"
            consumes: "application/apply-patch+yaml"
            parameters {
            parameter {
            body_parameter {
            name: "body"
            in: "body"
            required: true
            schema {
            _ref: "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
            }
            }
            }
            }
            parameters {
            parameter {
            non_body_parameter {
            query_parameter_sub_schema {
            in: "query"
            description: "fieldValidation instructs the server"
            name: "fieldValidation"
            type: "string"
            unique_items: true
            }
            }
            }
            }
            parameters {
            json_reference {
            _ref: "#/parameters/pretty-tJGM1-ng"
            }
            }
            responses {
            response_code {
            name: "200"
            value {
            response {
            description: "OK"
            schema {
            schema {
            _ref: "#/definitions/io.k8s.api.apps.v1.Deployment"
            }
            }
            }
            }
            }
            }
            vendor_extension {
            name: "x-kubernetes-action"
            value {
            yaml: "\"patch\"\n"
            }
            }
            vendor_extension {
            name: "x-kubernetes-group-version-kind"
            value {
            yaml: "{\"group\":\"apps\",\"kind\":\"Deployment\",\"version\":\"v1\"}\n"
            }
            }
            }
            parameters {
            parameter {
            non_body_parameter {
            path_parameter_sub_schema {
            required: true
            in: "path"
            description: "name of the Deployment"
            name: "name"
            type: "string"
            }
            }
            }
            }
            }
            }
            """#,
            // Paths keeps `x-` keys apart from paths.
            #"""
            paths {
            vendor_extension {
            name: "x-paths-note"
            value {
            yaml: "true\n"
            }
            }
            """#,
            // The definition explain and validation find by its GVK.
            #"""
            additional_properties {
            name: "io.k8s.api.apps.v1.Deployment"
            value {
            description: "Deployment enables declarative updates for Pods and ReplicaSets."
            required: "spec"
            type {
            value: "object"
            }
            properties {
            additional_properties {
            name: "metadata"
            value {
            _ref: "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
            description: "Standard object\'s metadata."
            }
            }
            additional_properties {
            name: "spec"
            value {
            _ref: "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
            }
            }
            }
            vendor_extension {
            name: "x-kubernetes-group-version-kind"
            value {
            yaml: "[{\"group\":\"apps\",\"kind\":\"Deployment\",\"version\":\"v1\"}]\n"
            }
            }
            }
            }
            """#,
            // A list, and an object with `properties: {}`, which must stay present.
            #"""
            additional_properties {
            name: "replicas"
            value {
            format: "int32"
            type {
            value: "integer"
            }
            }
            }
            additional_properties {
            name: "finalizers"
            value {
            type {
            value: "array"
            }
            items {
            schema {
            type {
            value: "string"
            }
            }
            }
            vendor_extension {
            name: "x-kubernetes-list-type"
            value {
            yaml: "\"set\"\n"
            }
            }
            }
            }
            additional_properties {
            name: "empty"
            value {
            type {
            value: "object"
            }
            properties {
            }
            }
            }
            """#,
            // A map, and additionalProperties false, which is written although false.
            #"""
            additional_properties {
            name: "labels"
            value {
            additional_properties {
            schema {
            type {
            value: "string"
            }
            }
            }
            type {
            value: "object"
            }
            }
            }
            additional_properties {
            name: "closed"
            value {
            additional_properties {
            boolean: false
            }
            type {
            value: "object"
            }
            }
            }
            """#,
            // The document's shared parameters, which operations reference.
            #"""
            parameters {
            additional_properties {
            name: "pretty-tJGM1-ng"
            value {
            non_body_parameter {
            query_parameter_sub_schema {
            in: "query"
            name: "pretty"
            type: "string"
            unique_items: true
            }
            }
            }
            }
            }
            vendor_extension {
            name: "x-top"
            value {
            yaml: "{\"a\":[1,2.5,null]}\n"
            }
            }
            """#,
        ]
        #expect(text.hasPrefix("swagger: \"2.0\"\ninfo {\ntitle: \"Kubernetes\"\nversion: \"v1.27.0\"\n}\n"), "\(text)")
        for run in expectedRuns {
            #expect(text.contains(run), "missing:\n\(run)\nin:\n\(text)")
        }
    }

    // MARK: - Bytes

    private func encode(_ json: String) throws -> [UInt8] {
        GnosticOpenAPIv2.encode(try JSONValue.parse(Array(json.utf8)))
    }

    @Test func varints() {
        var writer = GnosticProtobufWriter()
        for value: UInt64 in [0, 1, 127, 128, 300, 16_384, UInt64.max] { writer.appendVarint(value) }
        #expect(
            writer.bytes == [
                0x00, 0x01, 0x7F, 0x80, 0x01, 0xAC, 0x02, 0x80, 0x80, 0x01,
                0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
            ])
    }

    @Test func scalarFieldsAndZeroValues() throws {
        // swagger = 1: tag 0x0A, length 3.
        #expect(try encode(#"{"swagger": "2.0"}"#) == [0x0A, 0x03] + Array("2.0".utf8))
        // Zero scalars are left out; a present message is written even when empty (info = 2: tag 0x12).
        #expect(try encode(#"{"swagger": "", "info": {"title": ""}}"#) == [0x12, 0x00])
        // A number where a string goes is its digits, as in gnostic; other types are left out.
        #expect(try encode(#"{"swagger": 2, "host": true}"#) == [0x0A, 0x01, UInt8(ascii: "2")])
        #expect(try encode("[1]").isEmpty)
    }

    @Test func nestedLengths() throws {
        // info = 2 { title = 1 "t" }
        #expect(try encode(#"{"info": {"title": "t"}}"#) == [0x12, 0x03, 0x0A, 0x01, UInt8(ascii: "t")])
        // A message of 128 bytes or more takes a two-byte length: 200-byte title, Info of 203 bytes (0xCB 0x01).
        let title = String(repeating: "x", count: 200)
        let bytes = try encode(#"{"info": {"title": "\#(title)"}}"#)
        #expect(Array(bytes.prefix(6)) == [0x12, 0xCB, 0x01, 0x0A, 0xC8, 0x01])
        #expect(bytes.count == 3 + 203)
    }

    @Test func schemaOneofsAndNumbers() throws {
        // definitions = 9 { additional_properties = 1 { name "M", value = 2 { Schema } } }
        func definition(_ schema: String) throws -> [UInt8] {
            let bytes = try encode(#"{"definitions": {"M": \#(schema)}}"#)
            let prefix: [UInt8] = [0x4A, bytes[1], 0x0A, bytes[3], 0x0A, 0x01, UInt8(ascii: "M"), 0x12, bytes[8]]
            #expect(Array(bytes.prefix(9)) == prefix)
            return Array(bytes.dropFirst(9))
        }
        // additional_properties = 21 (tag 0xAA 0x01) { boolean = 2: false, written because it is a oneof }
        #expect(try definition(#"{"additionalProperties": false}"#) == [0xAA, 0x01, 0x02, 0x10, 0x00])
        // additional_properties = 21 { schema = 1 { type = 22 (0xB2 0x01) { value = 1 "string" } } }
        #expect(
            try definition(#"{"additionalProperties": {"type": "string"}}"#)
                == [0xAA, 0x01, 0x0D, 0x0A, 0x0B, 0xB2, 0x01, 0x08, 0x0A, 0x06] + Array("string".utf8))
        // properties = 25 (0xCA 0x01), present and empty.
        #expect(try definition(#"{"properties": {}}"#) == [0xCA, 0x01, 0x00])
        // maximum = 7 is a double (tag 0x39, eight little-endian bytes); max_length = 11 an int64 (tag 0x58),
        // negative in ten bytes.
        #expect(
            try definition(#"{"maximum": 1.5, "maxLength": -1}"#)
                == [0x39, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x58] + Array(repeating: 0xFF, count: 9) + [0x01])
        // items = 23 (0xBA 0x01): one schema, even from a list (as gnostic reads it: one empty schema).
        #expect(
            try definition(#"{"items": [{"type": "string"}, {"type": "integer"}]}"#) == [0xBA, 0x01, 0x02, 0x0A, 0x00])
    }

    @Test func schemaNestingIsBounded() throws {
        func chain(_ depth: Int) throws -> [UInt8] {
            var schema = #"{"type": "string"}"#
            for _ in 1..<depth { schema = #"{"type": "array", "items": \#(schema)}"# }
            return try encode(#"{"definitions": {"M": \#(schema)}}"#)
        }
        let limit = GnosticOpenAPIv2.maximumSchemaDepth
        #expect(try chain(limit + 40) == chain(limit + 1))
        #expect(try chain(limit) != chain(limit + 1))
    }

    @Test func extensionValuesAreYAMLReadable() throws {
        #expect(
            GnosticOpenAPIv2.yamlText(["group": "apps", "version": "v1"]) == #"{"group":"apps","version":"v1"}"# + "\n")
        // Characters go-yaml refuses raw are escaped; everything else stays as JSON writes it.
        let awkward: JSONValue = .string("a\u{7F}b\u{85}c\u{9F}d\u{FEFF}e\u{FFFF}f\u{1F600}g\u{A0}")
        #expect(
            GnosticOpenAPIv2.yamlText(awkward)
                == #""a\u007fb\u0085c\u009fd\ufeffe\uffff"# + "f\u{1F600}g\u{A0}\"\n")
        for value: JSONValue in [awkward, ["k": [1, 2.5, nil, true, "on"]], "yes", -3] {
            #expect(try JSONValue.parseYAML(GnosticOpenAPIv2.yamlText(value)) == value)
        }
    }
}
