import Testing

@testable import KubeAPI

/// Field errors, name formats and ObjectMeta validation with kube-apiserver's exact texts.
struct ValidationTests {
    static let subdomainRule =
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
        + "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
        + #"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#
    static let labelRule =
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
        + "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        + "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    static let pod = ObjectMetaValidation(namespaced: true, nameRule: .dnsSubdomain)

    // MARK: - Field errors

    @Test func fieldPaths() {
        #expect(FieldPath("metadata").child("labels").key("app").description == "metadata.labels[app]")
        #expect(
            FieldPath("metadata", "ownerReferences").index(1).child("uid").description
                == "metadata.ownerReferences[1].uid")
        #expect(FieldPath.none.description == "<nil>")
        #expect(FieldPath.none.child("values").index(0).key("a").description == "values[0][a]")
    }

    @Test func fieldErrorTexts() {
        let name = FieldPath("metadata", "name")
        #expect(
            FieldError.required(name, "name or generateName is required").description
                == "metadata.name: Required value: name or generateName is required")
        #expect(
            FieldError.required(FieldPath("metadata", "namespace")).description == "metadata.namespace: Required value")
        #expect(FieldError.invalid(name, "Foo", "bad").description == #"metadata.name: Invalid value: "Foo": bad"#)
        #expect(FieldError.invalid(name, json: .int(-1), "neg").description == "metadata.name: Invalid value: -1: neg")
        #expect(
            FieldError.invalid(name, json: ["a", "<b>"], "x").description
                == #"metadata.name: Invalid value: ["a","\u003cb\u003e"]: x"#)
        #expect(FieldError.invalid(name, json: .null, "x").description == "metadata.name: Invalid value: null: x")
        #expect(
            FieldError.invalid(name, json: .double(1e6), "x").description == "metadata.name: Invalid value: 1000000: x")
        #expect(FieldError.invalid(name, json: .double(0.5), "x").description == "metadata.name: Invalid value: 0.5: x")
        #expect(
            FieldError.notSupported(name, .string("c"), supported: ["a", "b"]).description
                == #"metadata.name: Unsupported value: "c": supported values: "a", "b""#)
        #expect(FieldError.forbidden(name, "nope").description == "metadata.name: Forbidden: nope")
        #expect(
            FieldError.tooLong(name, maximumBytes: 5).description
                == "metadata.name: Too long: may not be more than 5 bytes")
        #expect(
            FieldError.tooLong(name, maximumBytes: 1).description
                == "metadata.name: Too long: may not be more than 1 byte")
        #expect(
            FieldError.tooMany(name, actual: 5, maximum: 3).description
                == "metadata.name: Too many: 5: must have at most 3 items")
        #expect(
            FieldError.tooMany(name, actual: nil, maximum: nil).description
                == "metadata.name: Too many: has too many items")
        #expect(FieldError.duplicate(name, .string("x")).description == #"metadata.name: Duplicate value: "x""#)
        #expect(FieldError.internal(name, "boom").description == "metadata.name: Internal error: boom")
        #expect(
            FieldError.typeInvalid(name, json: .bool(true), "must be a string").description
                == "metadata.name: Invalid value: true: must be a string")
        #expect(FieldError.tooLong(name, maximumBytes: 5).reason == "FieldValueTooLong")
        #expect(FieldErrorType.allCases.map(\.rawValue).contains("FieldValueTypeInvalid"))
    }

    @Test func goQuoting() {
        #expect(GoFormat.quoted("a\"b\\c\n\t\u{7F}\u{01}é日本") == #""a\"b\\c\n\t\x7f\x01é日本""#)
        #expect(GoFormat.quoted("\u{A0}\u{200B}😀") == #""\u00a0\u200b😀""#)
    }

    @Test func aggregatesAndInvalidStatus() throws {
        let first = FieldError.invalid(FieldPath("metadata", "name"), "Foo", Self.subdomainRule)
        let second = FieldError.required(FieldPath("metadata", "namespace"))
        #expect(FieldError.aggregateMessage([]) == nil)
        #expect(FieldError.aggregateMessage([first, first]) == first.description)
        #expect(
            FieldError.aggregateMessage([first, second, first])
                == "[\(first.description), metadata.namespace: Required value]")
        #expect(
            FieldError.invalidMessage(group: "", kind: "ConfigMap", name: "Foo", errors: [first])
                == #"ConfigMap "Foo" is invalid: metadata.name: Invalid value: "Foo": "# + Self.subdomainRule)
        #expect(
            FieldError.invalidMessage(group: "apps", kind: "Deployment", name: "x", errors: [first, second])
                == #"Deployment.apps "x" is invalid: ["# + first.description + ", metadata.namespace: Required value]")
        #expect(FieldError.invalidMessage(group: "", kind: "Pod", name: "", errors: []) == #"Pod "" is invalid"#)
        let status = FieldError.invalidStatus(group: "apps", kind: "Deployment", name: "x", errors: [second])
        #expect(status["code"] == 422)
        #expect(status["reason"] == "Invalid")
        #expect(
            status["details"]?["causes"] == [
                ["reason": "FieldValueRequired", "message": "Required value", "field": "metadata.namespace"]
            ])
        #expect(status["details"]?.objectValue?.keys == ["name", "group", "kind", "causes"])
    }

    // MARK: - Name formats

    @Test func dnsNames() {
        #expect(NameValidation.isDNS1123Subdomain("my-app.example.com").isEmpty)
        #expect(NameValidation.isDNS1123Subdomain("Foo") == [Self.subdomainRule])
        #expect(NameValidation.isDNS1123Subdomain("a..b") == [Self.subdomainRule])
        #expect(
            NameValidation.isDNS1123Subdomain(String(repeating: "a", count: 254))
                == ["must be no more than 253 characters"])
        #expect(NameValidation.isDNS1123Label("web-1").isEmpty)
        #expect(NameValidation.isDNS1123Label("a.b") == ["must not contain dots"])
        #expect(NameValidation.isDNS1123Label("-a") == [Self.labelRule])
        #expect(
            NameValidation.isDNS1123Label(String(repeating: "a", count: 64)) == ["must be no more than 63 characters"])
        #expect(
            NameValidation.isDNS1035Label("1abc") == [
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
                    + "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
                    + "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
            ])
        #expect(NameValidation.isDNS1035Label("abc-1").isEmpty)
    }

    @Test func qualifiedNamesAndLabelValues() {
        #expect(NameValidation.isQualifiedName("example.com/My_Name.1").isEmpty)
        #expect(NameValidation.isQualifiedName("app").isEmpty)
        #expect(
            NameValidation.isQualifiedName("example.com/") == [
                "name part must be non-empty",
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                    + "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation "
                    + "is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ])
        #expect(
            NameValidation.isQualifiedName(String(repeating: "a", count: 254) + "/b")
                == ["prefix part must be no more than 253 bytes"])
        #expect(NameValidation.isValidLabelValue("").isEmpty)
        #expect(NameValidation.isValidLabelValue("v1.2_x-y").isEmpty)
        #expect(
            NameValidation.isValidLabelValue(String(repeating: "a", count: 64)) == ["must be no more than 63 bytes"])
        #expect(NameValidation.isValidLabelValue("-a").count == 1)
    }

    @Test func pathSegmentsAndRules() {
        #expect(NameValidation.isPathSegmentName("..") == ["may not be '..'"])
        #expect(NameValidation.isPathSegmentName("a/b%c") == ["may not contain '/'", "may not contain '%'"])
        #expect(NameValidation.isPathSegmentName("Any:Thing").isEmpty)
        #expect(NameRule.pathSegment.validate("..", prefix: true).isEmpty)
        #expect(NameRule.dnsSubdomain.validate("web-", prefix: true).isEmpty)
        #expect(NameRule.dnsSubdomain.validate("web-", prefix: false) == [Self.subdomainRule])
        #expect(NameRule.maskTrailingDash("ab-") == "aa")
        #expect(NameRule.any.validate("A/B", prefix: false).isEmpty)
    }

    @Test func generatedNames() {
        var generator = SeededNameRandom(seed: 42)
        let name = NameGenerator.generateName(base: "web-", using: &generator)
        #expect(name.hasPrefix("web-"))
        #expect(name.count == 9)
        #expect(name.dropFirst(4).allSatisfy { NameGenerator.alphabet.contains($0) })
        let long = NameGenerator.generateName(base: String(repeating: "x", count: 80), using: &generator)
        #expect(long.count == 63)
        #expect(long.hasPrefix(String(repeating: "x", count: 58)))
        #expect(!long.dropFirst(58).contains("x"))
        #expect(NameGenerator.generateName(base: "a") != NameGenerator.generateName(base: "a"))
    }

    // MARK: - ObjectMeta

    @Test func nameRequiredUnlessGenerated() {
        #expect(
            Self.pod.validateCreate(["namespace": "default"]).map(\.description) == [
                "metadata.name: Required value: name or generateName is required"
            ])
        #expect(Self.pod.validateCreate(["name": "web-abcde", "generateName": "web-", "namespace": "default"]).isEmpty)
        #expect(
            Self.pod.validateCreate(["name": "Web-abcde", "generateName": "Web-", "namespace": "default"])
                .map(\.description) == [
                    #"metadata.generateName: Invalid value: "Web-": "# + Self.subdomainRule,
                    #"metadata.name: Invalid value: "Web-abcde": "# + Self.subdomainRule,
                ])
    }

    @Test func namespaceScope() {
        #expect(Self.pod.validateCreate(["name": "a"]).map(\.description) == ["metadata.namespace: Required value"])
        #expect(
            Self.pod.validateCreate(["name": "a", "namespace": "Bad_NS"]).map(\.description) == [
                #"metadata.namespace: Invalid value: "Bad_NS": "# + Self.labelRule
            ])
        let node = ObjectMetaValidation(namespaced: false, nameRule: .dnsSubdomain)
        #expect(
            node.validateCreate(["name": "n1", "namespace": "default"]).map(\.description) == [
                "metadata.namespace: Forbidden: not allowed on this type"
            ])
        let service = ObjectMetaValidation(namespaced: true, nameRule: .dns1035Label)
        #expect(service.validateCreate(["name": "1web", "namespace": "default"]).count == 1)
    }

    @Test func labelsAndAnnotations() {
        let errors = Self.pod.validateCreate([
            "name": "a", "namespace": "default", "labels": ["ok": "fine", "bad key": "@"],
            "annotations": ["Example.COM/Mixed-Case": "allowed", "no/good/key": "x"],
        ])
        #expect(errors.map(\.field) == ["metadata.labels", "metadata.labels", "metadata.annotations"])
        #expect(errors[0].description.hasPrefix(#"metadata.labels: Invalid value: "bad key": name part must consist"#))
        #expect(errors[1].description.hasPrefix(#"metadata.labels: Invalid value: "@": a valid label must be"#))
        #expect(
            errors[2].description.hasPrefix(#"metadata.annotations: Invalid value: "no/good/key": a valid label key"#))
    }

    @Test func annotationsTooLong() {
        let big = String(repeating: "x", count: MetadataValidation.totalAnnotationSizeLimitBytes - 1)
        #expect(Self.pod.validateCreate(["name": "a", "namespace": "d", "annotations": ["k": .string(big)]]).isEmpty)
        let errors = Self.pod.validateCreate(["name": "a", "namespace": "d", "annotations": ["k": .string(big + "y")]])
        #expect(errors.map(\.description) == ["metadata.annotations: Too long: may not be more than 262144 bytes"])
        #expect(errors.map(\.reason) == ["FieldValueTooLong"])
    }

    @Test func ownerReferences() {
        let references: JSONValue = [
            ["apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs1", "uid": "u1", "controller": true],
            [
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs2", "uid": "u2", "controller": true,
                "blockOwnerDeletion": true,
            ],
        ]
        let errors = MetadataValidation.validateOwnerReferences(
            references, path: FieldPath("metadata", "ownerReferences"))
        #expect(
            errors.map(\.description) == [
                #"metadata.ownerReferences: Invalid value: [{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs1","uid":"u1","controller":true},"#
                    + #"{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs2","uid":"u2","controller":true,"blockOwnerDeletion":true}]: "#
                    + #"Only one reference can have Controller set to true. Found "true" in references for ReplicaSet/rs1 and ReplicaSet/rs2"#
            ])
        let incomplete = MetadataValidation.validateOwnerReferences(
            [["apiVersion": "a/b/c"], ["apiVersion": "v1", "kind": "Event", "name": "e", "uid": "u"]],
            path: FieldPath("metadata", "ownerReferences"))
        #expect(
            incomplete.map(\.description) == [
                #"metadata.ownerReferences[0].apiVersion: Invalid value: "a/b/c": must be <group>/<version> or <version>"#,
                "metadata.ownerReferences[0].kind: Required value: must not be empty",
                "metadata.ownerReferences[0].name: Required value: must not be empty",
                "metadata.ownerReferences[0].uid: Required value: must not be empty",
                #"metadata.ownerReferences[1]: Invalid value: {"apiVersion":"v1","kind":"Event","name":"e","uid":"u"}: "#
                    + "/v1, Kind=Event is disallowed from being an owner",
            ])
        #expect(
            MetadataValidation.validateOwnerReferences(
                [["kind": "K", "name": "n", "uid": "u"]],
                path: FieldPath("o")
            ).map(\.description) == ["o[0].apiVersion: Required value: must not be empty"])
    }

    @Test func finalizers() {
        let errors = Self.pod.validateCreate([
            "name": "a", "namespace": "d", "finalizers": ["orphan", "foregroundDeletion", "custom", "example.com/ok"],
        ])
        #expect(
            errors.map(\.description) == [
                #"metadata.finalizers: Invalid value: ["orphan","foregroundDeletion","custom","example.com/ok"]: "#
                    + "finalizer orphan and foregroundDeletion cannot be both set",
                #"metadata.finalizers[2]: Invalid value: "custom": name is neither a standard finalizer name nor is it "#
                    + "fully qualified",
            ])
        let customResource = ObjectMetaValidation(
            namespaced: true, nameRule: .dnsSubdomain, requiresQualifiedFinalizers: false)
        #expect(customResource.validateCreate(["name": "a", "namespace": "d", "finalizers": ["custom"]]).isEmpty)
        #expect(
            customResource.validateCreate(["name": "a", "namespace": "d", "finalizers": ["x/y_"]]).map(\.field)
                == ["metadata.finalizers"])
    }

    @Test func generationAndManagedFields() {
        let errors = Self.pod.validateCreate([
            "name": "a", "namespace": "d", "generation": -1,
            "managedFields": [["operation": "Foo", "fieldsType": "FieldsV2", "manager": "m\u{7}"], [:]],
        ])
        #expect(
            errors.map(\.description) == [
                "metadata.generation: Invalid value: -1: must be greater than or equal to 0",
                #"metadata.managedFields[0].operation: Unsupported value: "Foo": supported values: "Apply", "Update""#,
                #"metadata.managedFields[0].fieldsType: Invalid value: "FieldsV2": must be `FieldsV1`"#,
                #"metadata.managedFields[0].manager: Invalid value: "m\a": invalid character U+0007 (at position 1)"#,
                "metadata.managedFields[1].operation: Required value: must not be empty",
            ])
    }

    @Test func updates() {
        let old: JSONValue = [
            "name": "a", "namespace": "d", "uid": "u1", "resourceVersion": "5", "generation": 3,
            "creationTimestamp": "2024-01-01T00:00:00Z", "deletionTimestamp": "2024-01-02T00:00:00Z",
            "finalizers": ["example.com/a"],
        ]
        #expect(Self.pod.validateUpdate(old, old: old).isEmpty)
        let changed: JSONValue = [
            "name": "b", "namespace": "d", "uid": "u2", "generation": 2, "creationTimestamp": "2024-01-01T00:00:00Z",
            "finalizers": ["example.com/a", "example.com/z", "example.com/b"],
        ]
        #expect(
            Self.pod.validateUpdate(changed, old: old).map(\.description) == [
                #"metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/b", "example.com/z"}"#,
                #"metadata.resourceVersion: Invalid value: "": must be specified for an update"#,
                "metadata.generation: Invalid value: 2: must not be decremented",
                #"metadata.name: Invalid value: "b": field is immutable"#,
                #"metadata.uid: Invalid value: "u2": field is immutable"#,
                "metadata.deletionTimestamp: Invalid value: null: field is immutable",
            ])
    }
}

/// A seeded generator, so generated names are reproducible in tests.
private struct SeededNameRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
