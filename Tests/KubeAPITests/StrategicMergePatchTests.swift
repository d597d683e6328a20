import Testing

@testable import KubeAPI

/// Strategic merge patch against the built-in catalogue, with bodies shaped like kubectl's; expected orders are
/// apimachinery's (new keyed elements without `$setElementOrder` land before the live ones).
@Suite struct StrategicMergePatchTests {
    let deploymentSchema = KubeSchemaCatalogue.shared.definition(forGroup: "apps", version: "v1", kind: "Deployment")
    let podSchema = KubeSchemaCatalogue.shared.definition(forGroup: "", version: "v1", kind: "Pod")
    let serviceSchema = KubeSchemaCatalogue.shared.definition(forGroup: "", version: "v1", kind: "Service")

    let deployment = schemaTestJSON(
        #"""
        {"apiVersion":"apps/v1","kind":"Deployment",
         "metadata":{"name":"web","namespace":"default","labels":{"app":"web","tier":"front"},
                     "annotations":{"deployment.kubernetes.io/revision":"1"},"finalizers":["a","b"]},
         "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
                 "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}},
                 "template":{"metadata":{"labels":{"app":"web"}},
                             "spec":{"containers":[{"name":"c","image":"nginx:1.26",
                                                    "env":[{"name":"B","value":"2"}],
                                                    "ports":[{"containerPort":80,"name":"http","protocol":"TCP"}]}],
                                     "volumes":[{"name":"data","emptyDir":{}}],
                                     "tolerations":[{"key":"k1","operator":"Exists"},{"key":"k2","operator":"Exists"}]}}}}
        """#)

    func patched(_ patch: String, _ original: JSONValue? = nil) throws -> JSONValue {
        try StrategicMergePatch.apply(schemaTestJSON(patch), to: original ?? deployment, schema: deploymentSchema)
    }

    func containers(_ object: JSONValue) -> [JSONValue] {
        object[path: "spec", "template", "spec", "containers"]?.arrayValue ?? []
    }

    @Test func kubectlApplyMergesContainersByNameInTheGivenOrder() throws {
        let result = try patched(
            #"""
            {"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"}},
             "spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"side"}],
               "containers":[{"env":[{"name":"A","value":"1"}],"image":"nginx:1.27","name":"c"},
                             {"image":"busybox","name":"side"}]}}}}
            """#)
        let list = containers(result)
        #expect(list.map { $0["name"] } == ["c", "side"])
        #expect(list[0]["image"] == "nginx:1.27")
        // env merges by name; A is new and not ordered by $setElementOrder/env, so it comes first.
        #expect(list[0]["env"] == [["name": "A", "value": "1"], ["name": "B", "value": "2"]])
        #expect(list[0]["ports"] == [["containerPort": 80, "name": "http", "protocol": "TCP"]])
        #expect(list[1] == ["image": "busybox", "name": "side"])
        #expect(result[path: "metadata", "annotations", "deployment.kubernetes.io/revision"] == "1")
        #expect(result[path: "metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"] == "{}")
        #expect(result[path: "spec", "replicas"] == 2)
    }

    @Test func rolloutRestartAddsATemplateAnnotation() throws {
        let result = try patched(
            #"{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-01-02T03:04:05Z"}}}}}"#
        )
        #expect(
            result[path: "spec", "template", "metadata"] == [
                "labels": ["app": "web"], "annotations": ["kubectl.kubernetes.io/restartedAt": "2026-01-02T03:04:05Z"],
            ])
        #expect(containers(result) == containers(deployment))
    }

    @Test func setImageReplacesOneContainersImage() throws {
        let result = try patched(#"{"spec":{"template":{"spec":{"containers":[{"image":"nginx:1.28","name":"c"}]}}}}"#)
        #expect(containers(result).count == 1)
        #expect(containers(result)[0]["image"] == "nginx:1.28")
        #expect(containers(result)[0]["env"] == [["name": "B", "value": "2"]])
    }

    @Test func patchDeleteRemovesAContainer() throws {
        let withSidecar = try patched(
            #"{"spec":{"template":{"spec":{"containers":[{"image":"busybox","name":"side"}]}}}}"#)
        #expect(containers(withSidecar).map { $0["name"] } == ["side", "c"])
        let result = try patched(
            #"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"c"}],"containers":[{"$patch":"delete","name":"side"}]}}}}"#,
            withSidecar)
        #expect(containers(result).map { $0["name"] } == ["c"])
        let again = try patched(#"{"spec":{"template":{"spec":{"containers":[{"$patch":"delete","name":"c"}]}}}}"#)
        #expect(containers(again) == [])
    }

    @Test func finalizersMergeAsASet() throws {
        let added = try patched(#"{"metadata":{"finalizers":["c","a"]}}"#)
        #expect(added[path: "metadata", "finalizers"] == ["c", "a", "b"])
        let ordered = try patched(#"{"metadata":{"$setElementOrder/finalizers":["a","b","c"],"finalizers":["c"]}}"#)
        #expect(ordered[path: "metadata", "finalizers"] == ["a", "b", "c"])
        let removed = try patched(
            #"{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"$setElementOrder/finalizers":["b"]}}"#)
        #expect(removed[path: "metadata", "finalizers"] == ["b"])
        let cleared = try patched(#"{"metadata":{"finalizers":null}}"#)
        #expect(cleared[path: "metadata", "finalizers"] == nil)
    }

    @Test func tolerationsAreReplaced() throws {
        let result = try patched(#"{"spec":{"template":{"spec":{"tolerations":[{"key":"k3","operator":"Exists"}]}}}}"#)
        #expect(result[path: "spec", "template", "spec", "tolerations"] == [["key": "k3", "operator": "Exists"]])
    }

    @Test func servicePortsMergeByPort() throws {
        let service = schemaTestJSON(
            #"""
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
             "spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080},
                                                      {"name":"https","port":443,"protocol":"TCP","targetPort":8443}]}}
            """#)
        let patch = schemaTestJSON(#"{"spec":{"ports":[{"port":80,"targetPort":"web"}]}}"#)
        let result = try StrategicMergePatch.apply(patch, to: service, schema: serviceSchema)
        #expect(
            result[path: "spec", "ports"] == [
                ["name": "http", "port": 80, "protocol": "TCP", "targetPort": "web"],
                ["name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443],
            ])
        #expect(result[path: "spec", "selector"] == ["app": "web"])
    }

    @Test func containerPortsMergeByContainerPort() throws {
        let result = try patched(
            #"{"spec":{"template":{"spec":{"containers":[{"name":"c","ports":[{"containerPort":8080,"name":"alt"},{"containerPort":80,"name":"web"}]}]}}}}"#
        )
        #expect(
            containers(result)[0]["ports"] == [
                ["containerPort": 8080, "name": "alt"], ["containerPort": 80, "name": "web", "protocol": "TCP"],
            ])
    }

    @Test func volumesMergeByNameAndRetainKeysClearsTheOldSource() throws {
        let result = try patched(
            #"""
            {"spec":{"template":{"spec":{"volumes":[
              {"$retainKeys":["configMap","name"],"configMap":{"name":"settings"},"name":"data"},
              {"name":"cache","emptyDir":{"medium":"Memory"}}]}}}}
            """#)
        #expect(
            result[path: "spec", "template", "spec", "volumes"] == [
                ["name": "data", "configMap": ["name": "settings"]],
                ["name": "cache", "emptyDir": ["medium": "Memory"]],
            ])
    }

    @Test func retainKeysOnTheDeploymentStrategy() throws {
        let result = try patched(#"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}"#)
        #expect(result[path: "spec", "strategy"] == ["type": "Recreate"])
        #expect(throws: StrategicMergePatchError.badRetainKeysFormat) {
            try patched(#"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":{}}}}"#)
        }
        #expect(StrategicMergePatchError.badRetainKeysFormat.response == .badRequest)
    }

    @Test func mapDirectivesAndNulls() throws {
        let replaced = try patched(#"{"spec":{"selector":{"$patch":"replace","matchLabels":{"app":"other"}}}}"#)
        #expect(replaced[path: "spec", "selector"] == ["matchLabels": ["app": "other"]])
        let deleted = try patched(#"{"spec":{"strategy":{"$patch":"delete"}}}"#)
        #expect(deleted[path: "spec", "strategy"] == [:])
        let unset = try patched(#"{"metadata":{"labels":{"tier":null,"new":"x"}},"spec":{"replicas":null}}"#)
        #expect(unset[path: "metadata", "labels"] == ["app": "web", "new": "x"])
        #expect(unset[path: "spec", "replicas"] == nil)
        // A new value arrives without its nulls and without objects that carry a directive.
        let added = try patched(#"{"spec":{"paused":true,"newField":{"a":null,"b":1,"c":{"$patch":"delete"}}}}"#)
        #expect(added[path: "spec", "newField"] == ["b": 1])
        #expect(added[path: "spec", "paused"] == true)
    }

    @Test func listReplaceDirective() throws {
        let result = try patched(
            #"{"spec":{"template":{"spec":{"containers":[{"$patch":"replace"},{"name":"only","image":"x"}]}}}}"#)
        #expect(containers(result) == [["name": "only", "image": "x"]])
    }

    @Test func keysKeepTheirPlaceAndNewKeysFollow() throws {
        let result = try patched(#"{"zeta":1,"metadata":{"name":"web"},"alpha":2}"#)
        #expect(result.objectValue?.keys == ["apiVersion", "kind", "metadata", "spec", "zeta", "alpha"])
    }

    /// The error applying `patch` to the deployment raises, if any.
    func patchError(_ patch: JSONValue) -> StrategicMergePatchError? {
        do {
            _ = try StrategicMergePatch.apply(patch, to: deployment, schema: deploymentSchema)
            return nil
        } catch {
            return error
        }
    }

    @Test func errorsUseApimachinerysWords() throws {
        let unknown = patchError(schemaTestJSON(#"{"metadata":{"$patch":"frobnicate"}}"#))
        #expect(unknown?.message == "unknown patch type: frobnicate in map: map[$patch:frobnicate]")
        #expect(unknown?.response == .internalError)
        let cases: [(String, String)] = [
            (
                #"{"spec":{"template":{"spec":{"containers":[{"$patch":"merge","name":"c"}]}}}}"#,
                "merging lists cannot yet be specified in the patch"
            ),
            (
                #"{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}"#,
                "map: map[image:x] does not contain declared merge key: name"
            ),
            (
                #"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"c"}],"containers":[{"name":"d"}]}}}}"#,
                "The order in patch list:\n[map[name:d]]\n doesn't match $setElementOrder list:\n[map[name:c]]\n"
            ),
            (#"{"metadata":{"$setElementOrder":[]}}"#, "invalid patch format of setElementOrder list"),
            (#"{"metadata":{"$deleteFromPrimitiveList":["a"]}}"#, "invalid patch format of primitive list"),
            (#"{"metadata":{"finalizers":[1]}}"#, "list element types are not identical: [[a b] [1]]"),
            (#"{"metadata":{"finalizers":[["x"]]}}"#, "list element types are not identical: [[a b] [[x]]]"),
        ]
        for (patch, message) in cases {
            #expect(patchError(schemaTestJSON(patch))?.message == message, "\(patch)")
        }
        let notAnObject = patchError(["a"])
        #expect(notAnObject?.message == "json: cannot unmarshal array into Go value of type map[string]interface {}")
        #expect(notAnObject?.response == .badRequest)
    }

    @Test func withoutASchemaListsAreReplaced() throws {
        let original: JSONValue = ["a": ["x": [1, 2], "y": "keep"], "list": [["name": "a"]]]
        let patch: JSONValue = ["a": ["x": [3], "z": nil], "list": [["name": "b"]]]
        let result = try StrategicMergePatch.apply(patch, to: original, schema: nil)
        #expect(result == ["a": ["x": [3], "y": "keep"], "list": [["name": "b"]]])
        // Free-form values (a ControllerRevision's data) behave the same.
        let revisionSchema = KubeSchemaCatalogue.shared.definition(
            forGroup: "apps", version: "v1", kind: "ControllerRevision")
        let revision: JSONValue = ["data": ["spec": ["list": [1, 2], "keep": true]], "revision": 1]
        let revised = try StrategicMergePatch.apply(
            ["data": ["spec": ["list": [3]]], "revision": 2], to: revision, schema: revisionSchema)
        #expect(revised == ["data": ["spec": ["list": [3], "keep": true]], "revision": 2])
    }

    @Test func podPatchFromThePythonClient() throws {
        let pod = schemaTestJSON(
            #"{"metadata":{"name":"p","labels":{"a":"1"}},"spec":{"containers":[{"name":"c","image":"i","volumeMounts":[{"name":"v","mountPath":"/data"}]}]}}"#
        )
        let patch = schemaTestJSON(
            #"{"metadata":{"labels":{"b":"2"}},"spec":{"containers":[{"name":"c","volumeMounts":[{"name":"w","mountPath":"/cache"}]}]}}"#
        )
        let result = try StrategicMergePatch.apply(patch, to: pod, schema: podSchema)
        #expect(result[path: "metadata", "labels"] == ["a": "1", "b": "2"])
        #expect(
            result[path: "spec", "containers"] == [
                [
                    "name": "c", "image": "i",
                    "volumeMounts": [["name": "w", "mountPath": "/cache"], ["name": "v", "mountPath": "/data"]],
                ]
            ])
    }
}

/// Ordering and directive cases that apimachinery's own tests pin down (patch.go's raw test cases: a live object, a
/// patch, the result, order included), over a schema shaped like its test type.
@Suite struct StrategicMergePatchOrderTests {
    static let schema: KubeSchemaNode? = {
        let catalogue = try? schemaTestCatalogue(
            #"""
            {"MergeItem":{"type":"object","properties":{
               "name":{"type":"string"},"value":{"type":"string"},"other":{"type":"string"},
               "mergingList":{"type":"array","items":{"$ref":"MergeItem"},
                              "x-kubernetes-patch-strategy":"merge","x-kubernetes-patch-merge-key":"name"},
               "mergeItemPtr":{"type":"array","items":{"$ref":"MergeItem"},
                               "x-kubernetes-patch-strategy":"merge","x-kubernetes-patch-merge-key":"name"},
               "nonMergingList":{"type":"array","items":{"$ref":"MergeItem"}},
               "mergingIntList":{"type":"array","items":{"type":"integer"},"x-kubernetes-patch-strategy":"merge"},
               "nonMergingIntList":{"type":"array","items":{"type":"integer"}},
               "simpleMap":{"type":"object","additionalProperties":{"type":"string"}},
               "replacingItem":{"$ref":"RawExtension","x-kubernetes-patch-strategy":"replace"},
               "retainKeysMergingList":{"type":"array","items":{"$ref":"MergeItem"},
                  "x-kubernetes-patch-strategy":"merge,retainKeys","x-kubernetes-patch-merge-key":"name"}}},
             "RawExtension":{"type":"object"}}
            """#)
        return catalogue?.definition(named: "MergeItem")
    }()

    /// (description, live object, patch, result)
    static let cases: [(String, String, String, String)] = [
        (
            "delete all duplicates from a primitive list", #"{"mergingIntList":[1,2,3,3,4]}"#,
            #"{"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
            #"{"mergingIntList":[1,2,4]}"#
        ),
        (
            "add to a primitive list in order", #"{"mergingIntList":[1,4,2]}"#,
            #"{"$setElementOrder/mergingIntList":[3,1,2],"mergingIntList":[3]}"#, #"{"mergingIntList":[3,1,4,2]}"#
        ),
        (
            "add several to a primitive list in order", #"{"mergingIntList":[1,2]}"#,
            #"{"$setElementOrder/mergingIntList":[1,4,2,3],"mergingIntList":[4,3]}"#,
            #"{"mergingIntList":[1,4,2,3]}"#
        ),
        (
            "add and delete in a primitive list", #"{"mergingIntList":[1,2,3]}"#,
            #"{"$setElementOrder/mergingIntList":[4,2,1],"mergingIntList":[4],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
            #"{"mergingIntList":[4,2,1]}"#
        ),
        (
            "order a primitive list with live-only items", #"{"mergingIntList":[1,2,7,9,8,3,4]}"#,
            #"{"$setElementOrder/mergingIntList":[2,1,4,3]}"#, #"{"mergingIntList":[2,1,7,9,8,4,3]}"#
        ),
        (
            "order a primitive list with duplicates", #"{"mergingIntList":[1,2,3,2,4]}"#,
            #"{"$setElementOrder/mergingIntList":[2,1,4,3,2]}"#, #"{"mergingIntList":[2,2,1,4,3]}"#
        ),
        (
            "add to a keyed list in order",
            #"{"mergingList":[{"name":"1","other":"a"},{"name":"2","value":"2","other":"b"}]}"#,
            #"{"$setElementOrder/mergingList":[{"name":"1"},{"name":"4"},{"name":"2"},{"name":"3"}],"mergingList":[{"name":"4","value":"4"},{"name":"3","value":"3"}]}"#,
            #"{"mergingList":[{"name":"1","other":"a"},{"name":"4","value":"4"},{"name":"2","value":"2","other":"b"},{"name":"3","value":"3"}]}"#
        ),
        (
            "add and delete in a keyed list",
            #"{"mergingList":[{"name":"1","other":"a"},{"name":"2","value":"2","other":"b"},{"name":"3","value":"3"}]}"#,
            #"{"$setElementOrder/mergingList":[{"name":"4"},{"name":"2"},{"name":"1"}],"mergingList":[{"name":"4","value":"4"},{"name":"3","$patch":"delete"}]}"#,
            #"{"mergingList":[{"name":"4","value":"4"},{"name":"2","value":"2","other":"b"},{"name":"1","other":"a"}]}"#
        ),
        (
            "change an item and reorder",
            #"{"mergingList":[{"name":"1","other":"a"},{"name":"2","value":"2","other":"b"},{"name":"3","value":"3"}]}"#,
            #"{"$setElementOrder/mergingList":[{"name":"2"},{"name":"3"},{"name":"1"}],"mergingList":[{"name":"3","value":"x"}]}"#,
            #"{"mergingList":[{"name":"2","value":"2","other":"b"},{"name":"3","value":"x"},{"name":"1","other":"a"}]}"#
        ),
        (
            "order a keyed list with live-only items",
            #"{"mergingList":[{"name":"1","other":"a"},{"name":"2","value":"2"},{"name":"7"},{"name":"9"},{"name":"8"},{"name":"3","value":"3"},{"name":"4","value":"4"}]}"#,
            #"{"$setElementOrder/mergingList":[{"name":"2"},{"name":"1"},{"name":"4"},{"name":"3"}]}"#,
            #"{"mergingList":[{"name":"2","value":"2"},{"name":"1","other":"a"},{"name":"7"},{"name":"9"},{"name":"8"},{"name":"4","value":"4"},{"name":"3","value":"3"}]}"#
        ),
        (
            "order a keyed list with duplicates",
            #"{"mergingList":[{"name":"1"},{"name":"2","value":"dup1"},{"name":"3"},{"name":"2","value":"dup2"},{"name":"4"}]}"#,
            #"{"$setElementOrder/mergingList":[{"name":"2"},{"name":"1"},{"name":"4"},{"name":"3"},{"name":"2"}]}"#,
            #"{"mergingList":[{"name":"2","value":"dup1"},{"name":"2","value":"dup2"},{"name":"1"},{"name":"4"},{"name":"3"}]}"#
        ),
        (
            "retainKeys in a keyed list", #"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","other":"x"}]}"#,
            #"{"$setElementOrder/retainKeysMergingList":[{"name":"bar"},{"name":"foo"}],"retainKeysMergingList":[{"$retainKeys":["name","value"],"name":"foo","value":"a"}]}"#,
            #"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]}"#
        ),
        (
            "delete and reorder in one list, reorder in another",
            #"{"mergingList":[{"name":"a","value":"a"},{"name":"b","value":"b"}],"mergeItemPtr":[{"name":"c","value":"c"},{"name":"d","value":"d"}]}"#,
            #"{"$setElementOrder/mergingList":[{"name":"b"}],"$setElementOrder/mergeItemPtr":[{"name":"d"},{"name":"c"}],"mergingList":[{"$patch":"delete","name":"a"}]}"#,
            #"{"mergingList":[{"name":"b","value":"b"}],"mergeItemPtr":[{"name":"d","value":"d"},{"name":"c","value":"c"}]}"#
        ),
        (
            "a new keyed list keeps the patch's elements, directives dropped", #"{"name":"hi"}"#,
            #"{"mergingList":[{"name":"hello"},{"$patch":"delete","name":"doesntexist"}]}"#,
            #"{"name":"hi","mergingList":[{"name":"hello"}]}"#
        ),
        (
            "replace strategy and non-merging lists",
            #"{"replacingItem":{"a":1,"b":2},"nonMergingList":[{"name":"1"}],"nonMergingIntList":[1,2]}"#,
            #"{"replacingItem":{"c":3},"nonMergingList":[{"name":"2"}],"nonMergingIntList":[3]}"#,
            #"{"replacingItem":{"c":3},"nonMergingList":[{"name":"2"}],"nonMergingIntList":[3]}"#
        ),
    ]

    @Test(arguments: cases.indices) func matchesApimachinery(_ index: Int) throws {
        let (description, original, patch, expected) = Self.cases[index]
        let result = try StrategicMergePatch.apply(
            schemaTestJSON(patch), to: schemaTestJSON(original), schema: Self.schema)
        #expect(result == schemaTestJSON(expected), "\(description)")
        // Order matters too: compare each list element by element.
        #expect(GoMessageText.value(result) == GoMessageText.value(schemaTestJSON(expected)), "\(description)")
    }

    @Test func goStableSortMatchesAStableSortForAStrictOrder() {
        var values: [JSONValue] = (0..<200).map { .int(Int64(($0 * 37) % 50)) }
        var expected = values.enumerated().sorted {
            ($0.element.intValue!, $0.offset) < ($1.element.intValue!, $1.offset)
        }
        .map(\.element)
        StrategicMergePatch.goStableSort(&values) { $0.intValue! < $1.intValue! }
        #expect(values == expected)
        expected.reverse()
        StrategicMergePatch.goStableSort(&values) { $0.intValue! > $1.intValue! }
        #expect(values.map(\.intValue) == expected.map(\.intValue))
    }
}
