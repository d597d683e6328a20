import Testing

@testable import KubeAPI

// The JSON codec against Go's encoding/json: texts below are what Go reads and writes for the same input.

private func text(_ value: JSONValue) -> String { String(decoding: value.serialized(), as: UTF8.self) }

private func parseError(_ bytes: [UInt8]) -> JSONParseError? {
    do {
        _ = try JSONValue.parse(bytes)
        return nil
    } catch {
        return error
    }
}

@Suite struct JSONParsingTests {
    @Test func roundTripKeepsBytesAndKeyOrder() throws {
        let document =
            #"{"kind":"Pod","metadata":{"name":"a","labels":{"z":"1","a":"2"}},"spec":{"#
            + #""containers":[{"name":"c","ports":[{"containerPort":80}]}],"ratio":0.5,"on":true,"off":false,"#
            + #""none":null,"empty":{},"list":[]}}"#
        let value = try JSONValue.parse(document)
        #expect(text(value) == document)
        #expect(value[path: "metadata", "labels"]?.objectValue?.keys == ["z", "a"])
    }

    @Test func whitespaceIsSkippedEverywhere() throws {
        let value = try JSONValue.parse(" \n\t{ \"a\" :\r[ 1 , { } ,\"x\" ] } \n")
        #expect(value == ["a": [1, [:], "x"]])
    }

