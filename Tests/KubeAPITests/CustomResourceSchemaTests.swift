import Testing

@testable import KubeAPI

/// Validation, pruning and defaulting of custom resources by their CRD's openAPIV3Schema, with the texts
/// kube-apiserver (apiextensions-apiserver over kube-openapi) answers with.
struct CustomResourceSchemaTests {
    /// A CronTab-like CRD schema that uses what real CRDs use.
    static let cronTabSchemaYAML = #"""
        type: object
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            required: [cronSpec, image]
            properties:
              cronSpec:
                type: string
                pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'
              image: {type: string, minLength: 1, maxLength: 64}
              replicas: {type: integer, format: int32, minimum: 1, maximum: 10, default: 1}
              paused: {type: boolean, default: false}
              policy: {type: string, enum: [Allow, Forbid, Replace], default: Allow}
              ports:
                type: array
                maxItems: 3
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    port: {type: integer, minimum: 1, maximum: 65535}
                    protocol: {type: string, default: TCP}
              tags:
                type: array
                x-kubernetes-list-type: set
                items: {type: string}
              labels:
                type: object
                additionalProperties: {type: string, maxLength: 8}
              limits:
                type: object
                additionalProperties:
                  type: object
                  properties:
                    value: {type: integer}
                    unit: {type: string, default: Mi}
              target: {x-kubernetes-int-or-string: true}
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
                properties:
                  known:
                    type: object
                    properties:
                      a: {type: string}
              startedAt: {type: string, format: date-time}
              timeout: {type: string, nullable: true, default: 30s}
              ratio: {type: number, multipleOf: 0.5}
              window:
                type: object
                default: {}
                properties:
                  start: {type: string, default: "00:00"}
                  days: {type: integer, default: 7}
              template:
                type: object
                x-kubernetes-embedded-resource: true
                x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            properties:
              replicas: {type: integer}
              lastScheduleTime: {type: string, format: date-time}
        """#

    static let schema: CustomResourceSchema = {
        do {
            return try CustomResourceSchema(openAPIV3Schema: try JSONValue.parseYAML(cronTabSchemaYAML))
        } catch {
            fatalError("\(error)")
        }
    }()

    static func cronTab(spec: String, extra: String = "") throws -> JSONValue {
        try JSONValue.parseYAML(
            """
            apiVersion: stable.example.com/v1
            kind: CronTab
            metadata: {name: my-cron, namespace: default}
            spec: \(spec)
            \(extra)
            """)
    }

    static func messages(_ errors: [FieldError]) -> [String] { errors.map(\.description) }

    // MARK: - Validation

    @Test func aValidObjectHasNoErrors() throws {
        let object = try Self.cronTab(
            spec: """
                {cronSpec: "*/5 * * * *", image: my-image, replicas: 3, policy: Forbid, target: 80,
                 ports: [{name: http, port: 80}, {name: https, port: 443}], tags: [a, b], labels: {team: web},
                 startedAt: "2024-01-02T03:04:05Z", ratio: 1.5, extra: {anything: [1, 2]},
                 template: {apiVersion: v1, kind: Pod, metadata: {name: x}}}
                """)
        #expect(Self.schema.validate(object).isEmpty)
    }

    @Test func exactMessagesForEachKindOfViolation() throws {
        let cases: [(spec: String, expected: [String])] = [
            (
                #"{cronSpec: "* * * * *", image: i, replicas: "3"}"#,
                [#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#]
            ),
            (
                #"{image: i}"#, ["spec.cronSpec: Required value"]
            ),
            (
                #"{cronSpec: "* * * * *", image: i, replicas: 11}"#,
                ["spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"]
            ),
            (
                #"{cronSpec: "* * * * *", image: i, replicas: 0}"#,
                ["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"]
            ),
            (
                #"{cronSpec: "* * * * *", image: i, policy: Sometimes}"#,
                [#"spec.policy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace""#]
            ),
            (
                #"{cronSpec: "every minute", image: i}"#,
                [
                    #"spec.cronSpec: Invalid value: "every minute": spec.cronSpec in body should match "#
                        + #"'^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'"#
                ]
            ),
            (
                #"{cronSpec: "* * * * *", image: "\#(String(repeating: "x", count: 65))"}"#,
                ["spec.image: Too long: may not be more than 64 bytes"]
            ),
            (
                #"{cronSpec: "* * * * *", image: ""}"#,
                [#"spec.image: Invalid value: "": spec.image in body should be at least 1 chars long"#]
            ),
            (
                #"{cronSpec: "* * * * *", image: i, ports: [{name: a}, {name: b}, {name: c}, {name: d}]}"#,
                ["spec.ports: Too many: 4: must have at most 3 items"]
            ),
            (
                #"{cronSpec: "* * * * *", image: i, ports: [{port: 80}]}"#,
                ["spec.ports[0].name: Required value"]
            ),
            (
                #"{cronSpec: "* * * * *", image: i, labels: {team: platform-eng}}"#,
                ["spec.labels.team: Too long: may not be more than 8 bytes"]
            ),
            (
                #"{cronSpec: "* * * * *", image: i, target: true}"#,
                [
                    #"spec.target: Invalid value: "boolean": spec.target in body must be of type integer,string: "#
                        + #""boolean""#
                ]
            ),
            (
                #"{cronSpec: "* * * * *", image: i, startedAt: yesterday}"#,
                [
                    #"spec.startedAt: Invalid value: "yesterday": spec.startedAt in body must be of type date-time: "#
                        + #""yesterday""#
                ]
            ),
            (
                #"{cronSpec: "* * * * *", image: i, ratio: 0.7}"#,
                ["spec.ratio: Invalid value: 0.7: spec.ratio in body should be a multiple of 0.5"]
            ),
            (
                #"{cronSpec: "* * * * *", image: i, paused: null}"#,
                [#"spec.paused: Invalid value: "null": spec.paused in body must be of type boolean: "null""#]
            ),
            (
                #"{cronSpec: "* * * * *", image: i, tags: [a, b, a, a]}"#,
                [#"spec.tags[2]: Duplicate value: "a""#]
            ),
            (
                #"{cronSpec: "* * * * *", image: i, ports: [{name: http, port: 80}, {name: http, port: 8080}]}"#,
                [#"spec.ports[1]: Duplicate value: {"name":"http"}"#]
            ),
            (
                #"{cronSpec: "* * * * *", image: i, template: {metadata: {name: "a/b"}}}"#,
                [
                    "spec.template.apiVersion: Required value", "spec.template.kind: Required value",
                    #"spec.template.metadata.name: Invalid value: "a/b": may not contain '/'"#,
                ]
            ),
        ]
        for (spec, expected) in cases {
            #expect(Self.messages(Self.schema.validate(try Self.cronTab(spec: spec))) == expected, "\(spec)")
        }
    }

    @Test func errorsComeInKubeOpenAPIOrder() throws {
        // Type first, then properties in the object's order, then missing required fields in the schema's order;
        // list-type duplicates after all schema errors.
        let object = try Self.cronTab(
            spec: #"{tags: [x, x], replicas: 20, policy: Never, ports: [{name: a, port: 0}]}"#)
        #expect(
            Self.messages(Self.schema.validate(object)) == [
                "spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10",
                #"spec.policy: Unsupported value: "Never": supported values: "Allow", "Forbid", "Replace""#,
                "spec.ports[0].port: Invalid value: 0: spec.ports[0].port in body should be greater than or equal to 1",
                "spec.cronSpec: Required value", "spec.image: Required value", #"spec.tags[1]: Duplicate value: "x""#,
            ])
    }

    /// A schema and objects with the errors each must produce.
    struct UpstreamCase: Sendable {
        var schema: String
        var objects: [(object: String, errors: [String])]

        init(_ schema: String, _ objects: [(object: String, errors: [String])]) {
            self.schema = schema
            self.objects = objects
        }
    }

    /// Cases of apiextensions-apiserver's own TestValidateCustomResource (pkg/apiserver/validation/validation_test.go),
    /// compared as sets as upstream does.
    static let upstreamCases: [UpstreamCase] = [
        UpstreamCase(
            "{type: object, properties: {field: {type: object, nullable: true}}}",
            [
                (#"{"field": null}"#, []), (#"{"field": {}}"#, []),
                (
                    #"{"field": "foo"}"#,
                    [#"field: Invalid value: "string": field in body must be of type object: "string""#]
                ),
                (
                    #"{"field": 42}"#,
                    [#"field: Invalid value: "integer": field in body must be of type object: "integer""#]
                ),
                (
                    #"{"field": 1.2}"#,
                    [#"field: Invalid value: "number": field in body must be of type object: "number""#]
                ),
                (#"{"field": []}"#, [#"field: Invalid value: "array": field in body must be of type object: "array""#]),
            ]),
        UpstreamCase(
            "{type: object, properties: {field: {type: object}}}",
            [(#"{"field": null}"#, [#"field: Invalid value: "null": field in body must be of type object: "null""#])]),
        UpstreamCase(
            "{type: object, properties: {field: {nullable: true}}}",
            [(#"{"field": null}"#, []), (#"{"field": "foo"}"#, []), (#"{"field": 1.2}"#, []), (#"{"field": []}"#, [])]),
        UpstreamCase(
            "{type: object, properties: {field: {x-kubernetes-int-or-string: true}}}",
            [
                (#"{"field": 42}"#, []), (#"{"field": "foo"}"#, []),
                (
                    #"{"field": null}"#,
                    [#"field: Invalid value: "null": field in body must be of type integer,string: "null""#]
                ),
                (
                    #"{"field": {}}"#,
                    [#"field: Invalid value: "object": field in body must be of type integer,string: "object""#]
                ),
            ]),
        UpstreamCase(
            "{type: object, properties: {field: {nullable: true, x-kubernetes-int-or-string: true, "
                + "anyOf: [{type: integer}, {type: string}]}}}",
            [
                (#"{"field": null}"#, []),
                (
                    #"{"field": 1.2}"#,
                    [
                        #"<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)"#,
                        #"field: Invalid value: "number": field in body must be of type integer,string: "number""#,
                        #"field: Invalid value: "number": field in body must be of type integer: "number""#,
                        #"<nil>: Invalid value: "": Checked value must be of type integer (default format) in field"#,
                    ]
                ),
            ]),
        UpstreamCase(
            "{type: object, properties: {field: {nullable: true, x-kubernetes-int-or-string: true, "
                + "allOf: [{anyOf: [{type: integer}, {type: string}]}]}}}",
            [
                (
                    #"{"field": true}"#,
                    [
                        #"<nil>: Invalid value: "": "field" must validate all the schemas (allOf). None validated"#,
                        #"<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)"#,
                        #"field: Invalid value: "boolean": field in body must be of type integer,string: "boolean""#,
                        #"field: Invalid value: "boolean": field in body must be of type integer: "boolean""#,
                    ]
                )
            ]),
        UpstreamCase(
            "{type: object, required: [field], properties: {field: {type: object, required: [nested], "
                + "properties: {nested: {}}}}}",
            [(#"{"test": "a"}"#, ["field: Required value"]), (#"{"field": {}}"#, ["field.nested: Required value"])]),
        UpstreamCase(
            "{type: object, properties: {field: {type: object, required: [nestedint, nestedstring], properties: "
                + "{nestedint: {type: integer, enum: [1, 2]}, nestedstring: {type: string, enum: [a, b]}}}}}",
            [
                (
                    #"{"field": {"nestedint": "x", "nestedstring": true}}"#,
                    [
                        #"field.nestedint: Invalid value: "string": field.nestedint in body must be of type integer: "#
                            + #""string""#,
                        #"field.nestedint: Unsupported value: "x": supported values: "1", "2""#,
                        #"field.nestedstring: Invalid value: "boolean": field.nestedstring in body must be of type "#
                            + #"string: "boolean""#,
                        #"field.nestedstring: Unsupported value: true: supported values: "a", "b""#,
                    ]
                )
            ]),
        UpstreamCase(
            "{type: object, properties: {fieldX: {type: object, maxProperties: 2}, fieldY: {type: array, "
                + "maxItems: 2}, fieldZ: {type: string, maxLength: 2}}}",
            [
                (#"{"fieldX": {"a": true, "b": true, "c": true}}"#, ["fieldX: Too many: 3: must have at most 2 items"]),
                (#"{"fieldY": ["a", "b", "c"]}"#, ["fieldY: Too many: 3: must have at most 2 items"]),
                (#"{"fieldZ": "abc"}"#, ["fieldZ: Too long: may not be more than 2 bytes"]),
            ]),
        UpstreamCase(
            "{type: object, properties: {intThirtyTwo: {type: integer, format: int32}, intSixtyFour: {type: "
                + "integer, format: int64}, floatThreeTwo: {type: number, format: float}, floatSixFour: {type: "
                + "number, format: double}}}",
            [
                (#"{"intThirtyTwo": -2147483648, "intSixtyFour": 9223372036854775807, "floatSixFour": 1.7e308}"#, []),
                (
                    #"{"intThirtyTwo": 2147483648}"#,
                    [
                        #"<nil>: Invalid value: "": Checked value must be of type integer with format int32 in "#
                            + "intThirtyTwo"
                    ]
                ),
                (
                    #"{"intSixtyFour": 1.0145709240379302e19}"#,
                    [
                        #"intSixtyFour: Invalid value: "float64": intSixtyFour in body must be of type int64: "#
                            + #""float64""#,
                        #"<nil>: Invalid value: "": Checked value must be of type integer with format int64 in "#
                            + "intSixtyFour",
                    ]
                ),
                (
                    #"{"floatThreeTwo": -3.743106036130324e38}"#,
                    [
                        #"<nil>: Invalid value: "": Checked value must be of type number with format float in "#
                            + "floatThreeTwo"
                    ]
                ),
            ]),
    ]

    @Test func upstreamCases() throws {
        for upstream in Self.upstreamCases {
            let schema = try CustomResourceSchema(openAPIV3Schema: try JSONValue.parseYAML(upstream.schema))
            for (objectJSON, expected) in upstream.objects {
                let errors = schema.validate(try JSONValue.parse(objectJSON))
                #expect(Set(Self.messages(errors)) == Set(expected), "\(objectJSON)")
            }
        }
    }

    @Test func kubernetesNameFormatsFrom134() throws {
        let yaml =
            "{type: object, properties: {short: {type: string, format: k8s-short-name}, "
            + "long: {type: string, format: k8s-long-name}}}"
        let object: JSONValue = ["short": "a-", "long": "a.-"]
        let current = try CustomResourceSchema(openAPIV3Schema: try JSONValue.parseYAML(yaml))
        #expect(current.validate(object).isEmpty)
        let newer = try CustomResourceSchema(
            openAPIV3Schema: try JSONValue.parseYAML(yaml), compatibilityMinorVersion: 34)
        #expect(
            Self.messages(newer.validate(object)) == [
                #"short: Invalid value: "a-": short in body must be of type k8s-short-name: "a-""#,
                #"long: Invalid value: "a.-": long in body must be of type k8s-long-name: "a.-""#,
            ])
    }

    @Test func theInvalidStatusJoinsTheErrors() throws {
        let errors = Self.schema.validate(try Self.cronTab(spec: #"{cronSpec: "* * * * *", replicas: 11}"#))
        #expect(
            FieldError.invalidMessage(group: "stable.example.com", kind: "CronTab", name: "my-cron", errors: errors)
                == #"CronTab.stable.example.com "my-cron" is invalid: [spec.replicas: Invalid value: 11: "#
                + "spec.replicas in body should be less than or equal to 10, spec.image: Required value]")
        let causes = FieldError.invalidStatus(
            group: "stable.example.com", kind: "CronTab", name: "my-cron", errors: errors)["details"]?["causes"]
        #expect(
            causes?.arrayValue?.first
                == [
                    "reason": "FieldValueInvalid", "field": "spec.replicas",
                    "message": "Invalid value: 11: spec.replicas in body should be less than or equal to 10",
                ])
    }

    @Test func numbersOutsideTheirFormatAndTypeErrorReasons() throws {
        let errors = Self.schema.validate(
            try Self.cronTab(spec: #"{cronSpec: "* * * * *", image: i, replicas: 3000000000}"#))
        #expect(
            Self.messages(errors) == [
                #"<nil>: Invalid value: "": Checked value must be of type integer with format int32 in spec.replicas"#,
                "spec.replicas: Invalid value: 3000000000: spec.replicas in body should be less than or equal to 10",
            ])
        let typeError = Self.schema.validate(try Self.cronTab(spec: #"{cronSpec: 5, image: i}"#))
        #expect(typeError.map(\.reason) == ["FieldValueTypeInvalid"])
        // A whole number written as a float is an integer; a fraction is not, and with a format the type error
        // names the format and the value's Go format (kube-openapi's typeValidator).
        #expect(
            Self.schema.validate(try Self.cronTab(spec: #"{cronSpec: "* * * * *", image: i, replicas: 2.0}"#)).isEmpty)
        let fraction = Self.schema.validate(
            try Self.cronTab(spec: #"{cronSpec: "* * * * *", image: i, replicas: 2.5}"#))
        #expect(
            Self.messages(fraction) == [
                #"spec.replicas: Invalid value: "float64": spec.replicas in body must be of type int32: "float64""#,
                #"<nil>: Invalid value: "": Checked value must be of type integer with format int32 in spec.replicas"#,
            ])
    }

    @Test func junctorsReportAtTheNilPath() throws {
        let schema = try CustomResourceSchema(
            openAPIV3Schema: try JSONValue.parseYAML(
                """
                type: object
                properties:
                  spec:
                    type: object
                    properties:
                      size:
                        type: integer
                        anyOf: [{maximum: 5}, {minimum: 100}]
                      mode:
                        type: string
                        not: {enum: [legacy]}
                """))
        #expect(
            Self.messages(schema.validate(["spec": ["size": 7, "mode": "legacy"]])) == [
                #"<nil>: Invalid value: "": "spec.size" must validate at least one schema (anyOf)"#,
                "spec.size: Invalid value: 7: spec.size in body should be less than or equal to 5",
                #"<nil>: Invalid value: "": "spec.mode" must not validate the schema (not)"#,
            ])
        #expect(schema.validate(["spec": ["size": 150, "mode": "fast"]]).isEmpty)
    }

    @Test func statusUpdatesReportBelowStatus() throws {
        let old = try Self.cronTab(spec: #"{cronSpec: "* * * * *", image: i}"#, extra: "status: {replicas: 1}")
        var object = old
        object["status"] = ["replicas": "two", "lastScheduleTime": "2024-02-30T00:00:00Z"]
        #expect(
            Self.messages(Self.schema.validateStatusUpdate(object, old: old)) == [
                #"status.replicas: Invalid value: "string": replicas in body must be of type integer: "string""#,
                #"status.lastScheduleTime: Invalid value: "2024-02-30T00:00:00Z": lastScheduleTime in body must be "#
                    + #"of type date-time: "2024-02-30T00:00:00Z""#,
            ])
    }

    @Test func ratchetingKeepsUnchangedInvalidValues() throws {
        let old = try Self.cronTab(
            spec: #"{cronSpec: "* * * * *", image: i, replicas: 20, ports: [{name: a, port: 0}]}"#)
        var object = old
        object[path: "spec", "image"] = "other"
        #expect(Self.schema.validateUpdate(object, old: old).isEmpty)
        object[path: "spec", "replicas"] = 30
        object[path: "spec", "ports"] = [["name": "b", "port": 0], ["name": "a", "port": 0]]
        #expect(
            Self.messages(Self.schema.validateUpdate(object, old: old)) == [
                "spec.replicas: Invalid value: 30: spec.replicas in body should be less than or equal to 10",
                "spec.ports[0].port: Invalid value: 0: spec.ports[0].port in body should be greater than or equal to 1",
            ])
        #expect(Self.schema.validate(object).count == 3)
    }

    @Test func typeMetaMustBeTheCRDs() throws {
        let object: JSONValue = ["apiVersion": "stable.example.com/v2", "kind": "CronJob"]
        #expect(
            Self.messages(
                CustomResourceSchema.validateTypeMeta(
                    object, group: "stable.example.com", version: "v1", kind: "CronTab"))
                == [
                    #"kind: Invalid value: "CronJob": must be CronTab"#,
                    #"apiVersion: Invalid value: "stable.example.com/v2": must be stable.example.com/v1"#,
                ])
    }

    // MARK: - Pruning

    @Test func pruningDropsUnknownFieldsOutsidePreservedSubtrees() throws {
        let object = try JSONValue.parseYAML(
            """
            apiVersion: stable.example.com/v1
            kind: CronTab
            metadata: {name: my-cron, bogus: 1, labels: {}, ownerReferences: [{name: o, extra: x}]}
            spec:
              cronSpec: "* * * * *"
              image: i
              unknown: 1
              image2: x
              ports: [{name: http, port: 80, hostPort: 8080}]
              labels: {team: web}
              extra: {anything: {deep: [1]}, known: {a: x, b: y}}
              template: {apiVersion: v1, kind: Pod, metadata: {name: p, junk: 1}, spec: {containers: []}}
              image3: null
            status: {replicas: 1, phase: Running}
            topLevel: true
            """)
        let (pruned, unknown) = try Self.schema.decode(object)
        #expect(
            pruned
                == (try JSONValue.parseYAML(
                    """
                    apiVersion: stable.example.com/v1
                    kind: CronTab
                    metadata: {name: my-cron, ownerReferences: [{apiVersion: "", kind: "", name: o, uid: ""}]}
                    spec:
                      cronSpec: "* * * * *"
                      image: i
                      ports: [{name: http, port: 80}]
                      labels: {team: web}
                      extra: {anything: {deep: [1]}, known: {a: x}}
                      template: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: []}}
                    status: {replicas: 1}
                    """)))
        #expect(
            unknown == [
                "metadata.bogus", "metadata.ownerReferences[0].extra", "spec.extra.known.b", "spec.image2",
                "spec.image3", "spec.ports[0].hostPort", "spec.unknown", "status.phase", "topLevel",
                "spec.template.metadata.junk",
            ])
        #expect(Self.schema.prune(object) == pruned)
    }

    @Test func nullsArePrunedUnlessNullableOrDefaulted() throws {
        let object = try Self.cronTab(
            spec: #"{cronSpec: "* * * * *", image: null, timeout: null, paused: null, tags: null}"#)
        let pruned = Self.schema.prune(object)
        #expect(pruned[path: "spec"] == ["cronSpec": "* * * * *", "timeout": nil, "paused": nil])
        // Then defaulting replaces the non-nullable null, and keeps the nullable one.
        let defaulted = Self.schema.applyDefaults(pruned)
        #expect(defaulted[path: "spec", "paused"] == false)
        #expect(defaulted[path: "spec", "timeout"] == .null)
    }

    @Test func decodingRefusesMalformedEmbeddedResources() throws {
        let object = try Self.cronTab(spec: #"{cronSpec: "* * * * *", image: i, template: {kind: 5}}"#)
        #expect(throws: CustomResourceDecodeError(message: "spec.template.kind: Invalid value: 5: must be a string")) {
            try Self.schema.decode(object)
        }
        let badLabels = try Self.cronTab(spec: "{}", extra: "").withMetadata(["name": "x", "labels": ["a": 1]])
        #expect(
            throws: CustomResourceDecodeError(
                message: "json: cannot unmarshal number into Go struct field ObjectMeta.labels of type string")
        ) { try Self.schema.decode(badLabels) }
        #expect(Self.schema.prune(badLabels)["metadata"] == ["name": "x"])
    }

    // MARK: - Defaulting

    @Test func defaultsApplyAtEveryDepthWithoutOverriding() throws {
        let object = try Self.cronTab(
            spec: #"""
                {cronSpec: "* * * * *", image: i, replicas: 5, ports: [{name: http}, {name: dns, protocol: UDP}],
                 limits: {cpu: {value: 2}, memory: {value: 512, unit: Gi}}}
                """#)
        let defaulted = Self.schema.applyDefaults(object)
        let spec = try #require(defaulted["spec"])
        #expect(spec["replicas"] == 5)
        #expect(spec["paused"] == false)
        #expect(spec["policy"] == "Allow")
        #expect(spec["timeout"] == "30s")
        #expect(spec["window"] == ["start": "00:00", "days": 7])
        #expect(spec["ports"] == [["name": "http", "protocol": "TCP"], ["name": "dns", "protocol": "UDP"]])
        #expect(spec["limits"] == ["cpu": ["value": 2, "unit": "Mi"], "memory": ["value": 512, "unit": "Gi"]])
        // Defaults are added after the members already there, in the schema's order.
        #expect(
            spec.objectValue?.keys == [
                "cronSpec", "image", "replicas", "ports", "limits", "paused", "policy", "timeout", "window",
            ])
        #expect(Self.schema.applyDefaults(defaulted) == defaulted)
        #expect(Self.schema.validate(defaulted).isEmpty)
    }

    @Test func defaultsArePrunedToTheirSchema() throws {
        let schema = try CustomResourceSchema(
            openAPIV3Schema: try JSONValue.parseYAML(
                """
                type: object
                properties:
                  spec:
                    type: object
                    default: {size: 3, stray: true}
                    properties:
                      size: {type: integer}
                """))
        #expect(schema.applyDefaults(["kind": "X"]) == ["kind": "X", "spec": ["size": 3]])
    }

    // MARK: - Formats and schema reading

    @Test func stringFormats() {
        let valid: [(String, String)] = [
            ("date-time", "2024-01-02T03:04:05.123+01:00"), ("date", "2024-02-29"),
            ("uuid", "123e4567-e89b-12d3-a456-426614174000"),
            ("ipv4", "10.0.0.1"), ("ipv6", "fe80::1"), ("cidr", "10.0.0.0/8"), ("mac", "00:1a:2b:3c:4d:5e"),
            ("hostname", "example.com"), ("duration", "1h30m"), ("duration", "5 days"), ("byte", "aGVsbG8="),
            ("email", "a.b@example.com"), ("uri", "https://example.com/x?y=1"),
            ("bsonobjectid", "507f1f77bcf86cd799439011"),
        ]
        let invalid: [(String, String)] = [
            ("date-time", "2024-01-02 03:04:05"), ("date", "2023-02-29"), ("uuid", "not-a-uuid"), ("ipv4", "256.0.0.1"),
            ("ipv6", "10.0.0.1"), ("cidr", "10.0.0.0/33"), ("mac", "00:1a:2b"), ("hostname", "-bad-"),
            ("duration", "soon"), ("byte", "abc"), ("email", "nobody"), ("uri", "relative/path"),
        ]
        for (format, text) in valid { #expect(StringFormats.validates(text, format: format), "\(format) \(text)") }
        for (format, text) in invalid { #expect(!StringFormats.validates(text, format: format), "\(format) \(text)") }
        // Formats Kubernetes does not validate are ignored, and number formats only range-check numbers.
        #expect(SchemaNode.supportedFormat("uint8", types: ["integer"], compatibilityMinorVersion: 32) == "")
        #expect(SchemaNode.supportedFormat("k8s-short-name", types: ["string"], compatibilityMinorVersion: 32) == "")
        #expect(
            SchemaNode.supportedFormat("k8s-short-name", types: ["string"], compatibilityMinorVersion: 34)
                == "k8s-short-name")
    }

    @Test func intOrStringAndPreservedSubtrees() throws {
        for target: JSONValue in [80, "50%"] {
            let object = try Self.cronTab(spec: #"{cronSpec: "* * * * *", image: i}"#)
            var withTarget = object
            withTarget[path: "spec", "target"] = target
            #expect(Self.schema.validate(withTarget).isEmpty)
        }
        // Below x-kubernetes-preserve-unknown-fields anything goes, but declared properties are still checked.
        let object = try Self.cronTab(
            spec: #"{cronSpec: "* * * * *", image: i, extra: {free: {form: 1}, known: {a: 1}}}"#)
        #expect(
            Self.messages(Self.schema.validate(object)) == [
                #"spec.extra.known.a: Invalid value: "integer": spec.extra.known.a in body must be of type string: "#
                    + #""integer""#
            ])
    }

    /// Completeness is checked for the root's allOf/anyOf/oneOf/not, as upstream's validateStructuralCompleteness.
    @Test func structuralSchemaErrors() throws {
        let schema = try JSONValue.parseYAML(
            """
            type: object
            additionalProperties: {type: string}
            oneOf: [{properties: {ghost: {}}}]
            properties:
              metadata: {type: object, properties: {name: {type: string}, labels: {type: object}}}
              spec:
                properties:
                  list: {type: array}
                  size:
                    type: integer
                    anyOf: [{type: integer, maximum: 3}, {minimum: 5, description: small}]
            """)
        let root = "spec.versions[0].schema.openAPIV3Schema"
        let errors = CustomResourceSchema.structuralErrors(
            schema, path: FieldPath("spec", "versions").index(0).child("schema", "openAPIV3Schema"))
        #expect(
            Self.messages(errors) == [
                "\(root).additionalProperties: Forbidden: must not be used at the root",
                "\(root).properties[ghost]: Required value: because it is defined in "
                    + "\(root).oneOf[0].properties[ghost]",
                "\(root).properties[metadata]: Forbidden: must not specify anything other than name and generateName, "
                    + "but metadata is implicitly specified",
                "\(root).properties[spec].properties[list].items: Required value: must be specified",
                "\(root).properties[spec].properties[size].anyOf[0].type: Forbidden: must be empty to be structural",
                "\(root).properties[spec].properties[size].anyOf[1].description: Forbidden: must be empty to be "
                    + "structural",
                "\(root).properties[spec].type: Required value: must not be empty for specified object fields",
            ])
        #expect(
            CustomResourceSchema.structuralErrors(try JSONValue.parseYAML(Self.cronTabSchemaYAML), path: .none).isEmpty)
    }

    @Test func unusableSchemasAreRefused() throws {
        #expect(
            throws: CustomResourceSchemaError(
                field: "openAPIV3Schema.properties[spec].type", message: "must be a string")
        ) {
            try CustomResourceSchema(openAPIV3Schema: ["type": "object", "properties": ["spec": ["type": 5]]])
        }
        #expect(throws: CustomResourceSchemaError.self) {
            try CustomResourceSchema(openAPIV3Schema: ["$ref": "#/definitions/x"])
        }
    }
}

extension JSONValue {
    fileprivate func withMetadata(_ metadata: JSONValue) -> JSONValue {
        var copy = self
        copy["metadata"] = metadata
        return copy
    }
}
