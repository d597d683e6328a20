// YAML request bodies and manifests, read as kube-apiserver and kubectl read them: sigs.k8s.io/yaml turns YAML
// into JSON (go-yaml v2 underneath), and the JSON is then decoded. So the result here is what that JSON decodes
// to: scalars resolved the YAML 1.1 way (`YAMLScalar`), map keys made strings (`1` → "1", `true` → "true"),
// floats as Go writes and re-reads them (`1.0` becomes the integer 1), NaN and infinities refused as Go's JSON
// encoder refuses them. Anchors, aliases and `<<` merge keys work; only the first document is read.
// Limits: libyaml refuses nesting past 1,000 levels, and aliases may not expand the document to more values than
// four per byte of input (go-yaml has a like rule; without one, a few lines of nested aliases fill memory).
// Differences: keys keep their written order (Go sorts them), and a key repeated in one mapping is an error
// (Yams refuses it; go-yaml v2 keeps the last value).

import Yams

/// A YAML document that could not be read or has no JSON form; `message` follows go-yaml's wording where it can.
public struct YAMLDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The error text, `yaml: …` or `json: …` as sigs.k8s.io/yaml would report it.
    public let message: String
    public var description: String { message }
}

extension JSONValue {
    /// Parses the first YAML document in `text` into the JSON value kube-apiserver would decode it to.
    public static func parseYAML(_ text: String) throws(YAMLDecodingError) -> JSONValue {
        let root: Node?
        do {
            root = try Parser(yaml: text).nextRoot()
        } catch let error as YamlError {
            throw YAMLDecodingError(error)
        } catch {
            throw YAMLDecodingError(message: "yaml: \(error)")
        }
        guard let root else { return .null }
        var converter = YAMLToJSON(valuesMaximum: 4 * text.utf8.count + 10_000)
        return try converter.convert(root)
    }
}

private struct YAMLToJSON {
    /// How many more values the document may produce; aliases are what make it produce more than it spells out.
    var valuesMaximum: Int

    mutating func convert(_ node: Node) throws(YAMLDecodingError) -> JSONValue {
        valuesMaximum -= 1
        guard valuesMaximum >= 0 else { throw YAMLDecodingError(message: "yaml: document contains excessive aliasing") }
        switch node {
        case .scalar(let scalar):
            return try Self.jsonValue(of: Self.resolve(scalar))
        case .sequence(let sequence):
            var elements: [JSONValue] = []
            elements.reserveCapacity(sequence.count)
            for element in sequence { elements.append(try convert(element)) }
            return .array(elements)
        case .mapping(let mapping):
            return .object(try convert(mapping))
        case .alias:
            // Yams's composer replaces aliases with the nodes they name; a bare alias node cannot reach here.
            throw YAMLDecodingError(message: "yaml: unknown anchor referenced")
        }
    }

    /// A mapping as an object. Explicit keys win over merged ones, and an earlier merge source over a later one.
    private mutating func convert(_ mapping: Node.Mapping) throws(YAMLDecodingError) -> JSONObject {
        var object = JSONObject()
        var explicitKeys: Set<String> = []
        for (keyNode, valueNode) in mapping {
            if Self.isMergeKey(keyNode) {
                for source in try mergeSources(valueNode) {
                    for (key, value) in source where !explicitKeys.contains(key) && object[key] == nil {
                        object[key] = value
                    }
                }
                continue
            }
            let key = try Self.keyString(keyNode)
            explicitKeys.insert(key)
            object[key] = try convert(valueNode)
        }
        return object
    }

    private static func isMergeKey(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.string == "<<" else { return false }
        return scalar.style == .plain || Tag.Name(rawValue: scalar.tag.rawValue) == .merge
    }

    /// The mappings a `<<` key merges in: one mapping, or a sequence of them.
    private mutating func mergeSources(_ node: Node) throws(YAMLDecodingError) -> [JSONObject] {
        let failure = YAMLDecodingError(message: "yaml: map merge requires map or sequence of maps as the value")
        switch node {
        case .mapping(let mapping): return [try convert(mapping)]
        case .sequence(let sequence):
            var sources: [JSONObject] = []
            for element in sequence {
                guard case .mapping(let mapping) = element else { throw failure }
                sources.append(try convert(mapping))
            }
            return sources
        default: throw failure
        }
    }

