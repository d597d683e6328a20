import Testing

@testable import KubeAPI

// JSON merge patch as kube-apiserver applies it (evanphx/json-patch v4's MergePatch).

private func json(_ text: String) -> JSONValue { try! JSONValue.parse(text) }
private func text(_ value: JSONValue) -> String { String(decoding: value.serialized(), as: UTF8.self) }

@Suite struct MergePatchTests {
    /// RFC 7386 appendix A: original, patch, result.
    @Test(arguments: [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, "null", "null"),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"e":null,"a":1}"#),
        ("[1,2]", #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        ("{}", #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ])
    func rfc7386Examples(original: String, patch: String, result: String) {
        #expect(text(MergePatch.apply(json(patch), to: json(original))) == result)
    }

    @Test func keysKeepTheirPlacesAndNewOnesGoLast() {
        let result = MergePatch.apply(json(#"{"c":3,"a":{"y":1,"x":2}}"#), to: json(#"{"a":{"x":1,"z":0},"b":2}"#))
        #expect(text(result) == #"{"a":{"x":2,"z":0,"y":1},"b":2,"c":3}"#)
    }

    @Test func nullsLeaveValuesThatLandWhereNoObjectWas() {
        // evanphx prunes nulls inside lists of objects too, when the list does not replace an object.
        let added = MergePatch.apply(json(#"{"b":[{"x":null,"y":1},null],"c":{"d":null}}"#), to: json(#"{"a":1}"#))
        #expect(text(added) == #"{"a":1,"b":[{"y":1},null],"c":{}}"#)
        // A list that replaces an object is taken as written.
        let replacing = MergePatch.apply(json(#"{"a":[{"x":null}]}"#), to: json(#"{"a":{"b":1}}"#))
        #expect(text(replacing) == #"{"a":[{"x":null}]}"#)
        #expect(text(MergePatch.apply(json(#"[{"x":null},null]"#), to: json("{}"))) == #"[{},null]"#)
    }

    @Test func theOriginalIsNotChanged() {
        let original = json(#"{"a":{"b":{"c":1}},"d":[1]}"#)
        let copy = original
        _ = MergePatch.apply(json(#"{"a":{"b":{"c":2,"e":3}},"d":null}"#), to: copy)
        #expect(copy == original)
        #expect(text(copy) == #"{"a":{"b":{"c":1}},"d":[1]}"#)
    }

    @Test func kubernetesRefusesNullAndScalarPatches() throws {
        for patch in ["null", "1", #""x""#, "true"] {
            #expect(throws: MergePatchError.invalidPatch) { try MergePatch.validate(json(patch)) }
        }
        #expect(MergePatchError.invalidPatch.message == "Invalid JSON Patch")
        try MergePatch.validate(json("{}"))
        try MergePatch.validate(json("[]"))
    }

    @Test func createFindsTheDifference() {
        let original = json(#"{"a":1,"b":{"c":2,"d":3},"e":[1,2],"g":"x","h":1.0,"i":{"j":1}}"#)
        let modified = json(#"{"a":1,"b":{"c":5,"d":3},"e":[1,2,3],"f":true,"h":1,"i":{"j":1}}"#)
        let patch = MergePatch.create(from: original, to: modified)
        #expect(text(patch) == #"{"b":{"c":5},"e":[1,2,3],"f":true,"g":null}"#)
        #expect(
            MergePatch.apply(patch, to: original)
                == json(#"{"a":1,"b":{"c":5,"d":3},"e":[1,2,3],"h":1.0,"i":{"j":1},"f":true}"#))
    }

    @Test(arguments: [
        (#"{}"#, #"{"a":{"b":[1,{"c":2}]}}"#),
        (#"{"a":{"b":1,"c":{"d":2}}}"#, #"{"a":{"c":{"e":3}}}"#),
        (#"{"a":"x","b":[1]}"#, #"{"a":{"nested":true},"b":[]}"#),
        (#"{"a":{"b":1}}"#, #"{"a":"flat"}"#),
    ])
    func applyingACreatedPatchGivesTheTarget(original: String, modified: String) {
        let patch = MergePatch.create(from: json(original), to: json(modified))
        #expect(MergePatch.apply(patch, to: json(original)) == json(modified))
    }

    @Test func createBetweenNonObjectsIsTheTarget() {
        #expect(MergePatch.create(from: json("[1]"), to: json("[2]")) == json("[2]"))
        #expect(MergePatch.create(from: json("{}"), to: json("3")) == 3)
    }
}