    @Test func repeatedKeyKeepsFirstPlaceAndLastValue() throws {
        let value = try JSONValue.parse(#"{"a":1,"b":2,"a":3}"#)
        #expect(text(value) == #"{"a":3,"b":2}"#)
    }

    @Test func repeatedKeysAreReportedWithTheirPaths() throws {
        let input = #"{"a":1,"a":2,"spec":{"containers":[{"name":"x"},{"name":"y","name":"z"}]},"a":3}"#
        let (value, duplicates) = try JSONValue.parseReportingDuplicateFields(Array(input.utf8))
        #expect(duplicates == ["a", "spec.containers[1].name"])
        #expect(value[path: "spec", "containers"]?.arrayValue?[1]["name"] == "z")
    }

    @Test func largeObjectsFindRepeatedKeys() throws {
        let members = (0..<100).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        let (value, duplicates) = try JSONValue.parseReportingDuplicateFields(Array("{\(members),\"k7\":-1}".utf8))
        #expect(value.objectValue?.count == 100)
        #expect(value["k7"] == -1)
        #expect(duplicates == ["k7"])
    }

    @Test(arguments: [
        ("0", JSONValue.int(0)), ("-0", .int(0)), ("42", .int(42)), ("-17", .int(-17)),
        ("9223372036854775807", .int(.max)), ("-9223372036854775808", .int(.min)),
        ("9223372036854775808", .double(9_223_372_036_854_775_808)),
        ("-9223372036854775809", .double(-9.223372036854775809e18)),
        ("123456789012345678901234567890", .double(1.2345678901234568e29)),
        ("1.0", .double(1)), ("1e3", .double(1000)), ("0.1", .double(0.1)), ("-0.0", .double(-0.0)),
        ("2.5E-3", .double(0.0025)), ("1e-400", .double(0)),
    ])
    func numbersKeepIntegersApart(input: String, expected: JSONValue) throws {
        #expect(try JSONValue.parse(input) == expected)
    }

    @Test func stringEscapesDecode() throws {
        let value = try JSONValue.parse(#""a\"b\\c\/d\b\f\n\r\t\u00e9\u2028\ud83d\ude00 \ud800 \udc00x é""#)
        #expect(value == .string("a\"b\\c/d\u{8}\u{c}\n\r\té\u{2028}😀 \u{FFFD} \u{FFFD}x é"))
    }

    @Test func inputsOfEveryShape() throws {
        let bytes = Array(#"[1,{"a":"b"}]"#.utf8)
        let expected: JSONValue = [1, ["a": "b"]]
        #expect(try JSONValue.parse(bytes) == expected)
        #expect(try JSONValue.parse(bytes[0...]) == expected)
        #expect(try JSONValue.parse(([0x20] + bytes)[1...]) == expected)
        #expect(try JSONValue.parse(bytes.lazy.map { $0 }) == expected)  // not contiguous: copied first
        #expect(try JSONValue.parse(#"[1,{"a":"b"}]"#) == expected)
    }

    @Test(arguments: [
        ("", "unexpected end of JSON input", 0), ("  ", "unexpected end of JSON input", 2),
        ("x", "invalid character 'x' looking for beginning of value", 1),
        ("'a'", #"invalid character '\'' looking for beginning of value"#, 1),
        ("\u{1}", #"invalid character '\x01' looking for beginning of value"#, 1),
        (#"{"a" 1}"#, "invalid character '1' after object key", 6),
        (#"{"a":1 "b":2}"#, #"invalid character '"' after object key:value pair"#, 8),
        (#"{"a":1,}"#, "invalid character '}' looking for beginning of object key string", 8),
        ("{1:2}", "invalid character '1' looking for beginning of object key string", 2),
        ("[1,]", "invalid character ']' looking for beginning of value", 4),
        ("[1 2]", "invalid character '2' after array element", 4),
        ("{} x", "invalid character 'x' after top-level value", 4),
        ("01", "invalid character '1' after top-level value", 2),
        ("-x", "invalid character 'x' in numeric literal", 2),
        ("1.x", "invalid character 'x' after decimal point in numeric literal", 3),
        ("1e+x", "invalid character 'x' in exponent of numeric literal", 4),
        ("trux", "invalid character 'x' in literal true (expecting 'e')", 4),
        ("nul1", "invalid character '1' in literal null (expecting 'l')", 4),
        ("fals", "unexpected end of JSON input", 4),
        ("\"a\nb\"", #"invalid character '\n' in string literal"#, 3),
        (#""\x""#, "invalid character 'x' in string escape code", 3),
        (#""\u12g4""#, #"invalid character 'g' in \u hexadecimal character escape"#, 6),
        (#"{"a":1"#, "unexpected end of JSON input", 6), (#""abc"#, "unexpected end of JSON input", 4),
        ("[1e400,]", "invalid character ']' looking for beginning of value", 8),
    ])
    func malformedInputFailsAsGoDoes(input: String, message: String, offset: Int) {
        let error = parseError(Array(input.utf8))
        #expect(error?.message == message)
        #expect(error?.offset == offset)
    }

    @Test func byteAboveASCIIIsQuotedAsALatin1Rune() {
        #expect(parseError([0xC3])?.message == "invalid character 'Ã' looking for beginning of value")
        #expect(parseError([0x85])?.message == #"invalid character '\u0085' looking for beginning of value"#)
    }

    @Test func numberBeyondFloat64IsATypeError() {
        let error = parseError(Array("[1, 1e400]".utf8))
        #expect(error?.kind == .numberOutOfRange)
        #expect(error?.message == "json: cannot unmarshal number 1e400 into Go value of type float64")
    }

    @Test(
        arguments: [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80]] as [[UInt8]])
    func invalidUTF8IsRefused(bytes: [UInt8]) {
        let error = parseError([0x22, 0x61] + bytes + [0x22])
        #expect(error?.kind == .invalidUTF8)
        #expect(error?.offset == 3)
    }

    @Test func nestingStopsAtGoDepth() throws {
        let depth = JSONValue.maximumNestingDepth
        let deepest =
            Array(repeating: UInt8(ascii: "["), count: depth) + Array(repeating: UInt8(ascii: "]"), count: depth)
        let value = try JSONValue.parse(deepest)
        #expect(value.serialized() == deepest)
        let tooDeep = [UInt8(ascii: "[")] + deepest + [UInt8(ascii: "]")]
        let error = parseError(tooDeep)
        #expect(error?.message == "invalid character '[' exceeded max depth")
        #expect(error?.offset == depth + 1)
        let objects = Array(String(repeating: #"{"a":"#, count: depth + 1).utf8)
        #expect(parseError(objects)?.message == "invalid character '{' exceeded max depth")
    }
}

@Suite struct JSONSerializingTests {
    @Test(arguments: [
        (0.1, "0.1"), (1.5, "1.5"), (100, "100"), (-0.0, "-0"), (1e20, "100000000000000000000"), (1e21, "1e+21"),
        (1.2345e22, "1.2345e+22"), (1e-6, "0.000001"), (1e-7, "1e-7"), (2.5e-8, "2.5e-8"),
        (123456789.125, "123456789.125"),
        (.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9_223_372_036_854_775_808, "9223372036854776000"),
        (0.000123, "0.000123"), (-3.25e-100, "-3.25e-100"), (.infinity, "null"),
    ])
    func floatsAsGoWritesThem(value: Double, expected: String) {
        #expect(text(.double(value)) == expected)
    }

    @Test func integersInDecimal() {
        #expect(
            text([.int(.min), .int(.max), .int(0), .int(-7), .int(1_000_000)])
                == "[-9223372036854775808,9223372036854775807,0,-7,1000000]")
    }

    @Test func stringsEscapeAsGoDoes() throws {
        let value = JSONValue.string("\"\\\n\r\t\u{8}\u{c}\u{1}\u{1f}<>&\u{2028}\u{2029}\u{7f}é✓😀 ‣")
        #expect(text(value) == #""\"\\\n\r\t\b\f\u0001\u001f\u003c\u003e\u0026\u2028\u2029"# + "\u{7f}é✓😀 ‣\"")
        #expect(try JSONValue.parse(value.serialized()) == value)
        #expect(text(["<key>": "x"]) == #"{"\u003ckey\u003e":"x"}"#)
    }

    @Test func serializeAppends() {
        var output = Array("prefix:".utf8)
        JSONValue.bool(true).serialize(into: &output)
        #expect(String(decoding: output, as: UTF8.self) == "prefix:true")
    }

    @Test func indentedAsMarshalIndent() {
        let value: JSONValue = ["a": 1, "b": [true, nil], "c": [:], "d": [], "e": ["f": "g"]]
        let expected = """
            {
              "a": 1,
              "b": [
                true,
                null
              ],
              "c": {},
              "d": [],
              "e": {
                "f": "g"
              }
            }
            """
        #expect(String(decoding: value.serialized(indent: 2), as: UTF8.self) == expected)
    }
}

@Suite struct YAMLDecodingTests {
    @Test func manifestBecomesTheJSONKubernetesSees() throws {
        let yaml = """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
              labels: {tier: web, "app": demo}
              annotations:
                quoted-number: "8080"
                single: '1.5'
            data:
              mode: "0755"
              block: |
                line one
                line two
              folded: >
                a
                b
            spec:
              replicas: 3
              ratio: 0.25
              whole: 1.0
              big: 1e3
              octal: 0755
              hex: 0x1F
              grouped: 1_000
              huge: 18446744073709551615
              flags: [yes, No, on, OFF, y, n, true, False]
              empties: [null, ~, Null, NULL]
              words: [yes please, .5, -.5, +1, 1e400, 2001-12-14, 08, 0x, .inf-ish]
              nested:
              - name: a
                ports:
                - 80
                - 443
              - {name: b}
            """
        let value = try JSONValue.parseYAML(yaml)
        #expect(value.objectValue?.keys == ["apiVersion", "kind", "metadata", "data", "spec"])
        #expect(value[path: "metadata", "labels"] == ["tier": "web", "app": "demo"])
        #expect(value[path: "metadata", "annotations"] == ["quoted-number": "8080", "single": "1.5"])
        #expect(value[path: "data", "mode"] == "0755")
        #expect(value[path: "data", "block"] == "line one\nline two\n")
        #expect(value[path: "data", "folded"] == "a b\n")
        let spec = try #require(value["spec"])
        #expect(spec["replicas"] == .int(3))
        #expect(spec["ratio"] == .double(0.25))
        #expect(spec["whole"] == .int(1))
        #expect(spec["big"] == .int(1000))
        #expect(spec["octal"] == .int(493))
        #expect(spec["hex"] == .int(31))
        #expect(spec["grouped"] == .int(1000))
        #expect(spec["huge"] == .double(Double(UInt64.max)))
        #expect(spec["flags"] == [true, false, true, false, true, false, true, false])
        #expect(spec["empties"] == [nil, nil, nil, nil])
        #expect(
            spec["words"] == ["yes please", .double(0.5), .double(-0.5), 1, "1e400", "2001-12-14", 8, "0x", ".inf-ish"])
        #expect(spec["nested"] == [["name": "a", "ports": [80, 443]], ["name": "b"]])
    }

    @Test func keysBecomeStringsAsSigsYAMLWritesThem() throws {
        let value = try JSONValue.parseYAML("1: a\ntrue: b\n1.5: c\n0x10: d\n2.0: e\n")
        #expect(text(value) == #"{"1":"a","true":"b","1.5":"c","16":"d","2":"e"}"#)
    }

    @Test func anchorsAliasesAndMergeKeys() throws {
        let yaml = """
            base: &base {a: 1, b: 2}
            other: &other {b: 20, c: 30}
            one: {<<: *base, b: 3}
            many:
              <<: [*base, *other]
              d: 4
            copy: *base
            """
        let value = try JSONValue.parseYAML(yaml)
        #expect(value["one"] == ["a": 1, "b": 3])
        #expect(value["many"] == ["a": 1, "b": 2, "c": 30, "d": 4])
        #expect(value["copy"] == ["a": 1, "b": 2])
    }

    @Test func explicitTags() throws {
        #expect(try JSONValue.parseYAML("[!!str 123, !!float 2, !!int '7', !!str yes]") == ["123", 2, 7, "yes"])
        #expect(throws: YAMLDecodingError(message: "yaml: cannot decode !!str `abc` as a !!int")) {
            try JSONValue.parseYAML("!!int abc")
        }
    }

    @Test func documentsAndScalarsAtTheTop() throws {
        #expect(try JSONValue.parseYAML("") == .null)
        #expect(try JSONValue.parseYAML("# only a comment\n") == .null)
        #expect(try JSONValue.parseYAML("42") == 42)
        #expect(try JSONValue.parseYAML("a: 1\n---\nb: 2\n") == ["a": 1])
    }

    @Test func errorsInGoYAMLWords() {
        #expect(throws: YAMLDecodingError(message: "yaml: line 1: mapping values are not allowed in this context")) {
            try JSONValue.parseYAML("a: b: c")
        }
        #expect(throws: YAMLDecodingError(message: "json: unsupported value: NaN")) {
            try JSONValue.parseYAML("x: .nan")
        }
        #expect(throws: YAMLDecodingError(message: "json: unsupported value: -Inf")) {
            try JSONValue.parseYAML("- -.inf")
        }
        #expect(throws: YAMLDecodingError(message: "yaml: unknown anchor 'nope' referenced")) {
            try JSONValue.parseYAML("a: [1, *nope]")
        }
        #expect(throws: YAMLDecodingError.self) { try JSONValue.parseYAML("a: [1, 2") }
    }

    @Test func nestingAndAliasExpansionAreBounded() throws {
        #expect(try JSONValue.parseYAML(String(repeating: "[", count: 500) + String(repeating: "]", count: 500)) != nil)
        #expect(throws: YAMLDecodingError.self) {
            try JSONValue.parseYAML(String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000))
        }
        // Each line doubles the one before: 2^30 values from under a kilobyte.
        var lines = ["a0: &a0 [x, x]"]
        for level in 1...30 { lines.append("a\(level): &a\(level) [*a\(level - 1), *a\(level - 1)]") }
        #expect(throws: YAMLDecodingError(message: "yaml: document contains excessive aliasing")) {
            try JSONValue.parseYAML(lines.joined(separator: "\n"))
        }
    }
}
