// Why a JSON body was refused, worded as Go's encoding/json words it: kube-apiserver answers a malformed body
// with the text of Go's `*json.SyntaxError` (e.g. `invalid character 'x' looking for beginning of value`), and
// clients and tests match on that text.

/// A JSON document that could not be parsed: what Go's encoding/json would say, and where.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, in broad strokes; the exact text is `message`.
    public enum Kind: Sendable, Equatable {
        /// A byte that does not belong where it is (Go's `*json.SyntaxError`).
        case syntax
        /// The input ends inside a value (Go's `unexpected end of JSON input`).
        case unexpectedEnd
        /// A number too large for a float64 (Go's `*json.UnmarshalTypeError` for `interface{}`).
        case numberOutOfRange
        /// A string that is not UTF-8 (Go would have replaced the bytes with U+FFFD; Kelson refuses them).
        case invalidUTF8
    }

    /// The class of error.
    public let kind: Kind
    /// Go's `SyntaxError.Offset`: the number of bytes read when the error was found, the offending byte included.
    public let offset: Int
    /// The error text as Go prints it.
    public let message: String

    public var description: String { message }

    init(_ kind: Kind, offset: Int, message: String) {
        self.kind = kind
        self.offset = offset
        self.message = message
    }

    /// Go's scanner error for byte `byte` at `index`: `invalid character 'x' <context>`.
    static func invalidCharacter(_ byte: UInt8, at index: Int, _ context: String) -> JSONParseError {
        JSONParseError(.syntax, offset: index + 1, message: "invalid character \(quoted(byte)) \(context)")
    }

    static func unexpectedEnd(at count: Int) -> JSONParseError {
        JSONParseError(.unexpectedEnd, offset: count, message: "unexpected end of JSON input")
    }

    /// Go's `quoteChar`: the byte read as a Latin-1 rune and quoted as `strconv.Quote` would, in single quotes.
    static func quoted(_ byte: UInt8) -> String {
        switch byte {
        case UInt8(ascii: "'"): return #"'\''"#
        case UInt8(ascii: "\""): return #"'"'"#
        case UInt8(ascii: "\\"): return #"'\\'"#
        case 0x07: return #"'\a'"#
        case 0x08: return #"'\b'"#
        case 0x0C: return #"'\f'"#
        case 0x0A: return #"'\n'"#
        case 0x0D: return #"'\r'"#
        case 0x09: return #"'\t'"#
        case 0x0B: return #"'\v'"#
        case 0x00..<0x20, 0x7F: return #"'\x"# + hex(byte, width: 2) + "'"
        // Latin-1 runes Go's unicode.IsPrint rejects: C1 controls, no-break space, soft hyphen.
        case 0x80...0xA0, 0xAD: return #"'\u"# + hex(byte, width: 4) + "'"
        default: return "'" + String(Character(Unicode.Scalar(byte))) + "'"
        }
    }

    private static func hex(_ byte: UInt8, width: Int) -> String {
        let digits = String(byte, radix: 16)
        return String(repeating: "0", count: width - digits.count) + digits
    }
}
