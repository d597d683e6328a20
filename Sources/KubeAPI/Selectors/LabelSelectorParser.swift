// The lexer and recursive-descent parser of upstream's labels.Parse, step for step, so that every input is
// accepted or refused as kube-apiserver does and refused with the same words:
//
//   <selector-syntax>         ::= <requirement> | <requirement> "," <selector-syntax>
//   <requirement>             ::= [!] KEY [ <set-based-restriction> | <exact-match-restriction> ]
//   <set-based-restriction>   ::= "" | <inclusion-exclusion> <value-set>
//   <inclusion-exclusion>     ::= "in" | "notin"
//   <value-set>               ::= "(" <values> ")"
//   <values>                  ::= VALUE | VALUE "," <values>
//   <exact-match-restriction> ::= ["="|"=="|"!="|">"|"<"] VALUE
//
// The lexer works on bytes: identifiers run until whitespace (space, tab, CR, LF) or one of `=!(),<>`; a NUL
// byte ends an identifier, and the input where a token would start. `in` and `notin` are keywords only where an
// operator is expected, so `in in (in)` is a valid selector.

struct LabelSelectorParser {
    enum Token {
        case error, endOfString, closedParenthesis, comma, doesNotExist, doubleEquals, equals, greaterThan
        case identifier, `in`, lessThan, notEquals, notIn, openParenthesis
    }

    /// Where the parser is: keywords read as identifiers among values (and keys).
    enum Context { case keyAndOperator, values }

    struct Item {
        var token: Token
        var literal: String
    }

    /// Upstream's binaryOperators, in the order its "expected:" message lists them.
    static let binaryOperators = "in, notin, =, ==, !=, gt, lt"

    private static let symbolTokens: [String: Token] = [
        ")": .closedParenthesis, ",": .comma, "!": .doesNotExist, "==": .doubleEquals, "=": .equals,
        ">": .greaterThan, "<": .lessThan, "!=": .notEquals, "(": .openParenthesis,
    ]

    private let items: [Item]
    private var position = 0

    init(_ text: String) { items = Self.scan(Array(text.utf8)) }

    /// The requirements in input order (the selector sorts them).
    mutating func parse() throws(LabelSelectorError) -> [LabelSelector.Requirement] {
        var requirements: [LabelSelector.Requirement] = []
        while true {
            let (token, literal) = lookahead(.values)
            switch token {
            case .identifier, .doesNotExist:
                do {
                    requirements.append(try parseRequirement())
                } catch {
                    throw LabelSelectorError("unable to parse requirement: \(error.message)")
                }
                let (next, nextLiteral) = consume(.values)
                switch next {
                case .endOfString:
                    return requirements
                case .comma:
                    let (following, followingLiteral) = lookahead(.values)
                    if following != .identifier && following != .doesNotExist {
                        throw LabelSelectorError("found '\(followingLiteral)', expected: identifier after ','")
                    }
                default:
                    throw LabelSelectorError("found '\(nextLiteral)', expected: ',' or 'end of string'")
                }
            case .endOfString:
                return requirements
            default:
                throw LabelSelectorError("found '\(literal)', expected: !, identifier, or 'end of string'")
            }
        }
    }

    private mutating func parseRequirement() throws(LabelSelectorError) -> LabelSelector.Requirement {
        let (key, inferred) = try parseKeyAndInferOperator()
        if let inferred { return try LabelSelector.Requirement(key: key, operator: inferred, values: []) }
        let op = try parseOperator()
        let values: Set<String>
        switch op {
        case .in, .notIn: values = try parseValues()
        default: values = try parseExactValue()
        }
        return try LabelSelector.Requirement(key: key, operator: op, values: values.sorted(by: GoFormat.precedes))
    }

    /// The key, and `exists` or `doesNotExist` when no operator follows (or the key had a `!`).
    private mutating func parseKeyAndInferOperator() throws(LabelSelectorError) -> (
        String, LabelSelector.Requirement.Operator?
    ) {
        var inferred: LabelSelector.Requirement.Operator?
        var (token, literal) = consume(.values)
        if token == .doesNotExist {
            inferred = .doesNotExist
            (token, literal) = consume(.values)
        }
        guard token == .identifier else { throw LabelSelectorError("found '\(literal)', expected: identifier") }
        // Upstream checks the key here with a nil path, hence `<nil>: Invalid value: ...`.
        if let error = LabelSelector.Requirement.keyError(literal, path: .none) {
            throw LabelSelectorError(error.description)
        }
        let next = lookahead(.values).token
        if (next == .endOfString || next == .comma) && inferred == nil { inferred = .exists }
        return (literal, inferred)
    }

    private mutating func parseOperator() throws(LabelSelectorError) -> LabelSelector.Requirement.Operator {
        let (token, literal) = consume(.keyAndOperator)
        switch token {
        case .in: return .in
        case .equals: return .equals
        case .doubleEquals: return .doubleEquals
        case .greaterThan: return .greaterThan
        case .lessThan: return .lessThan
        case .notIn: return .notIn
        case .notEquals: return .notEquals
        default: throw LabelSelectorError("found '\(literal)', expected: \(Self.binaryOperators)")
        }
    }

