import Testing

@testable import KubeAPI

// JSON patch as kube-apiserver applies it (evanphx/json-patch v4): RFC 6902's examples, that library's
// departures from the RFC, and its error texts.

private func json(_ text: String) -> JSONValue { try! JSONValue.parse(text) }
private func text(_ value: JSONValue) -> String { String(decoding: value.serialized(), as: UTF8.self) }

/// The patched document as JSON text, or the error's message.
private func outcome(_ document: String, _ patch: String) -> String {
    do {
        return text(try JSONPatch.apply(json(patch), to: json(document)))
    } catch {
        return "error: " + error.message
    }
}

@Suite struct JSONPatchTests {
    /// RFC 6902 appendix A (A.1 to A.16): document, patch, result or error.
    @Test(arguments: [
        (#"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz","value":"qux"}]"#, #"{"foo":"bar","baz":"qux"}"#),
        (#"{"foo":["bar","baz"]}"#, #"[{"op":"add","path":"/foo/1","value":"qux"}]"#, #"{"foo":["bar","qux","baz"]}"#),
        (#"{"baz":"qux","foo":"bar"}"#, #"[{"op":"remove","path":"/baz"}]"#, #"{"foo":"bar"}"#),
        (#"{"foo":["bar","qux","baz"]}"#, #"[{"op":"remove","path":"/foo/1"}]"#, #"{"foo":["bar","baz"]}"#),
        (
            #"{"baz":"qux","foo":"bar"}"#, #"[{"op":"replace","path":"/baz","value":"boo"}]"#,
            #"{"baz":"boo","foo":"bar"}"#
        ),
        (
            #"{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}"#,
            #"[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]"#,
            #"{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}"#
        ),
        (
            #"{"foo":["all","grass","cows","eat"]}"#, #"[{"op":"move","from":"/foo/1","path":"/foo/3"}]"#,
            #"{"foo":["all","cows","eat","grass"]}"#
        ),
        (
            #"{"baz":"qux","foo":["a",2,"c"]}"#,
            #"[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]"#,
            #"{"baz":"qux","foo":["a",2,"c"]}"#
        ),
        (
            #"{"baz":"qux"}"#, #"[{"op":"test","path":"/baz","value":"bar"}]"#,
            "error: testing value /baz failed: test failed"
        ),
        (
            #"{"foo":"bar"}"#, #"[{"op":"add","path":"/child","value":{"grandchild":{}}}]"#,
            #"{"foo":"bar","child":{"grandchild":{}}}"#
        ),
        (#"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz","value":"qux","xyz":123}]"#, #"{"foo":"bar","baz":"qux"}"#),
        (
            #"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz/bat","value":"qux"}]"#,
            #"error: add operation does not apply: doc is missing path: "/baz/bat": missing value"#
        ),
        (
            #"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz","value":"qux","op":"remove"}]"#,
            "error: error in remove for path: '/baz': Unable to remove nonexistent key: baz: missing value"
        ),
        (#"{"/":9,"~1":10}"#, #"[{"op":"test","path":"/~01","value":10}]"#, #"{"/":9,"~1":10}"#),
        (
            #"{"/":9,"~1":10}"#, #"[{"op":"test","path":"/~01","value":"10"}]"#,
            "error: testing value /~01 failed: test failed"
        ),
        (
            #"{"foo":["bar"]}"#, #"[{"op":"add","path":"/foo/-","value":["abc","def"]}]"#,
            #"{"foo":["bar",["abc","def"]]}"#
        ),
    ])
    func rfc6902Examples(document: String, patch: String, result: String) {
        #expect(outcome(document, patch) == result)
    }

    /// Where evanphx/json-patch v4 departs from the RFC, and the errors it words.
    @Test(arguments: [
        (#"{"a":1}"#, #"[{"op":"replace","path":"/b","value":2}]"#, #"{"a":1,"b":2}"#),
        (#"{"a":1}"#, #"[{"op":"replace","path":"","value":{"b":2}}]"#, #"{"b":2}"#),
        (#"{"a":1}"#, #"[{"op":"replace","path":"","value":5}]"#, #"{"a":1}"#),
        (#"{"a":[1,2]}"#, #"[{"op":"add","path":"/a/-1","value":3}]"#, #"{"a":[1,2,3]}"#),
        (#"{"a":[1,2]}"#, #"[{"op":"add","path":"/a/-3","value":0}]"#, #"{"a":[0,1,2]}"#),
        (
            #"{"a":[1,2,3]}"#, #"[{"op":"remove","path":"/a/-1"},{"op":"test","path":"/a/-2","value":1}]"#,
            #"{"a":[1,2]}"#
        ),
        (#"{"a":[1,2]}"#, #"[{"op":"replace","path":"/a/+01","value":9}]"#, #"{"a":[1,9]}"#),
        (#"{"a":[{"b":1}]}"#, #"[{"op":"add","path":"/a/-1/c","value":2}]"#, #"{"a":[{"b":1,"c":2}]}"#),
        (
            #"{"a":{"b":1}}"#, #"[{"op":"copy","from":"/a","path":"/c"},{"op":"add","path":"/c/d","value":2}]"#,
            #"{"a":{"b":1},"c":{"b":1,"d":2}}"#
        ),
        (#"{"a":1}"#, #"[{"op":"copy","from":"/nope","path":"/c"}]"#, #"{"a":1,"c":null}"#),
        (#"{"a":1}"#, #"[{"op":"add","path":"/b"}]"#, #"{"a":1,"b":null}"#),
        (#"{"a":1}"#, #"[{"op":"add","path":"/x~1y~0","value":2}]"#, #"{"a":1,"x/y~":2}"#),
        (
            #"{"n":null}"#, #"[{"op":"test","path":"/n","value":null},{"op":"test","path":"/missing","value":null}]"#,
            #"{"n":null}"#
        ),
        (#"{"a":1}"#, "null", #"{"a":1}"#),
        (#"[1]"#, #"[{"op":"add","path":"/0","value":0}]"#, "[0,1]"),
        (
            #"{"a":[1,2]}"#, #"[{"op":"add","path":"/a/3","value":3}]"#,
            "error: error in add for path: '/a/3': Unable to access invalid index: 3: invalid index referenced"
        ),
        (
            #"{"a":[1,2]}"#, #"[{"op":"add","path":"/a/-4","value":3}]"#,
            "error: error in add for path: '/a/-4': Unable to access invalid index: -4: invalid index referenced"
        ),
        (
            #"{"a":[1]}"#, #"[{"op":"add","path":"/a/x","value":3}]"#,
            #"error: error in add for path: '/a/x': value was not a proper array index: 'x': strconv.Atoi: parsing "x": invalid syntax"#
        ),
        (
            #"{"a":[1]}"#, #"[{"op":"remove","path":"/a/99999999999999999999"}]"#,
            #"error: error in remove for path: '/a/99999999999999999999': strconv.Atoi: parsing "99999999999999999999": value out of range"#
        ),
        (
            #"{"a":[1]}"#, #"[{"op":"remove","path":"/a/9"}]"#,
            "error: error in remove for path: '/a/9': Unable to access invalid index: 9: invalid index referenced"
        ),
        (
            #"{"a":[1]}"#, #"[{"op":"remove","path":"/a/-"}]"#,
            #"error: error in remove for path: '/a/-': strconv.Atoi: parsing "-": invalid syntax"#
        ),
        (
            #"{"a":1}"#, #"[{"op":"remove","path":"/b"}]"#,
            "error: error in remove for path: '/b': Unable to remove nonexistent key: b: missing value"
        ),
        (
            #"{"a":1}"#, #"[{"op":"remove","path":"/x/y"}]"#,
            #"error: remove operation does not apply: doc is missing path: "/x/y": missing value"#
        ),
        (
            #"{"a":1}"#, #"[{"op":"remove","path":"a"}]"#,
            #"error: remove operation does not apply: doc is missing path: "a": missing value"#
        ),
        (
            #"{"a":{"b":1}}"#, #"[{"op":"add","path":"/a/b/c","value":1}]"#,
            #"error: add operation does not apply: doc is missing path: "/a/b/c": missing value"#
        ),
        (
            #"{"a":[1]}"#, #"[{"op":"replace","path":"/a/5","value":1}]"#,
            "error: replace operation does not apply: doc is missing key: /a/5: missing value"
        ),
        (
            #"{"a":1}"#, #"[{"op":"replace","path":"/x/y","value":1}]"#,
            "error: replace operation does not apply: doc is missing path: /x/y: missing value"
        ),
        (
            #"{"a":1}"#, #"[{"op":"move","from":"/nope","path":"/b"}]"#,
            "error: error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value"
        ),
        (
            #"{"a":1}"#, #"[{"op":"move","from":"/x/y","path":"/b"}]"#,
            "error: move operation does not apply: doc is missing from path: /x/y: missing value"
        ),
        (
            #"{"a":1}"#, #"[{"op":"move","from":"/a","path":"/x/y"}]"#,
            "error: move operation does not apply: doc is missing destination path: /x/y: missing value"
        ),
        (
            #"{"a":{"b":1}}"#, #"[{"op":"move","from":"/a","path":"/a/b"}]"#,
            "error: move operation does not apply: doc is missing destination path: /a/b: missing value"
        ),
        (
            #"{"a":1}"#, #"[{"op":"copy","from":"/a","path":"/x/y"}]"#,
            "error: copy operation does not apply: doc is missing destination path: /x/y: missing value"
        ),
        (
            #"{"a":1}"#, #"[{"op":"copy","from":"/x/y","path":"/b"}]"#,
            "error: copy operation does not apply: doc is missing from path: /x/y: missing value"
        ),
        (
            #"{"a":[1]}"#, #"[{"op":"copy","from":"/a/4","path":"/b"}]"#,
            "error: error in copy for from: '/a/4': Unable to access invalid index: 4: invalid index referenced"
        ),
        (
            #"{"a":1}"#, #"[{"op":"test","path":"/x/y","value":1}]"#,
            "error: test operation does not apply: is missing path: /x/y: missing value"
        ),
        (#"{"a":1}"#, #"[{"op":"test","path":"","value":{"a":2}}]"#, "error: testing value  failed: test failed"),
        (#"{"a":1}"#, #"[{"op":"frob","path":"/a"}]"#, "error: Unexpected kind: frob"),
        (#"{"a":1}"#, #"[{"path":"/a"},{"op":"add","path":"/b","value":1}]"#, "error: Unexpected kind: unknown"),
        (#"{"a":1}"#, #"[{"op":"add","value":1}]"#, "error: add operation failed to decode path: missing value"),
        (
            #"{"a":1}"#, #"[{"op":"replace","value":1}]"#,
            "error: replace operation failed to decode path: operation missing path field: missing value"
        ),
        (
            #"{"a":1}"#, #"[{"op":"replace","path":5,"value":1}]"#,
            "error: replace operation failed to decode path: json: cannot unmarshal number into Go value of type string"
        ),
        (
            #"{"a":1}"#, #"[{"op":"move","path":"/b"}]"#,
            "error: move operation failed to decode from: operation, missing from field: missing value"
        ),
        (#"{"a":1}"#, #"[{"op":"copy","from":"/a"}]"#, "error: copy operation failed to decode path: missing value"),
        (
            #"{"a":1}"#, #"[{"op":"test","path":null}]"#,
            "error: test operation failed to decode path: operation missing path field: missing value"
        ),
    ])
    func evanphxBehaviour(document: String, patch: String, result: String) {
        #expect(outcome(document, patch) == result)
    }

    @Test func malformedPatchesAreBadRequests() {
        for (patch, message) in [
            (#"{"op":"add"}"#, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
            (#"["add"]"#, "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
        ] {
            #expect(throws: JSONPatchError(.malformedPatch, message)) { try JSONPatch.apply(json(patch), to: [:]) }
        }
    }

    @Test func operationCountIsLimited() throws {
        let test: JSONValue = ["op": "test", "path": "/a", "value": 1]
        let allowed = JSONValue.array(Array(repeating: test, count: JSONPatch.maximumOperations))
        #expect(try JSONPatch.apply(allowed, to: ["a": 1]) == ["a": 1])
        let message = "The allowed maximum operations in a JSON patch is 10000, got 10001"
        #expect(throws: JSONPatchError(.tooManyOperations, message)) {
            try JSONPatch.apply(.array(Array(repeating: test, count: 10_001)), to: ["a": 1])
        }
    }

    @Test func copiesAreLimitedToThreeMebibytes() throws {
        let document: JSONValue = ["big": .string(String(repeating: "x", count: 1 << 20))]
        let copy = { (name: String) -> JSONValue in ["op": "copy", "from": "/big", "path": .string("/" + name)] }
        #expect(try JSONPatch.apply([copy("a"), copy("b")], to: document).objectValue?.count == 3)
        let message =
            "Unable to complete the copy, the accumulated size increase of copy is 3145734, exceeding the limit 3145728"
        #expect(throws: JSONPatchError(.operationFailed, message)) {
            try JSONPatch.apply([copy("a"), copy("b"), copy("c")], to: document)
        }
    }

    @Test func theOriginalIsNotChanged() throws {
        let original = json(#"{"a":{"b":[1,{"c":2}]}}"#)
        let copy = original
        let patched = try JSONPatch.apply(
            json(#"[{"op":"add","path":"/a/b/1/d","value":3},{"op":"remove","path":"/a/b/0"}]"#), to: copy)
        #expect(text(patched) == #"{"a":{"b":[{"c":2,"d":3}]}}"#)
        #expect(copy == original)
    }
}
