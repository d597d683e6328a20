import Testing

@testable import KubeAPI

/// Field selectors as k8s.io/apimachinery pkg/fields (selector.go) parses them, and the per-kind conversions
/// kube-apiserver refuses unknown fields with.
struct FieldSelectorTests {
    @Test(arguments: [
        ("metadata.name=foo", "metadata.name=foo"),
        ("metadata.name==foo", "metadata.name=foo"),
        ("status.phase!=Running,metadata.name=foo", "metadata.name=foo,status.phase!=Running"),
        ("b=1,a=2", "a=2,b=1"),
        ("a=", "a="),
        (#"a=x\,y\=z\\w"#, #"a=x\,y\=z\\w"#),
        ("a=b,,c=d", "a=b,c=d"),
        (#"a!=b\="#, #"a!=b\="#),
    ])
    func parsesToCanonicalString(input: String, canonical: String) throws {
        #expect(try FieldSelector(parsing: input).description == canonical)
    }

    @Test func unescapesValuesAndKeepsWhitespace() throws {
        let escaped = try FieldSelector(parsing: #"a=x\,y\=z\\w"#)
        #expect(escaped.requirements == [.init(field: "a", operator: .equals, value: #"x,y=z\w"#)])
        let spaced = try FieldSelector(parsing: "a = b")
        #expect(spaced.requirements == [.init(field: "a ", operator: .equals, value: " b")])
        // The term splits at its first operator; an `=` left in the value must have been escaped.
        #expect(throws: FieldSelectorError("invalid field selector: unescaped character in value: 61")) {
            try FieldSelector(parsing: "a!=b=c")
        }
    }

    @Test(arguments: ["", ",", ",,"])
    func emptySelectorMatchesEverything(input: String) throws {
        let selector = try FieldSelector(parsing: input)
        #expect(selector.isEmpty)
        #expect(selector.matches([:]))
        #expect(selector.description == "")
    }

    @Test func matchingReadsMissingFieldsAsEmpty() throws {
        let pod = ["metadata.name": "web-1", "status.phase": "Running", "spec.nodeName": ""]
        #expect(try FieldSelector(parsing: "metadata.name=web-1").matches(pod))
        #expect(try !FieldSelector(parsing: "metadata.name=web-2").matches(pod))
        #expect(try FieldSelector(parsing: "status.phase!=Pending,metadata.name==web-1").matches(pod))
        #expect(try FieldSelector(parsing: "spec.nodeName=").matches(pod))
        #expect(try FieldSelector(parsing: "missing=").matches(pod))
        #expect(try !FieldSelector(parsing: "missing!=").matches(pod))
        #expect(try FieldSelector(parsing: "missing!=x").matches(pod))
        #expect(try FieldSelector(parsing: "status.phase=Running").matches(fieldValue: { pod[$0] }))
    }

    @Test(arguments: [
        ("abc", "invalid selector: 'abc'; can't understand 'abc'"),
        ("z=1,a", "invalid selector: 'z=1,a'; can't understand 'a'"),
        ("a=b=c", "invalid field selector: unescaped character in value: 61"),
        (#"a=b\x"#, #"invalid field selector: invalid escape sequence: \x"#),
        (#"a=b\"#, #"invalid field selector: invalid escape sequence: \"#),
    ])
    func refusesWithKubeAPIServerMessage(input: String, message: String) {
        #expect(throws: FieldSelectorError(message)) { try FieldSelector(parsing: input) }
    }

    @Test func defaultConversionAllowsOnlyNameAndNamespace() throws {
        let selector = try FieldSelector(parsing: "metadata.namespace=default,metadata.name=a")
        #expect(try selector.transformed(by: .metadataOnly) == selector)
        #expect(
            throws: FieldSelectorError(
                #""spec.nodeName" is not a known field selector: only "metadata.name", "metadata.namespace""#)
        ) {
            try FieldSelector(parsing: "spec.nodeName=n1").transformed(by: .metadataOnly)
        }
    }

    @Test func coreKindConversions() throws {
        let pods = try FieldSelector(parsing: "spec.host=n1,status.phase=Running").transformed(by: .pod)
        #expect(pods.description == "spec.nodeName=n1,status.phase=Running")
        #expect(throws: FieldSelectorError("field label not supported: foo")) {
            try FieldSelector(parsing: "status.phase=Running,foo=bar").transformed(by: .pod)
        }
        #expect(throws: FieldSelectorError("field label not supported: metadata.namespace")) {
            try FieldSelector(parsing: "metadata.namespace=x").transformed(by: .node)
        }
        #expect(try FieldSelector(parsing: "type=kubernetes.io/tls").transformed(by: .secret).isEmpty == false)
        #expect(FieldLabelConversion.core(kind: "ConfigMap") == nil)
        #expect(FieldLabelConversion.core(kind: "Service") != nil)
        let custom = FieldLabelConversion.supporting(
            ["metadata.name", "status.successful"],
            message: { "field label \(GoFormat.quoted($0)) not supported for batchv1.Job" })
        #expect(throws: FieldSelectorError(#"field label "x" not supported for batchv1.Job"#)) {
            try FieldSelector(parsing: "x=1").transformed(by: custom)
        }
    }

    @Test func conversionToNothingDropsTheTerm() throws {
        let dropping = FieldLabelConversion { label, value throws(FieldSelectorError) in
            label == "ignored" ? ("", "") : (label, value)
        }
        #expect(try FieldSelector(parsing: "ignored=,a=b").transformed(by: dropping).description == "a=b")
    }

    @Test func exactMatchAndObjectMetaFields() throws {
        let selector = try FieldSelector(parsing: "metadata.name!=x,metadata.name=web")
        #expect(selector.requiresExactMatch("metadata.name") == "web")
        #expect(selector.requiresExactMatch("metadata.namespace") == nil)
        let metadata: JSONValue = ["name": "web", "namespace": "default"]
        #expect(
            FieldSelector.objectMetaFields(metadata, namespaced: true) == [
                "metadata.name": "web", "metadata.namespace": "default",
            ])
        #expect(FieldSelector.objectMetaFields(metadata, namespaced: false) == ["metadata.name": "web"])
    }

    @Test func escapeRoundTrips() throws {
        for value in [#"a,b"#, #"a=b"#, #"a\b"#, "plain", #"\,=\"#] {
            #expect(try FieldSelector.unescapeValue(FieldSelector.escapeValue(value)) == value)
        }
    }
}
