// JSON output byte for byte as Go's encoding/json writes it (what kube-apiserver sends), except that object keys
// keep their stored order where Go would sort a map's keys:
// - strings escape `"` and `\`, the controls \b \f \n \r \t by name and the others as \u00XX, and, as Go's
//   HTML-safe default does, `<` `>` `&` as \u003c \u003e \u0026 and U+2028/U+2029 as \u2028/\u2029;
// - integers in decimal; floats as `GoFloatText` lays them out; NaN and infinities, which Go refuses, as `null`.

extension JSONValue {
    /// The value as compact JSON.
    public func serialized() -> [UInt8] {
        var output: [UInt8] = []
        serialize(into: &output)
        return output
    }

    /// Appends the value as compact JSON.
    public func serialize(into output: inout [UInt8]) {
        JSONSerializer.append(self, indent: 0, to: &output)
    }

    /// The value as Go's `json.MarshalIndent(value, "", indent spaces)` writes it: one member per line.
    public func serialized(indent: Int) -> [UInt8] {
        var output: [UInt8] = []
        JSONSerializer.append(self, indent: max(0, indent), to: &output)
        return output
    }
}

enum JSONSerializer {
    /// A container being written and the position of its next member. The writer keeps a stack of these rather
    /// than recursing, so a value nested as deeply as the parser allows needs no thread stack.
    private struct OpenContainer {
        enum Members {
            case array([JSONValue])
            case object([(key: String, value: JSONValue)])
        }
        let members: Members
        var next = 0
    }

    /// Writes `value`; with `indent` above 0, each member on its own line indented that many spaces per level.
    static func append(_ value: JSONValue, indent: Int, to output: inout [UInt8]) {
        var stack: [OpenContainer] = []
        var pending = value
        while true {
            switch pending {
            case .null: output.append(contentsOf: "null".utf8)
            case .bool(let bool): output.append(contentsOf: bool ? "true".utf8 : "false".utf8)
            case .int(let int): appendInteger(int, to: &output)
            case .double(let double): GoFloatText.appendJSON(double, to: &output)
            case .string(let string): appendString(string, to: &output)
            case .array(let elements):
                output.append(UInt8(ascii: "["))
                if elements.isEmpty {
                    output.append(UInt8(ascii: "]"))
                } else {
                    stack.append(OpenContainer(members: .array(elements)))
                }
            case .object(let object):
                output.append(UInt8(ascii: "{"))
                if object.isEmpty {
                    output.append(UInt8(ascii: "}"))
                } else {
                    stack.append(OpenContainer(members: .object(object.entries)))
                }
            }
            // Find the next value to write, closing the containers that are done.
            findingNext: while !stack.isEmpty {
                let top = stack.count - 1
                let position = stack[top].next
                switch stack[top].members {
                case .array(let elements) where position < elements.count:
                    if position > 0 { output.append(UInt8(ascii: ",")) }
                    newline(indent, levels: stack.count, to: &output)
                    pending = elements[position]
                case .object(let entries) where position < entries.count:
                    if position > 0 { output.append(UInt8(ascii: ",")) }
                    newline(indent, levels: stack.count, to: &output)
                    appendString(entries[position].key, to: &output)
                    output.append(UInt8(ascii: ":"))
                    if indent > 0 { output.append(UInt8(ascii: " ")) }
                    pending = entries[position].value
                case .array:
                    stack.removeLast()
                    newline(indent, levels: stack.count, to: &output)
                    output.append(UInt8(ascii: "]"))
                    continue findingNext
                case .object:
                    stack.removeLast()
                    newline(indent, levels: stack.count, to: &output)
                    output.append(UInt8(ascii: "}"))
                    continue findingNext
                }
                stack[top].next = position + 1
                break findingNext
            }
            if stack.isEmpty { return }
        }
    }

    @inline(__always)
    private static func newline(_ indent: Int, levels: Int, to output: inout [UInt8]) {
        guard indent > 0 else { return }
        output.append(UInt8(ascii: "\n"))
        output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * levels))
    }

    static func appendInteger(_ value: Int64, to output: inout [UInt8]) {
        if value < 0 { output.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        let start = output.count
        repeat {
            output.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        output[start...].reverse()
    }

    static func appendString(_ string: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in appendEscaped(bytes, to: &output) }
        output.append(UInt8(ascii: "\""))
    }

    /// Bytes below 0x40 that may need escaping: the controls, `"`, `&`, `<` and `>`.
    private static let lowBytesToCheck: UInt64 = 0xFFFF_FFFF | 1 << 0x22 | 1 << 0x26 | 1 << 0x3C | 1 << 0x3E
    private static let hexDigits: StaticString = "0123456789abcdef"

    private static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        var runStart = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let mayEscape =
                byte < 0x40 ? (lowBytesToCheck >> UInt64(byte)) & 1 != 0 : byte == UInt8(ascii: "\\") || byte == 0xE2
            guard mayEscape else {
                index += 1
                continue
            }
            // U+2028 and U+2029 (E2 80 A8/A9) are JavaScript line terminators, which Go escapes; other E2 runes not.
            let isLineSeparator =
                byte == 0xE2 && index + 2 < bytes.count && bytes[index + 1] == 0x80 && bytes[index + 2] & 0xFE == 0xA8
            if byte == 0xE2 && !isLineSeparator {
                index += 1
                continue
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            output.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.append(byte)
            case 0x08: output.append(UInt8(ascii: "b"))
            case 0x0C: output.append(UInt8(ascii: "f"))
            case 0x0A: output.append(UInt8(ascii: "n"))
            case 0x0D: output.append(UInt8(ascii: "r"))
            case 0x09: output.append(UInt8(ascii: "t"))
            case 0xE2:
                output.append(contentsOf: bytes[index + 2] == 0xA8 ? "u2028".utf8 : "u2029".utf8)
                index += 2
            default:
                let hex = UnsafeBufferPointer(start: hexDigits.utf8Start, count: 16)
                output.append(contentsOf: "u00".utf8)
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0xF)])
            }
            index += 1
            runStart = index
        }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
    }
}
