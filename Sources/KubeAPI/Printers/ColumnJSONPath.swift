import Foundation

/// The JSONPath subset CRD `additionalPrinterColumns` use (client-go `util/jsonpath` syntax, without templates):
/// `.spec.replicas`, `.metadata.labels.app\.kubernetes\.io/name`, `.metadata.annotations['a/b']`,
/// `.spec.containers[0].image`, `.items[-1]`, `.items[1:3]`, `.items[*].name`, `.*`, `..name`, and filters
/// `.status.conditions[?(@.type=="Ready")].status` with `==`, `!=`, `<`, `<=`, `>`, `>=` or bare existence.
/// Missing keys select nothing, as with `AllowMissingKeys(true)`.
struct ColumnJSONPath: Sendable {
    indirect enum Step: Sendable {
        case field(String)
        case wildcard
        case slice(start: Int?, end: Int?, step: Int?)
        case index(Int)
        case recursive(Step)
        case filter(Filter)
    }

    struct Filter: Sendable {
        var left: [Step]
        /// Nil for an existence test (`[?(@.name)]`).
        var comparison: (operator: String, right: JSONValue)?
    }

    let steps: [Step]

    /// Parses `expression` (optionally wrapped in `{}` and starting with `$`); nil when it is not in the subset.
    init?(_ expression: String) {
        var text = Substring(expression.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("{") && text.hasSuffix("}") { text = text.dropFirst().dropLast() }
        if text.hasPrefix("$") { text = text.dropFirst() }
        var parser = Parser(text: Array(text))
        guard let steps = parser.parseSteps(untilFilterEnd: false), parser.isAtEnd else { return nil }
        self.steps = steps
    }

    /// Every value the path selects, in document order.
    func evaluate(_ root: JSONValue) -> [JSONValue] { Self.apply(steps[...], to: [root]) }

    private static func apply(_ steps: ArraySlice<Step>, to values: [JSONValue]) -> [JSONValue] {
        var current = values
        for step in steps {
            current = current.flatMap { apply(step, to: $0) }
            if current.isEmpty { break }
        }
        return current
    }

    private static func apply(_ step: Step, to value: JSONValue) -> [JSONValue] {
        switch step {
        case .field(let name):
            return value.objectValue?[name].map { [$0] } ?? []
        case .wildcard:
            if let object = value.objectValue { return object.entries.map(\.value) }
            return value.arrayValue ?? []
        case .index(let position):
            guard let array = value.arrayValue else { return [] }
            let resolved = position < 0 ? position + array.count : position
            return array.indices.contains(resolved) ? [array[resolved]] : []
        case .slice(let start, let end, let step):
            guard let array = value.arrayValue else { return [] }
            return slice(array, start: start, end: end, step: step ?? 1)
        case .recursive(let next):
            return descendantsAndSelf(value).flatMap { apply(next, to: $0) }
        case .filter(let filter):
            guard let array = value.arrayValue else { return [] }
            return array.filter { matches(filter, $0) }
        }
    }

    private static func slice(_ array: [JSONValue], start: Int?, end: Int?, step: Int) -> [JSONValue] {
        guard step > 0 else { return [] }
        func clamp(_ bound: Int) -> Int { min(max(bound < 0 ? bound + array.count : bound, 0), array.count) }
        let lower = clamp(start ?? 0)
        let upper = clamp(end ?? array.count)
        guard lower < upper else { return [] }
        return stride(from: lower, to: upper, by: step).map { array[$0] }
    }

    private static func descendantsAndSelf(_ value: JSONValue) -> [JSONValue] {
        var result = [value]
        let children = value.objectValue.map { $0.entries.map(\.value) } ?? value.arrayValue ?? []
        for child in children { result += descendantsAndSelf(child) }
        return result
    }

    private static func matches(_ filter: Filter, _ element: JSONValue) -> Bool {
        // An element where the left side selects nothing never matches, not even for `!=`.
        guard let left = apply(filter.left[...], to: [element]).first else { return false }
        guard let (comparisonOperator, right) = filter.comparison else { return true }
        guard let order = compare(left, right) else { return false }
        switch comparisonOperator {
        case "==": return order == .orderedSame
        case "!=": return order != .orderedSame
        case "<": return order == .orderedAscending
        case "<=": return order != .orderedDescending
        case ">": return order == .orderedDescending
        case ">=": return order != .orderedAscending
        default: return false
        }
    }

    /// Orders two scalars of the same kind; nil for kinds Go's template comparison rejects.
    private static func compare(_ left: JSONValue, _ right: JSONValue) -> ComparisonResult? {
        func order<T: Comparable>(_ a: T, _ b: T) -> ComparisonResult {
            a < b ? .orderedAscending : (a == b ? .orderedSame : .orderedDescending)
        }
        switch (left, right) {
        case (.string(let a), .string(let b)): return order(a, b)
        case (.int(let a), .int(let b)): return order(a, b)
        case (.double(let a), .double(let b)): return order(a, b)
        case (.int(let a), .double(let b)): return order(Double(a), b)
        case (.double(let a), .int(let b)): return order(a, Double(b))
        case (.bool(let a), .bool(let b)): return a == b ? .orderedSame : (a ? .orderedDescending : .orderedAscending)
        default: return nil
        }
    }
}

extension ColumnJSONPath {
    /// A recursive-descent parser over the expression's characters.
    fileprivate struct Parser {
        let text: [Character]
        var position = 0

        var isAtEnd: Bool { position >= text.count }
        private var current: Character? { position < text.count ? text[position] : nil }

        /// Steps until the end, or (inside a filter) until the closing `)`.
        mutating func parseSteps(untilFilterEnd: Bool) -> [Step]? {
            var steps: [Step] = []
            while let character = current {
                if untilFilterEnd && (character == ")" || character == " " || "=!<>".contains(character)) { break }
                switch character {
                case ".":
                    position += 1
                    if current == "." {
                        position += 1
                        guard let next = parseStepAfterDot() else { return nil }
                        steps.append(.recursive(next))
                    } else {
                        guard let next = parseStepAfterDot() else { return nil }
                        steps.append(next)
                    }
                case "[":
                    guard let step = parseBracket() else { return nil }
                    steps.append(step)
                default:
                    // Tolerate a path without its leading dot (`spec.replicas`).
                    guard steps.isEmpty, let name = parseFieldName(), !name.isEmpty else { return nil }
                    steps.append(.field(name))
                }
            }
            return steps
        }

        private mutating func parseStepAfterDot() -> Step? {
            if current == "*" {
                position += 1
                return .wildcard
            }
            if current == "[" { return parseBracket() }
            guard let name = parseFieldName(), !name.isEmpty else { return nil }
            return .field(name)
        }

        /// A dotted field name; `\.` escapes a dot inside it.
        private mutating func parseFieldName() -> String? {
            var name = ""
            while let character = current {
                if character == "\\" {
                    position += 1
                    guard let escaped = current else { return nil }
                    name.append(escaped)
                    position += 1
                    continue
                }
                if character == "." || character == "[" || character == ")" || character == " "
                    || "=!<>".contains(character)
                {
                    break
                }
                name.append(character)
                position += 1
            }
            return name
        }

        private mutating func parseBracket() -> Step? {
            position += 1  // "["
            let step: Step
            switch current {
            case "'", "\"":
                guard let key = parseQuoted() else { return nil }
                step = .field(key)
            case "*":
                position += 1
                step = .wildcard
            case "?":
                guard let filter = parseFilter() else { return nil }
                step = .filter(filter)
            default:
                guard let indexStep = parseIndexOrSlice() else { return nil }
                step = indexStep
            }
            guard current == "]" else { return nil }
            position += 1
            return step
        }

        private mutating func parseQuoted() -> String? {
            guard let quote = current else { return nil }
            position += 1
            var value = ""
            while let character = current, character != quote {
                if character == "\\" {
                    position += 1
                    guard let escaped = current else { return nil }
                    value.append(escaped)
                } else {
                    value.append(character)
                }
                position += 1
            }
            guard current == quote else { return nil }
            position += 1
            return value
        }

        private mutating func parseIndexOrSlice() -> Step? {
            var parts: [Int?] = []
            var digits = ""
            while let character = current, character != "]" {
                if character == ":" {
                    parts.append(digits.isEmpty ? nil : Int(digits))
                    digits = ""
                } else if character.isNumber || character == "-" {
                    digits.append(character)
                } else if character != " " {
                    return nil
                }
                position += 1
            }
            if !digits.isEmpty && Int(digits) == nil { return nil }
            parts.append(digits.isEmpty ? nil : Int(digits))
            switch parts.count {
            case 1:
                guard let index = parts[0] else { return nil }
                return .index(index)
            case 2, 3:
                return .slice(start: parts[0], end: parts[1], step: parts.count == 3 ? parts[2] : nil)
            default:
                return nil
            }
        }

        private mutating func skipSpaces() { while current == " " { position += 1 } }

        /// `?(@.path)` or `?(@.path <op> literal)`.
        private mutating func parseFilter() -> Filter? {
            position += 1  // "?"
            guard current == "(" else { return nil }
            position += 1
            skipSpaces()
            guard current == "@" else { return nil }
            position += 1
            guard let left = parseSteps(untilFilterEnd: true) else { return nil }
            skipSpaces()
            var comparison: (operator: String, right: JSONValue)?
            if let character = current, "=!<>".contains(character) {
                var comparisonOperator = String(character)
                position += 1
                if current == "=" {
                    comparisonOperator.append("=")
                    position += 1
                }
                guard ["==", "!=", "<", "<=", ">", ">="].contains(comparisonOperator) else { return nil }
                skipSpaces()
                guard let right = parseLiteral() else { return nil }
                comparison = (comparisonOperator, right)
                skipSpaces()
            }
            guard current == ")" else { return nil }
            position += 1
            return Filter(left: left, comparison: comparison)
        }

        private mutating func parseLiteral() -> JSONValue? {
            if current == "'" || current == "\"" { return parseQuoted().map(JSONValue.string) }
            var token = ""
            while let character = current, character != ")" && character != " " {
                token.append(character)
                position += 1
            }
            if token == "true" { return .bool(true) }
            if token == "false" { return .bool(false) }
            if let integer = Int64(token) { return .int(integer) }
            if let double = Double(token) { return .double(double) }
            return nil
        }
    }
}
