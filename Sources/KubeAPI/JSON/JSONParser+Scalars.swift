// Strings, numbers and literals for `JSONParser`, with Go's scanner contexts in the error texts.

extension JSONParser {
    /// Reads a string whose opening quote is already consumed, through its closing quote.
    mutating func parseString() throws(JSONParseError) -> String {
        let start = index
        // Or-ed bytes: the high bit says whether the string needs UTF-8 validation.
        var allBits: UInt8 = 0
        // The common case: no escapes, so the string is a slice of the input, copied once.
        while index < input.count {
            let byte = input[index]
            allBits |= byte
            if byte == UInt8(ascii: "\"") {
                let bytes = UnsafeBufferPointer(rebasing: input[start..<index])
                if allBits >= 0x80 { try Self.validateUTF8(bytes, start: start) }
                index += 1
                return String(decoding: bytes, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { return try parseEscapedString(from: start) }
            if byte < 0x20 { throw .invalidCharacter(byte, at: index, "in string literal") }
            index += 1
        }
        throw .unexpectedEnd(at: input.count)
    }

    private mutating func parseEscapedString(from start: Int) throws(JSONParseError) -> String {
        scratch.removeAll(keepingCapacity: true)
        var runStart = start
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "\"") {
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: input[runStart..<index]))
                index += 1
                let bytes = scratch
                return try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) in
                    try Self.validateUTF8(buffer, start: start)
                    return String(decoding: buffer, as: UTF8.self)
                }
            }
            if byte == UInt8(ascii: "\\") {
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: input[runStart..<index]))
                try parseEscape()
                runStart = index
                continue
            }
            if byte < 0x20 { throw .invalidCharacter(byte, at: index, "in string literal") }
            index += 1
        }
        throw .unexpectedEnd(at: input.count)
    }

    /// Decodes one escape at `index` (the backslash) into `scratch`.
    private mutating func parseEscape() throws(JSONParseError) {
        index += 1
        guard index < input.count else { throw .unexpectedEnd(at: input.count) }
        let byte = input[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(byte)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try parseHex4()
            if (0xD800..<0xDC00).contains(scalar), let low = peekLowSurrogate() {
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                index += 6
            }
            // Go turns a surrogate that is not half of a pair into U+FFFD rather than failing.
            appendUTF8(Unicode.Scalar(scalar) ?? "\u{FFFD}")
        default:
            throw .invalidCharacter(byte, at: index - 1, "in string escape code")
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard index < input.count else { throw .unexpectedEnd(at: input.count) }
            guard let digit = Self.hexValue(input[index]) else {
                throw .invalidCharacter(input[index], at: index, "in \\u hexadecimal character escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// The low surrogate of a `\uXXXX` escape right at `index`, if that is what follows.
    private func peekLowSurrogate() -> UInt32? {
        guard index + 6 <= input.count, input[index] == UInt8(ascii: "\\"), input[index + 1] == UInt8(ascii: "u")
        else { return nil }
        var value: UInt32 = 0
        for offset in 2..<6 {
            guard let digit = Self.hexValue(input[index + offset]) else { return nil }
            value = value << 4 | digit
        }
        return (0xDC00..<0xE000).contains(value) ? value : nil
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    private mutating func appendUTF8(_ scalar: Unicode.Scalar) {
        for unit in UTF8.encode(scalar)! { scratch.append(unit) }
    }

    /// Refuses bytes that are not UTF-8 (`String(decoding:)` would repair them silently). The checks are the
    /// Unicode standard's table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF.
    private static func validateUTF8(_ bytes: UnsafeBufferPointer<UInt8>, start: Int) throws(JSONParseError) {
        var position = 0
        while position < bytes.count {
            let lead = bytes[position]
            if lead < 0x80 {
                position += 1
                continue
            }
            let length: Int
            var secondRange: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: (length, secondRange) = (3, 0xA0...0xBF)
            case 0xED: (length, secondRange) = (3, 0x80...0x9F)
            case 0xE1...0xEF: length = 3
            case 0xF0: (length, secondRange) = (4, 0x90...0xBF)
            case 0xF4: (length, secondRange) = (4, 0x80...0x8F)
            case 0xF1...0xF3: length = 4
            default: length = 0
            }
            var valid = length > 0 && position + length <= bytes.count && secondRange.contains(bytes[position + 1])
            if valid {
                for offset in 2..<max(2, length) where bytes[position + offset] & 0xC0 != 0x80 { valid = false }
            }
            guard valid else {
                // Exact for a string without escapes; for one with escapes, near the bad byte.
                throw JSONParseError(
                    .invalidUTF8, offset: start + position + 1, message: "invalid UTF-8 in string literal")
            }
            position += length
        }
    }

    /// Reads a number: `.int` when it has no fraction or exponent and fits an Int64, `.double` otherwise.
    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        let isNegative = input[index] == UInt8(ascii: "-")
        if isNegative {
            index += 1
            guard index < input.count else { throw .unexpectedEnd(at: input.count) }
            guard Self.isDigit(input[index]) else {
                throw .invalidCharacter(input[index], at: index, "in numeric literal")
            }
        }
        var magnitude: UInt64 = 0
        var overflowed = false
        if input[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < input.count, Self.isDigit(input[index]) {
                let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(UInt64(input[index] - UInt8(ascii: "0")))
                magnitude = sum
                overflowed = overflowed || overflow1 || overflow2
                index += 1
            }
        }
        var isInteger = true
        if index < input.count, input[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            try readDigits(context: "after decimal point in numeric literal")
        }
        if index < input.count, input[index] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            index += 1
            guard index < input.count else { throw .unexpectedEnd(at: input.count) }
            if input[index] == UInt8(ascii: "+") || input[index] == UInt8(ascii: "-") { index += 1 }
            try readDigits(context: "in exponent of numeric literal")
        }
        if isInteger && !overflowed {
            if !isNegative && magnitude <= UInt64(Int64.max) { return .int(Int64(magnitude)) }
            if isNegative && magnitude <= UInt64(Int64.max) + 1 {
                return .int(Int64(truncatingIfNeeded: 0 &- magnitude))
            }
        }
        return parseDouble(from: start)
    }

    /// One or more digits; anything else first is an error with Go's `context`.
    private mutating func readDigits(context: String) throws(JSONParseError) {
        guard index < input.count else { throw .unexpectedEnd(at: input.count) }
        guard Self.isDigit(input[index]) else { throw .invalidCharacter(input[index], at: index, context) }
        while index < input.count, Self.isDigit(input[index]) { index += 1 }
    }

    private mutating func parseDouble(from start: Int) -> JSONValue {
        let text = String(decoding: UnsafeBufferPointer(rebasing: input[start..<index]), as: UTF8.self)
        let value = Double(text) ?? .infinity
        if !value.isFinite && deferredError == nil {
            deferredError = JSONParseError(
                .numberOutOfRange, offset: index,
                message: "json: cannot unmarshal number \(text) into Go value of type float64")
        }
        return .double(value)
    }

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    /// Reads `true`, `false` or `null` at `index`, failing at the first byte that differs, as Go's scanner does.
    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        let name = literal.description
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        for offset in 1..<count {
            guard index + offset < input.count else { throw .unexpectedEnd(at: input.count) }
            let byte = input[index + offset]
            if byte != expected[offset] {
                let context = "in literal \(name) (expecting \(JSONParseError.quoted(expected[offset])))"
                throw .invalidCharacter(byte, at: index + offset, context)
            }
        }
        index += count
    }
}
