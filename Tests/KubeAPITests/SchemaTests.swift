import Testing

@testable import KubeAPI

/// JSON text as a JSONValue, through the catalogue's own reader (these tests do not lean on the request parser).
func schemaTestJSON(_ text: String) -> JSONValue {
    do {
        return try SchemaJSONReader.read(text)
    } catch {
        Issue.record("bad test JSON: \(error)")
        return .null
    }
}

/// A small catalogue in the compact format, from the `definitions` member's JSON text.
func schemaTestCatalogue(_ definitions: String) throws -> KubeSchemaCatalogue {
    let text = #"{"format":"kelson-kube-schemas/1","source":{"revision":"test"},"definitions":"# + definitions + "}"
    return try KubeSchemaCatalogue(text: text)
}

@Suite struct SchemaTests {
    let catalogue = KubeSchemaCatalogue.shared

    func node(_ group: String, _ version: String, _ kind: String, _ path: String...) throws -> KubeSchemaNode {
        var node = try #require(catalogue.definition(forGroup: group, version: version, kind: kind))
        for step in path {
            if step == "[]" {
                node = try #require(node.items, "\(step) of \(node)")
            } else if step == "{}" {
                node = try #require(node.mapValues, "\(step) of \(node)")
            } else {
                node = try #require(node.property(step), "\(step) of \(node)")
            }
        }
        return node
    }

    @Test func builtInCatalogueLoadsWithItsSource() throws {
        #expect(catalogue.definitionNames.count == 347)
        #expect(catalogue.upstreamRevision.contains("release-1.35"))
        #expect(catalogue.source["files"]?.arrayValue?.count == 10)
        let pod = try #require(catalogue.definition(named: "io.k8s.api.core.v1.Pod"))
        #expect(pod.kind == .object)
        #expect(pod.groupVersionKinds == [KubeGroupVersionKind(group: "", version: "v1", kind: "Pod")])
        #expect(pod.propertyNames == ["apiVersion", "kind", "metadata", "spec", "status"])
    }

