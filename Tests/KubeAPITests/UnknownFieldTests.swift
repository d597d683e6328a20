import Testing

@testable import KubeAPI

@Suite struct UnknownFieldTests {
    let podSchema = KubeSchemaCatalogue.shared.definition(forGroup: "", version: "v1", kind: "Pod")!
    let deploymentSchema = KubeSchemaCatalogue.shared.definition(forGroup: "apps", version: "v1", kind: "Deployment")!

    let pod = schemaTestJSON(
        #"""
        {"apiVersion":"v1","kind":"Pod",
         "metadata":{"name":"p","labels":{"any-key":"v"},"annotations":{"a/b":"c"},"colour":"red"},
         "spec":{"containers":[{"name":"c","image":"i","bar":1,"resources":{"limits":{"cpu":"1","memory":"1Gi"}},
                                "ports":[{"containerPort":80,"hostIP":"0.0.0.0","extra":{"deep":true}}]}],
                 "foo":{"nested":"not reported"},"nodeSelector":{"disk":"ssd"}},
         "status":{"phase":"Pending"}}
        """#)

    @Test func createBodyErrorsComeInDocumentOrderWithGoQuoting() {
        let errors = UnknownFields.find(in: pod, schema: podSchema)
        #expect(
            errors.map(\.path) == [
                "metadata.colour", "spec.containers[0].bar", "spec.containers[0].ports[0].extra", "spec.foo",
            ])
        let error = UnknownFields.strictDecodingError(in: pod, schema: podSchema)
        #expect(
            error?.message
                == #"strict decoding error: unknown field "metadata.colour", unknown field "spec.containers[0].bar", unknown field "spec.containers[0].ports[0].extra", unknown field "spec.foo""#
        )
        #expect(error?.warnings.first == #"unknown field "metadata.colour""#)
        #expect(
            error?.badRequestMessage(kind: "Pod", version: "v1", objectKind: "Pod")
                == #"Pod in version "v1" cannot be handled as a Pod: "# + (error?.message ?? ""))
    }

    @Test func aCleanObjectHasNoErrors() {
        let clean = UnknownFields.prune(pod, schema: podSchema)
        #expect(UnknownFields.find(in: clean, schema: podSchema).isEmpty)
        #expect(UnknownFields.strictDecodingError(in: clean, schema: podSchema) == nil)
        // apiVersion and kind are known at the root even where a schema does not list them.
        let scaleLike = try? schemaTestCatalogue(
            #"{"Thing":{"type":"object","properties":{"spec":{"type":"object","properties":{"n":{"type":"integer"}}}}}}"#
        )
        let thing = scaleLike?.definition(named: "Thing")
        #expect(
            thing.map { UnknownFields.find(in: ["apiVersion": "v1", "kind": "Thing", "spec": ["n": 1]], schema: $0) }
                == [])
        #expect(thing.map { UnknownFields.find(in: ["spec": ["kind": "x"]], schema: $0).map(\.path) } == ["spec.kind"])
    }

    @Test func patchedMapErrorsAreSortedAndUnquoted() {
        let errors = UnknownFields.find(
            in: pod, schema: podSchema, decoding: .patchedMap, duplicatePaths: ["spec.replicas"])
        #expect(
            errors.map(\.message) == [
                #"duplicate field "spec.replicas""#, #"unknown field "metadata.colour""#,
                #"unknown field "spec.containers[0].bar""#, #"unknown field "spec.containers[0].ports[0].extra""#,
                #"unknown field "spec.foo""#,
            ])
        let odd: JSONValue = ["spec": ["b\"q": 1, "a\nb": 2]]
        #expect(
            UnknownFields.find(in: odd, schema: podSchema).map(\.message) == [
                #"unknown field "spec.b\"q""#, #"unknown field "spec.a\nb""#,
            ])
        #expect(
            UnknownFields.find(in: odd, schema: podSchema, decoding: .patchedMap).map(\.message) == [
                "unknown field \"spec.a\nb\"", "unknown field \"spec.b\"q\"",
            ])
    }

    @Test func mapKeysArePartOfJSONPathsButNotOfConverterPaths() throws {
        let catalogue = try schemaTestCatalogue(
            #"""
            {"Holder":{"type":"object","properties":{"items":{"type":"object","additionalProperties":{"$ref":"Item"}}}},
             "Item":{"type":"object","properties":{"size":{"type":"integer"}}}}
            """#)
        let holder = try #require(catalogue.definition(named: "Holder"))
        let value: JSONValue = ["items": ["first": ["size": 1, "colour": "red"]]]
        #expect(UnknownFields.find(in: value, schema: holder).map(\.path) == ["items.first.colour"])
        #expect(UnknownFields.find(in: value, schema: holder, decoding: .patchedMap).map(\.path) == ["items.colour"])
    }

    @Test func duplicatesFollowTheirFieldInTheJSONBody() {
        let body: JSONValue = ["metadata": ["name": "p", "oops": 1], "spec": ["containers": [["name": "c"]]]]
        let errors = UnknownFields.find(
            in: body, schema: podSchema, duplicatePaths: ["metadata.name", "spec.containers[0].name", "status.x.y"])
        #expect(
            errors.map(\.message) == [
                #"duplicate field "metadata.name""#, #"unknown field "metadata.oops""#,
                #"duplicate field "spec.containers[0].name""#, #"duplicate field "status.x.y""#,
            ])
    }

    @Test func theJSONDecoderStopsAtAHundredErrors() {
        var spec = JSONObject()
        for index in 0..<150 { spec["unknown\(index)"] = .int(Int64(index)) }
        let errors = UnknownFields.find(in: ["spec": .object(spec)], schema: podSchema)
        #expect(errors.count == UnknownFields.jsonBodyErrorsMaximum)
        #expect(errors.last?.path == "spec.unknown99")
        #expect(UnknownFields.find(in: ["spec": .object(spec)], schema: podSchema, decoding: .patchedMap).count == 150)
    }

    @Test func freeFormAndPreservedValuesAcceptAnything() throws {
        let revisionSchema = try #require(
            KubeSchemaCatalogue.shared.definition(forGroup: "apps", version: "v1", kind: "ControllerRevision"))
        let revision: JSONValue = ["revision": 1, "data": ["spec": ["anything": ["goes": true]]]]
        #expect(UnknownFields.find(in: revision, schema: revisionSchema).isEmpty)

        let catalogue = try schemaTestCatalogue(
            #"""
            {"Widget":{"type":"object","properties":{"spec":{"type":"object","x-kubernetes-preserve-unknown-fields":true,
              "properties":{"known":{"type":"object","properties":{"a":{"type":"string"}}}}}}}}
            """#)
        let widget = try #require(catalogue.definition(named: "Widget"))
        let value: JSONValue = ["spec": ["free": ["x": 1], "known": ["a": "1", "b": "2"]]]
        #expect(UnknownFields.find(in: value, schema: widget).map(\.path) == ["spec.known.b"])
        #expect(UnknownFields.prune(value, schema: widget) == ["spec": ["free": ["x": 1], "known": ["a": "1"]]])
    }

    @Test func wrongTypesAreNotStrictErrors() {
        let body: JSONValue = ["spec": ["containers": "not a list", "nodeSelector": [1, 2]], "metadata": "x"]
        #expect(UnknownFields.find(in: body, schema: podSchema).isEmpty)
    }

    @Test func pruneDropsUnknownFieldsAndOptionallyNulls() {
        let pruned = UnknownFields.prune(pod, schema: podSchema)
        #expect(pruned[path: "metadata"] == ["name": "p", "labels": ["any-key": "v"], "annotations": ["a/b": "c"]])
        #expect(pruned[path: "spec", "foo"] == nil)
        #expect(
            pruned[path: "spec", "containers"] == [
                [
                    "name": "c", "image": "i", "resources": ["limits": ["cpu": "1", "memory": "1Gi"]],
                    "ports": [["containerPort": 80, "hostIP": "0.0.0.0"]],
                ]
            ])
        #expect(pruned["apiVersion"] == "v1")
        #expect(pruned["kind"] == "Pod")

        let withNulls: JSONValue = [
            "metadata": ["name": "d", "labels": nil], "spec": ["replicas": nil, "paused": false],
        ]
        #expect(UnknownFields.prune(withNulls, schema: deploymentSchema) == withNulls)
        #expect(
            UnknownFields.prune(withNulls, schema: deploymentSchema, removingNulls: true)
                == ["metadata": ["name": "d"], "spec": ["paused": false]])
    }

    @Test func aPatchedDeploymentWithLeftoverDirectivesIsCaught() throws {
        // A $retainKeys sent for a field the live object lacks survives the patch, as upstream; strict validation
        // then names it and pruning drops it.
        let live: JSONValue = ["apiVersion": "apps/v1", "kind": "Deployment", "spec": ["replicas": 1]]
        let patch = schemaTestJSON(#"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}"#)
        let result = try StrategicMergePatch.apply(patch, to: live, schema: deploymentSchema)
        #expect(
            UnknownFields.find(in: result, schema: deploymentSchema, decoding: .patchedMap).map(\.message) == [
                #"unknown field "spec.strategy.$retainKeys""#
            ])
        #expect(UnknownFields.prune(result, schema: deploymentSchema)[path: "spec", "strategy"] == ["type": "Recreate"])
    }
}

@Suite struct EmbeddedResourceTests {
    @Test func anEmbeddedResourceKnowsItsTypeMetaAndMetadata() throws {
        let catalogue = try schemaTestCatalogue(
            #"""
            {"Holder":{"type":"object","properties":{"template":{"type":"object","x-kubernetes-embedded-resource":true,
              "properties":{"spec":{"type":"object","properties":{"n":{"type":"integer"}}}}}}}}
            """#)
        let holder = try #require(catalogue.definition(named: "Holder"))
        let value: JSONValue = [
            "template": ["apiVersion": "v1", "kind": "X", "metadata": ["name": "x"], "spec": ["n": 1], "other": 2]
        ]
        #expect(UnknownFields.find(in: value, schema: holder).map(\.path) == ["template.other"])
        #expect(UnknownFields.find(in: ["kind": "Holder", "spec": 1], schema: holder).map(\.path) == ["spec"])
    }
}