    /// `(a,b,c)`; `()` is the one empty value.
    private mutating func parseValues() throws(LabelSelectorError) -> Set<String> {
        let (token, literal) = consume(.values)
        guard token == .openParenthesis else { throw LabelSelectorError("found '\(literal)' expected: '('") }
        let (next, nextLiteral) = lookahead(.values)
        switch next {
        case .identifier, .comma:
            let values = try parseIdentifiersList()
            if consume(.values).token != .closedParenthesis {
                throw LabelSelectorError("found '\(nextLiteral)', expected: ')'")
            }
            return values
        case .closedParenthesis:
            _ = consume(.values)
            return [""]
        default:
            throw LabelSelectorError("found '\(nextLiteral)', expected: ',', ')' or identifier")
        }
    }

    /// Comma-separated values, any of them empty (`(,a)`, `(a,,b)`, `(a,)`); stops before the `)`.
    private mutating func parseIdentifiersList() throws(LabelSelectorError) -> Set<String> {
        var values = Set<String>()
        while true {
            let (token, literal) = consume(.values)
            switch token {
            case .identifier:
                values.insert(literal)
                let (next, nextLiteral) = lookahead(.values)
                switch next {
                case .comma: continue
                case .closedParenthesis: return values
                default: throw LabelSelectorError("found '\(nextLiteral)', expected: ',' or ')'")
                }
            case .comma:
                if values.isEmpty { values.insert("") }
                let next = lookahead(.values).token
                if next == .closedParenthesis {
                    values.insert("")
                    return values
                }
                if next == .comma { values.insert("") }
            default:
                throw LabelSelectorError("found '\(literal)', expected: ',', or identifier")
            }
        }
    }

    /// The one value after `=`, `==`, `!=`, `>` or `<`; nothing before `,` or the end is the empty value.
    private mutating func parseExactValue() throws(LabelSelectorError) -> Set<String> {
        let next = lookahead(.values).token
        if next == .endOfString || next == .comma { return [""] }
        let (token, literal) = consume(.values)
        guard token == .identifier else { throw LabelSelectorError("found '\(literal)', expected: identifier") }
        return [literal]
    }

    private func lookahead(_ context: Context) -> (token: Token, literal: String) {
        let item = items[min(position, items.count - 1)]
        return (Self.contextual(item.token, context), item.literal)
    }

    private mutating func consume(_ context: Context) -> (token: Token, literal: String) {
        let item = items[min(position, items.count - 1)]
        position += 1
        return (Self.contextual(item.token, context), item.literal)
    }

    private static func contextual(_ token: Token, _ context: Context) -> Token {
        context == .values && (token == .in || token == .notIn) ? .identifier : token
    }

    // MARK: - Lexer

    private static func scan(_ bytes: [UInt8]) -> [Item] {
        var lexer = Lexer(bytes: bytes)
        var items: [Item] = []
        // Each token but the last consumes at least one byte, so this ends within bytes.count + 1 tokens.
        while true {
            let item = lexer.next()
            items.append(item)
            if item.token == .endOfString { return items }
        }
    }

    private struct Lexer {
        let bytes: [UInt8]
        var position = 0

        /// The next byte, or 0 at the end (where the position stays).
        mutating func read() -> UInt8 {
            guard position < bytes.count else { return 0 }
            position += 1
            return bytes[position - 1]
        }

        mutating func next() -> Item {
            var byte = read()
            while Self.isWhitespace(byte) { byte = read() }
            if byte == 0 { return Item(token: .endOfString, literal: "") }
            position -= 1
            return Self.isSpecialSymbol(byte) ? scanSpecialSymbol() : scanIdentifierOrKeyword()
        }

        private mutating func scanIdentifierOrKeyword() -> Item {
            var buffer: [UInt8] = []
            while true {
                let byte = read()
                if byte == 0 { break }
                if Self.isSpecialSymbol(byte) || Self.isWhitespace(byte) {
                    position -= 1
                    break
                }
                buffer.append(byte)
            }
            let text = String(decoding: buffer, as: UTF8.self)
            switch text {
            case "in": return Item(token: .in, literal: text)
            case "notin": return Item(token: .notIn, literal: text)
            default: return Item(token: .identifier, literal: text)
            }
        }

        /// The longest operator made of symbol bytes: `!=` rather than `!`, `==` rather than `=`.
        private mutating func scanSpecialSymbol() -> Item {
            var buffer: [UInt8] = []
            var last: Item?
            while true {
                let byte = read()
                if byte == 0 { break }
                guard Self.isSpecialSymbol(byte) else {
                    position -= 1
                    break
                }
                buffer.append(byte)
                let text = String(decoding: buffer, as: UTF8.self)
                if let token = LabelSelectorParser.symbolTokens[text] {
                    last = Item(token: token, literal: text)
                } else if last != nil {
                    position -= 1
                    break
                }
            }
            return last
                ?? Item(
                    token: .error, literal: "error expected: keyword found '\(String(decoding: buffer, as: UTF8.self))'"
                )
        }

        static func isWhitespace(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
                || byte == UInt8(ascii: "\n")
        }

        static func isSpecialSymbol(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "="), UInt8(ascii: "!"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ","),
                UInt8(ascii: ">"), UInt8(ascii: "<"):
                true
            default: false
            }
        }
    }
}