    @Test func everyKindKelsonServesIsThere() {
        let kinds: [(String, String, String)] = [
            ("", "v1", "Pod"), ("", "v1", "Service"), ("", "v1", "ConfigMap"), ("", "v1", "Secret"),
            ("", "v1", "Namespace"), ("", "v1", "Node"), ("", "v1", "Event"), ("", "v1", "ServiceAccount"),
            ("", "v1", "Endpoints"), ("", "v1", "PersistentVolumeClaim"), ("", "v1", "Binding"),
            ("apps", "v1", "Deployment"), ("apps", "v1", "ReplicaSet"), ("apps", "v1", "StatefulSet"),
            ("apps", "v1", "DaemonSet"), ("apps", "v1", "ControllerRevision"), ("batch", "v1", "Job"),
            ("batch", "v1", "CronJob"), ("discovery.k8s.io", "v1", "EndpointSlice"),
            ("coordination.k8s.io", "v1", "Lease"), ("events.k8s.io", "v1", "Event"),
            ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"), ("autoscaling", "v1", "Scale"),
            ("policy", "v1", "Eviction"), ("policy", "v1", "PodDisruptionBudget"),
            ("authentication.k8s.io", "v1", "TokenRequest"),
        ]
        for (group, version, kind) in kinds {
            #expect(
                catalogue.definition(forGroup: group, version: version, kind: kind) != nil,
                "\(group)/\(version) \(kind)")
        }
        #expect(catalogue.definition(forGroup: "apps", version: "v1", kind: "Pod") == nil)
        // DeleteOptions is registered in every group.
        let deleteOptions = catalogue.definition(named: "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")
        #expect((deleteOptions?.groupVersionKinds.count ?? 0) > 5)
    }

    @Test func containersMergeByNameAndKeepTheirListFacts() throws {
        let containers = try node("", "v1", "Pod", "spec", "containers")
        #expect(containers.kind == .list)
        #expect(containers.patchStrategies == ["merge"])
        #expect(containers.patchMergeKey == "name")
        #expect(containers.listType == "map")
        #expect(containers.listMapKeys == ["name"])
        #expect(containers.items?.definitionName == "io.k8s.api.core.v1.Container")

        let ports = try node("", "v1", "Pod", "spec", "containers", "[]", "ports")
        #expect(ports.patchMergeKey == "containerPort")
        #expect(ports.listMapKeys == ["containerPort", "protocol"])
        #expect(try node("", "v1", "Service", "spec", "ports").patchMergeKey == "port")
        #expect(try node("", "v1", "Pod", "spec", "volumes").patchStrategies == ["merge", "retainKeys"])
        #expect(try node("apps", "v1", "Deployment", "spec", "strategy").patchStrategies == ["retainKeys"])
        #expect(try node("apps", "v1", "Deployment", "spec", "strategy").defaultValue == .object([:]))
        #expect(try node("policy", "v1", "PodDisruptionBudget", "spec", "selector").patchStrategies == ["replace"])
    }

    @Test func finalizersAreAMergeSetAndTolerationsAreAtomic() throws {
        let finalizers = try node("", "v1", "Pod", "metadata", "finalizers")
        #expect(finalizers.patchStrategies == ["merge"])
        #expect(finalizers.patchMergeKey == nil)
        #expect(finalizers.listType == "set")
        #expect(finalizers.items?.kind == .primitive(.string))

        let tolerations = try node("", "v1", "Pod", "spec", "tolerations")
        #expect(tolerations.patchStrategies == [])
        #expect(tolerations.listType == "atomic")
        #expect(try node("", "v1", "Pod", "metadata", "ownerReferences").patchMergeKey == "uid")
    }

    @Test func primitivesMapsAndFreeFormValues() throws {
        #expect(try node("", "v1", "Pod", "metadata", "labels").kind == .map)
        #expect(try node("", "v1", "Pod", "metadata", "labels", "{}").kind == .primitive(.string))
        let targetPort = try node("", "v1", "Service", "spec", "ports", "[]", "targetPort")
        #expect(targetPort.kind == .primitive(.integerOrString))
        #expect(targetPort.format == "int-or-string")
        let limits = try node("", "v1", "Pod", "spec", "containers", "[]", "resources", "limits", "{}")
        #expect(limits.kind == .primitive(.numberOrString))
        let created = try node("", "v1", "Pod", "metadata", "creationTimestamp")
        #expect(created.kind == .primitive(.string))
        #expect(created.format == "date-time")
        #expect(try node("", "v1", "Secret", "data", "{}").format == "byte")
        #expect(try node("", "v1", "Pod", "spec").property("replicas") == nil)
    }

    @Test func freeFormValues() throws {
        #expect(try node("apps", "v1", "ControllerRevision", "data").kind == .freeForm)
        #expect(try node("", "v1", "Pod", "metadata", "managedFields", "[]", "fieldsV1").kind == .freeForm)
        let schema = try node(
            "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "spec", "versions", "[]", "schema",
            "openAPIV3Schema")
        #expect(schema.property("default")?.kind == .freeForm)
        // JSONSchemaProps refers to itself: the cycle is resolved once, not unrolled.
        let properties = try #require(schema.property("properties")?.mapValues)
        #expect(properties.definitionName == schema.definitionName)
        #expect(properties == properties.property("properties")?.mapValues)
    }

    @Test func aCatalogueCanBeBuiltFromItsCompactForm() throws {
        let catalogue = try schemaTestCatalogue(
            #"""
            {"example.Widget":{"type":"object","gvk":[["example.com","v1","Widget"]],"properties":{
              "spec":{"$ref":"example.WidgetSpec"},
              "free":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}},
             "example.WidgetSpec":{"type":"object","properties":{"size":{"type":"integer","format":"int32"},
              "parts":{"type":"array","items":{"type":"string"},"x-kubernetes-list-type":"set"}}}}
            """#)
        let widget = try #require(catalogue.definition(forGroup: "example.com", version: "v1", kind: "Widget"))
        #expect(widget.property("spec")?.property("size")?.format == "int32")
        #expect(widget.property("spec")?.property("parts")?.listType == "set")
        #expect(widget.property("free")?.preservesUnknownFields == true)
        #expect(widget.property("free")?.kind == .freeForm)
    }

    @Test func aBrokenCatalogueIsRejected() {
        #expect(throws: KubeSchemaCatalogueError.self) {
            try schemaTestCatalogue(#"{"a":{"type":"object","properties":{"b":{"$ref":"missing"}}}}"#)
        }
        #expect(throws: KubeSchemaCatalogueError.self) {
            try schemaTestCatalogue(#"{"a":{"type":"object","description":"descriptions are not kept"}}"#)
        }
        #expect(throws: KubeSchemaCatalogueError.self) { try KubeSchemaCatalogue(text: #"{"format":"other"}"#) }
        #expect(throws: KubeSchemaCatalogueError.self) { try KubeSchemaCatalogue(text: "{") }
    }

    @Test func theReaderReadsStandardJSON() throws {
        let value = try SchemaJSONReader.read(
            #" {"a":[1,-2.5e3,true,false,null,"x\"\\\/\n\u00e9\ud83d\ude00"],"b":{}} "#)
        #expect(value == ["a": [1, -2500.0, true, false, nil, "x\"\\/\né😀"], "b": [:]])
        #expect(throws: SchemaJSONReader.Failure.self) { try SchemaJSONReader.read(#"{"a":1,}"#) }
        #expect(throws: SchemaJSONReader.Failure.self) { try SchemaJSONReader.read("[1] 2") }
    }
}

@Suite struct GoMessageTextTests {
    @Test func floatsPrintAsGoPrintsThem() {
        let cases: [(Double, String)] = [
            (1.5, "1.5"), (100, "100"), (123456, "123456"), (1e6, "1e+06"), (1234567, "1.234567e+06"),
            (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5e-7, "-2.5e-07"), (1e21, "1e+21"), (0, "0"),
        ]
        for (value, text) in cases { #expect(GoMessageText.float(value) == text, "\(value)") }
    }

    @Test func valuesAndQuotingPrintAsGoPrintsThem() {
        #expect(GoMessageText.value(["b": [1, "x", nil], "a": ["c": true]]) == "map[a:map[c:true] b:[1 x <nil>]]")
        #expect(GoMessageText.quoted("a\"b\\c\n\u{7F}\u{200B}é😀") == #""a\"b\\c\n\x7f\u200bé😀""#)
        #expect(GoMessageText.percentS(1) == "%!s(int64=1)")
        #expect(GoMessageText.typeName(nil) == "%!s(<nil>)")
    }
}
