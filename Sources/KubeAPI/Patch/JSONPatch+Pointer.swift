// JSON pointers (RFC 6901) and the container operations evanphx/json-patch v4 performs at their ends, with its
// error texts. Containers are changed in place: each level's reference is dropped before the level below is
// changed, so a patch does not copy the objects and lists on its path.

extension JSONPatch {
    enum Pointer {
        /// Runs `body` on the container holding the pointer's last token, and that token; nil when there is no such
        /// container (evanphx's `findObject` failing: a missing or null member, a bad index, a scalar on the way).
        static func withParent<Result>(
            of pointer: String, in document: inout JSONValue,
            _ body: (inout JSONValue, String) throws(JSONPatchError) -> Result
        ) throws(JSONPatchError) -> Result? {
            guard pointer.first == "/" else { return nil }
            let tokens = pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(unescape)
            return try withContainer(at: tokens.dropLast()[...], in: &document) { container throws(JSONPatchError) in
                try body(&container, tokens[tokens.count - 1])
            }
        }

        private static func withContainer<Result>(
            at tokens: ArraySlice<String>, in value: inout JSONValue,
            _ body: (inout JSONValue) throws(JSONPatchError) -> Result
        ) throws(JSONPatchError) -> Result? {
            guard let token = tokens.first else {
                switch value {
                case .object, .array: return try body(&value)
                default: return nil
                }
            }
            switch value {
            case .object(var object):
                guard var child = object[token], child.isContainer else { return nil }
                value = .null
                object[token] = .null
                defer {
                    object[token] = child
                    value = .object(object)
                }
                return try withContainer(at: tokens.dropFirst(), in: &child, body)
            case .array(var elements):
                guard let index = try? existingIndex(token, count: elements.count), elements[index].isContainer
                else { return nil }
                var child = elements[index]
                value = .null
                elements[index] = .null
                defer {
                    elements[index] = child
                    value = .array(elements)
                }
                return try withContainer(at: tokens.dropFirst(), in: &child, body)
            default:
                return nil
            }
        }

        /// RFC 6901's decoding, as Go's `strings.NewReplacer("~1", "/", "~0", "~")` does it.
        private static func unescape(_ token: Substring) -> String {
            guard token.contains("~") else { return String(token) }
            var result = ""
            var position = token.startIndex
            while position < token.endIndex {
                let next = token.index(after: position)
                if token[position] == "~", next < token.endIndex, token[next] == "0" || token[next] == "1" {
                    result.append(token[next] == "1" ? "/" : "~")
                    position = token.index(after: next)
                } else {
                    result.append(token[position])
                    position = next
                }
            }
            return result
        }

        /// The member or element named `key`; nil for a missing or null object member. Fails for a bad index.
        static func get(_ key: String, in container: JSONValue) throws(JSONPatchError) -> JSONValue? {
            switch container {
            case .object(let object):
                let member = object[key]
                return member == .null ? nil : member
            case .array(let elements):
                let element = elements[try existingIndex(key, count: elements.count)]
                return element == .null ? nil : element
            default:
                return nil
            }
        }

        /// Replaces the member or element `key` (which `get` found), or adds the member.
        static func set(_ value: JSONValue, at key: String, in container: inout JSONValue) throws(JSONPatchError) {
            switch container {
            case .object(var object):
                container = .null
                object[key] = value
                container = .object(object)
            case .array(var elements):
                let index = try existingIndex(key, count: elements.count)
                container = .null
                elements[index] = value
                container = .array(elements)
            default:
                break
            }
        }

        /// RFC 6902 `add`: sets a member, or inserts an element (`-` appends; an index may equal the count).
        static func add(_ value: JSONValue, at key: String, to container: inout JSONValue) throws(JSONPatchError) {
            switch container {
            case .object(var object):
                container = .null
                object[key] = value
                container = .object(object)
            case .array(var elements):
                var index = elements.count
                if key != "-" {
                    let parsed: Int
                    do throws(JSONPatchError) { parsed = try atoi(key) } catch {
                        throw error.wrapped("value was not a proper array index: '\(key)'")
                    }
                    index = try position(parsed, count: elements.count + 1)
                }
                container = .null
                elements.insert(value, at: index)
                container = .array(elements)
            default:
                break
            }
        }

        /// Removes the member or element `key` and returns it (nil for a null member).
        static func remove(at key: String, from container: inout JSONValue) throws(JSONPatchError) -> JSONValue? {
            switch container {
            case .object(var object):
                guard object.index(of: key) != nil else {
                    throw .failed("Unable to remove nonexistent key: \(key): \(JSONPatchError.missingValue)")
                }
                container = .null
                let removed = object.removeValue(forKey: key)
                container = .object(object)
                return removed == .null ? nil : removed
            case .array(var elements):
                let index = try existingIndex(key, count: elements.count)
                container = .null
                let removed = elements.remove(at: index)
                container = .array(elements)
                return removed == .null ? nil : removed
            default:
                return nil
            }
        }

        /// The index of an existing element: `Atoi`, counting from the end when negative.
        private static func existingIndex(_ key: String, count: Int) throws(JSONPatchError) -> Int {
            try position(atoi(key), count: count)
        }

        /// `index` checked against `count` positions, a negative one counting from the end (Go reports the index as
        /// written when it is too negative, and after counting from the end when it is too large).
        private static func position(_ index: Int, count: Int) throws(JSONPatchError) -> Int {
            let adjusted = index < 0 ? index + count : index
            guard index >= -count, adjusted < count else {
                throw .failed("Unable to access invalid index: \(index): \(JSONPatchError.invalidIndex)")
            }
            return adjusted
        }

        /// Go's `strconv.Atoi`: an optional sign and decimal digits, within Int64.
        private static func atoi(_ text: String) throws(JSONPatchError) -> Int {
            var digits = text.utf8[...]
            let isNegative = digits.first == UInt8(ascii: "-")
            if isNegative || digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
            guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw .failed("strconv.Atoi: parsing \(goQuoted(text)): invalid syntax")
            }
            var magnitude: UInt64 = 0
            for digit in digits {
                let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
                guard !overflow1 && !overflow2, sum <= UInt64(Int64.max) + (isNegative ? 1 : 0) else {
                    throw .failed("strconv.Atoi: parsing \(goQuoted(text)): value out of range")
                }
                magnitude = sum
            }
            return isNegative ? Int(truncatingIfNeeded: 0 &- magnitude) : Int(magnitude)
        }

        /// Go's `strconv.Quote` for the texts that reach error messages.
        private static func goQuoted(_ text: String) -> String {
            var quoted = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": quoted += "\\\""
                case "\\": quoted += "\\\\"
                case "\n": quoted += "\\n"
                case "\t": quoted += "\\t"
                case "\r": quoted += "\\r"
                case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                    let hex = String(scalar.value, radix: 16)
                    quoted += "\\x" + (hex.count < 2 ? "0" : "") + hex
                default: quoted.unicodeScalars.append(scalar)
                }
            }
            return quoted + "\""
        }
    }
}

extension JSONValue {
    fileprivate var isContainer: Bool {
        switch self {
        case .object, .array: true
        default: false
        }
    }
}
