import Testing

@testable import KubeAPI

/// The label selector grammar, matching and messages of k8s.io/apimachinery pkg/labels (selector.go).
struct LabelSelectorTests {
    static let labelValueRule =
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
        + "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
        + "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    static let nameRule =
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        + "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        + "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

    @Test(arguments: [
        ("a=b", "a=b"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        ("a in (y,x)", "a in (x,y)"),
        ("a notin (z)", "a notin (z)"),
        ("a", "a"),
        ("!a", "!a"),
        ("a>1", "a>1"),
        ("a<10", "a<10"),
        ("a=", "a="),
        ("b=1,a=2", "a=2,b=1"),
        ("  a = b ,\tc in ( x , y )\n", "a=b,c in (x,y)"),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("a in (x,x,y)", "a in (x,y)"),
        ("a in (x,)", "a in (,x)"),
        ("in in (in),notin notin (notin)", "in in (in),notin notin (notin)"),
        ("!example.com/legacy,example.com/app=web", "example.com/app=web,!example.com/legacy"),
    ])
    func parsesToCanonicalString(input: String, canonical: String) throws {
        let selector = try LabelSelector(parsing: input)
        #expect(selector.description == canonical)
        #expect(try LabelSelector(parsing: canonical) == selector)
    }

    @Test(arguments: ["", "   ", "\t\n"])
    func emptySelectorMatchesEverything(input: String) throws {
        let selector = try LabelSelector(parsing: input)
        #expect(selector.isEmpty)
        #expect(selector == .everything)
        #expect(selector.matches([:]))
        #expect(selector.matches(["a": "b"]))
        #expect(selector.description == "")
    }

    @Test func matching() throws {
        let web = ["app": "web", "tier": "front", "replicas": "3"]
        let cases: [(String, Bool)] = [
            ("app=web", true), ("app==web", true), ("app=db", false), ("app!=db", true), ("app!=web", false),
            ("missing!=x", true), ("missing=", false), ("app in (db,web)", true), ("app notin (web)", false),
            ("missing notin (web)", true), ("app", true), ("missing", false), ("!missing", true), ("!app", false),
            ("replicas>2", true), ("replicas>3", false), ("replicas<4", true), ("app>1", false), ("missing<9", false),
            ("app=web,tier=front", true), ("app=web,tier=back", false),
        ]
        for (text, expected) in cases {
            #expect(try LabelSelector(parsing: text).matches(web) == expected, "\(text)")
        }
        #expect(try LabelSelector(parsing: "a=").matches(["a": ""]))
        #expect(try LabelSelector(parsing: "a in ()").matches(["a": ""]))
    }

    @Test(arguments: [
        ("a=@", "unable to parse requirement: values[0][a]: Invalid value: \"@\": \(labelValueRule)"),
        ("@a", "unable to parse requirement: <nil>: Invalid value: \"@a\": \(nameRule)"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a,", "found '', expected: identifier after ','"),
        ("a,,b", "found ',', expected: identifier after ','"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in (x y)", "unable to parse requirement: found 'y', expected: ',' or ')'"),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("a in (x,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
        ("a<>1", "unable to parse requirement: found '>', expected: identifier"),
        ("a=(", "unable to parse requirement: found '(', expected: identifier"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        (
            "a>b",
            "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must "
                + "be an integer"
        ),
        (
            "a in (@,#)",
            "unable to parse requirement: [values[0][a]: Invalid value: \"#\": \(labelValueRule), values[1][a]: "
                + "Invalid value: \"@\": \(labelValueRule)]"
        ),
        (
            String(repeating: "k", count: 64),
            "unable to parse requirement: <nil>: Invalid value: \"\(String(repeating: "k", count: 64))\": name part "
                + "must be no more than 63 bytes"
        ),
        (
            "a/b/c",
            "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a valid label key must consist of "
                + "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
                + "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                + "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. "
                + "'example.com/MyName')"
        ),
        (
            "Example.com/a",
            "unable to parse requirement: <nil>: Invalid value: \"Example.com/a\": prefix part a lowercase RFC 1123 "
                + "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end "
                + "with an alphanumeric character (e.g. 'example.com', regex used for validation is "
                + #"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#
        ),
        ("/a", "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty"),
    ])
    func refusesWithKubeAPIServerMessage(input: String, message: String) {
        #expect(throws: LabelSelectorError(message)) { try LabelSelector(parsing: input) }
    }

    @Test func requiresExactMatch() throws {
        let selector = try LabelSelector(parsing: "app=web,tier in (a),env in (x,y),zone!=z")
        #expect(selector.requiresExactMatch("app") == "web")
        #expect(selector.requiresExactMatch("tier") == "a")
        #expect(selector.requiresExactMatch("env") == nil)
        #expect(selector.requiresExactMatch("zone") == nil)
        #expect(selector.requiresExactMatch("other") == nil)
    }

    @Test func fromMatchLabelsSet() {
        let selector = LabelSelector(matchLabels: ["b": "2", "a": "1"])
        #expect(selector.description == "a=1,b=2")
        #expect(selector.matches(["a": "1", "b": "2", "c": "3"]))
        #expect(!selector.matches(["a": "1"]))
    }

    @Test func structuredSelector() throws {
        let json: JSONValue = [
            "matchLabels": ["app": "web"],
            "matchExpressions": [
                ["key": "tier", "operator": "In", "values": ["b", "a"]],
                ["key": "legacy", "operator": "DoesNotExist"],
                ["key": "env", "operator": "NotIn", "values": ["dev"]],
                ["key": "zone", "operator": "Exists"],
            ],
        ]
        let selector = try LabelSelector(structured: json)
        #expect(selector.description == "app=web,env notin (dev),!legacy,tier in (a,b),zone")
        #expect(selector.matches(["app": "web", "tier": "a", "zone": "z"]))
        #expect(!selector.matches(["app": "web", "tier": "a", "zone": "z", "legacy": "1"]))
        #expect(!selector.matches(["app": "web", "tier": "a"]))
    }

    @Test func structuredNilMatchesNothingAndEmptyEverything() throws {
        let nothing = try LabelSelector(structured: nil)
        #expect(!nothing.matches([:]))
        #expect(!nothing.isEmpty)
        #expect(try LabelSelector(structured: .null) == .nothing)
        let everything = try LabelSelector(structured: [:])
        #expect(everything.matches(["a": "b"]))
        #expect(everything.isEmpty)
    }

    @Test(arguments: [
        (
            ["matchExpressions": [["key": "a", "operator": "Foo"]]] as JSONValue,
            "\"Foo\" is not a valid label selector operator"
        ),
        (
            ["matchExpressions": [["key": "a", "operator": "In"]]] as JSONValue,
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        ),
        (
            ["matchExpressions": [["key": "a", "operator": "Exists", "values": ["x"]]]] as JSONValue,
            "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"
        ),
        (
            ["matchLabels": ["a": "@"]] as JSONValue,
            "values[0][a]: Invalid value: \"@\": \(labelValueRule)"
        ),
        (
            ["matchLabels": ["@": "a"]] as JSONValue,
            "key: Invalid value: \"@\": \(nameRule)"
        ),
    ])
    func structuredRefusals(json: JSONValue, message: String) {
        #expect(throws: LabelSelectorError(message)) { try LabelSelector(structured: json) }
    }

    @Test func requirementValidation() {
        #expect(
            throws: LabelSelectorError(
                "values: Invalid value: [\"a\",\"b\"]: exact-match compatibility requires one single value")
        ) {
            try LabelSelector.Requirement(key: "k", operator: .equals, values: ["a", "b"])
        }
        #expect(
            throws: LabelSelectorError(
                "[values: Invalid value: [\"1\",\"-2\"]: for 'Gt', 'Lt' operators, exactly one value is required, "
                    + "values[1][k]: Invalid value: \"-2\": \(Self.labelValueRule)]")
        ) {
            try LabelSelector.Requirement(key: "k", operator: .greaterThan, values: ["1", "-2"])
        }
    }

    @Test func validatesStructuredSelectorAsAField() {
        let json: JSONValue = [
            "matchLabels": ["app": "@"],
            "matchExpressions": [
                ["key": "a", "operator": "In"],
                ["key": "b", "operator": "Exists", "values": ["x"]],
                ["key": "c/d/e", "operator": "Foo"],
            ],
        ]
        let errors = LabelSelector.validate(structured: json, path: FieldPath("spec", "selector"))
        #expect(
            errors.map(\.description) == [
                "spec.selector.matchLabels: Invalid value: \"@\": \(Self.labelValueRule)",
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' "
                    + "or 'NotIn'",
                "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is "
                    + "'Exists' or 'DoesNotExist'",
                "spec.selector.matchExpressions[2].operator: Invalid value: \"Foo\": not a valid selector operator",
                "spec.selector.matchExpressions[2].key: Invalid value: \"c/d/e\": a valid label key must consist of "
                    + "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    + "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                    + "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
                    + "(e.g. 'example.com/MyName')",
            ])
        #expect(
            errors.map(\.reason) == [
                "FieldValueInvalid", "FieldValueRequired", "FieldValueForbidden", "FieldValueInvalid",
                "FieldValueInvalid",
            ])
        #expect(LabelSelector.validate(structured: nil, path: FieldPath("spec", "selector")).isEmpty)
    }
}