    /// A map key as sigs.k8s.io/yaml writes it into JSON.
    private static func keyString(_ node: Node) throws(YAMLDecodingError) -> String {
        guard case .scalar(let scalar) = node else {
            throw YAMLDecodingError(message: "yaml: invalid map key: a key must be a scalar")
        }
        switch try resolve(scalar) {
        case .string(let string): return string
        case .int(let int): return String(int)
        case .bool(let bool): return bool ? "true" : "false"
        case .float(let double):
            // sigs.k8s.io/yaml formats float keys as go-yaml does, with 32-bit precision and YAML's names.
            switch GoFloatText.formatGeneral32(double) {
            case "+Inf": return ".inf"
            case "-Inf": return "-.inf"
            case "NaN": return ".nan"
            case let text: return text
            }
        case .null, .unsigned:
            throw YAMLDecodingError(message: "unsupported map key: \(scalar.string)")
        }
    }

    /// The scalar's meaning, honouring quoting and explicit standard tags.
    private static func resolve(_ scalar: Node.Scalar) throws(YAMLDecodingError) -> YAMLScalar {
        let tag = Tag.Name(rawValue: scalar.tag.rawValue)
        if tag == .str || tag == .binary || tag == .nonSpecific { return .string(scalar.string) }
        let isPlain = scalar.style == .plain || scalar.style == .any
        if tag == .implicit { return isPlain ? YAMLScalar.resolvePlain(scalar.string) : .string(scalar.string) }
        let wanted: String
        switch tag {
        case .int: wanted = "!!int"
        case .float: wanted = "!!float"
        case .bool: wanted = "!!bool"
        case .null: wanted = "!!null"
        default: return .string(scalar.string)  // A local or unknown tag: go-yaml keeps the text.
        }
        let resolved = YAMLScalar.resolvePlain(scalar.string)
        if resolved.shortTag == wanted { return resolved }
        // go-yaml widens an integer written with !!float; anything else under the wrong tag is an error.
        if wanted == "!!float", case .int(let int) = resolved { return .float(Double(int)) }
        if wanted == "!!float", case .unsigned(let unsigned) = resolved { return .float(Double(unsigned)) }
        throw YAMLDecodingError(
            message: "yaml: cannot decode \(resolved.shortTag) `\(scalar.string)` as a \(wanted)")
    }

    /// The JSON value the scalar becomes once Go has written it as JSON and kube-apiserver has read that back.
    private static func jsonValue(of scalar: YAMLScalar) throws(YAMLDecodingError) -> JSONValue {
        switch scalar {
        case .null: return .null
        case .bool(let bool): return .bool(bool)
        case .int(let int): return .int(int)
        case .unsigned(let unsigned): return .double(Double(unsigned))
        case .string(let string): return .string(string)
        case .float(let double):
            guard double.isFinite else {
                let name = double.isNaN ? "NaN" : double < 0 ? "-Inf" : "+Inf"
                throw YAMLDecodingError(message: "json: unsupported value: \(name)")
            }
            // Go writes an integral float below 1e21 without a point or exponent, so it reads back as an integer.
            if double == double.rounded(.towardZero) && abs(double) < 9.223_372_036_854_775_808e18 {
                return .int(Int64(double))
            }
            return .double(double)
        }
    }
}

extension YAMLDecodingError {
    /// go-yaml's form, `yaml: line N: <problem>`, from libyaml's problem (Yams and go-yaml share libyaml's texts).
    init(_ error: YamlError) {
        switch error {
        case .scanner(_, let problem, let mark, _):
            // go-yaml reports a scanner error on the problem's 1-based line.
            self.init(message: "yaml: line \(mark.line): \(problem)")
        case .parser(let context, let problem, let mark, _):
            // go-yaml reports a parser error on libyaml's 0-based line, or the context's when that is 0.
            let line = mark.line > 1 ? mark.line - 1 : (context?.mark.line ?? 1) - 1
            self.init(message: line > 0 ? "yaml: line \(line): \(problem)" : "yaml: \(problem)")
        case .composer(_, "found undefined alias", let mark, let yaml):
            self.init(message: "yaml: unknown anchor '\(Self.alias(at: mark, in: yaml))' referenced")
        case .composer(_, let problem, _, _), .reader(let problem, _, _, _):
            self.init(message: "yaml: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "line \(context.mark.line): key \"\($0)\" already set in map" }
            self.init(message: "yaml: unmarshal errors:\n  " + keys.joined(separator: "\n  "))
        default:
            self.init(message: "yaml: \(error)")
        }
    }

    /// The name of the alias (`*name`) at `mark`, which libyaml's error does not carry.
    private static func alias(at mark: Mark, in yaml: String) -> String {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        guard mark.line >= 1, mark.line <= lines.count else { return "" }
        let rest = lines[mark.line - 1].unicodeScalars.dropFirst(max(0, mark.column - 1)).drop { $0 == "*" }
        return String(String.UnicodeScalarView(rest.prefix { !" \t\r,[]{}".unicodeScalars.contains($0) }))
    }
}
