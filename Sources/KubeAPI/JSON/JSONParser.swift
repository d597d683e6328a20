// The JSON reader for request bodies and stored objects. It follows kube-apiserver's decoder
// (sigs.k8s.io/json, a fork of Go's encoding/json) where clients can tell the difference:
// - integers that fit an int64 become `.int`, every other number `.double` (Go's PreserveInts);
// - a repeated key keeps its first position and takes the last value (Go's map assignment);
// - errors carry Go's text and offset; nesting deeper than 10,000 is refused, as Go's scanner refuses it.
// One difference: Go replaces invalid UTF-8 in strings with U+FFFD; Kelson refuses it (`.invalidUTF8`).
//
// The parser keeps its own stack of open containers instead of recursing, so 10,000 levels need no thread stack.

extension JSONValue {
    /// Go's `maxNestingDepth`: how deeply arrays and objects may nest.
    public static let maximumNestingDepth = 10_000

    /// Parses one JSON document (surrounding whitespace allowed, nothing else after it).
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        try parse(bytes, reportingDuplicates: false).value
    }

    /// Parses one JSON document from text.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(text.utf8)
    }

    /// Parses like `parse` and also names every key that appeared twice in one object, as kube-apiserver's strict
    /// field validation reports them (`spec.containers[0].name`; at most 100 paths, each once).
    public static func parseReportingDuplicateFields(_ bytes: some Collection<UInt8>) throws(JSONParseError)
        -> (value: JSONValue, duplicateFields: [String])
    {
        try parse(bytes, reportingDuplicates: true)
    }

    private static func parse(_ bytes: some Collection<UInt8>, reportingDuplicates: Bool) throws(JSONParseError)
        -> (value: JSONValue, duplicateFields: [String])
    {
        let parseBuffer = { (buffer: UnsafeBufferPointer<UInt8>) in
            Result { () throws(JSONParseError) in
                var parser = JSONParser(input: buffer, reportsDuplicates: reportingDuplicates)
                let value = try parser.parseDocument()
                return (value, parser.duplicateFields)
            }
        }
        if let result = bytes.withContiguousStorageIfAvailable(parseBuffer) { return try result.get() }
        return try Array(bytes).withUnsafeBufferPointer(parseBuffer).get()
    }
}

/// A single pass over the input building the value; `index` always points at the next unread byte.
struct JSONParser: ~Copyable {
    let input: UnsafeBufferPointer<UInt8>
    var index = 0
    /// Decoded bytes of a string with escapes, reused from string to string.
    var scratch: [UInt8] = []
    /// An error Go reports only when the document is otherwise well-formed (a number out of float64's range).
    var deferredError: JSONParseError?

    // The open containers, innermost last: `isObjectStack` says which of the two frame stacks each level is on.
    // Their finished members wait in two shared buffers and move into an array of the exact size on closing,
    // one allocation per container instead of one per doubling.
    private var isObjectStack: [Bool] = []
    private var arrayStarts: [Int] = []
    private var objectFrames: [ObjectFrame] = []
    private var pendingElements = PendingBuffer<JSONValue>()
    private var pendingEntries = PendingBuffer<(key: String, value: JSONValue)>()

    private let reportsDuplicates: Bool
    private(set) var duplicateFields: [String] = []
    /// sigs.k8s.io/json keeps at most 100 strict errors.
    private static let duplicateFieldsMaximum = 100
    /// Up to this many keys a repeated key is looked for by scanning; past it, through a dictionary.
    private static let linearScanMaximum = 16

    init(input: UnsafeBufferPointer<UInt8>, reportsDuplicates: Bool) {
        self.input = input
        self.reportsDuplicates = reportsDuplicates
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        while true {
            // nil: a container opened, and its first member comes next.
            guard let value = try readValue() else { continue }
            if let document = try complete(with: value) { return try finish(document) }
        }
    }

    /// Reads a scalar or an empty container, or opens a container and returns nil.
    private mutating func readValue() throws(JSONParseError) -> JSONValue? {
        skipWhitespace()
        guard index < input.count else { throw .unexpectedEnd(at: input.count) }
        let byte = input[index]
        switch byte {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            try checkDepth(byte)
            let isObject = byte == UInt8(ascii: "{")
            index += 1
            skipWhitespace()
            guard index < input.count else { throw .unexpectedEnd(at: input.count) }
            if input[index] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                index += 1
                return isObject ? .object(JSONObject()) : .array([])
            }
            if isObject {
                let key = try parseKey()
                objectFrames.append(ObjectFrame(start: pendingEntries.count, key: key))
            } else {
                arrayStarts.append(pendingElements.count)
            }
            isObjectStack.append(isObject)
            return nil
        case UInt8(ascii: "\""):
            index += 1
            return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        default:
            throw .invalidCharacter(byte, at: index, "looking for beginning of value")
        }
    }

    /// Hands a finished value to the containers it completes. Returns the document once the outermost one closes
    /// (or the value was the document), nil when a container expects another member.
    private mutating func complete(with value: consuming JSONValue) throws(JSONParseError) -> JSONValue? {
        while let isObject = isObjectStack.last {
            skipWhitespace()
            guard index < input.count else { throw .unexpectedEnd(at: input.count) }
            let next = input[index]
            if isObject {
                addEntry(consume value)
                if next == UInt8(ascii: ",") {
                    index += 1
                    skipWhitespace()
                    guard index < input.count else { throw .unexpectedEnd(at: input.count) }
                    objectFrames[objectFrames.count - 1].key = try parseKey()
                    return nil
                }
                guard next == UInt8(ascii: "}") else {
                    throw .invalidCharacter(next, at: index, "after object key:value pair")
                }
                index += 1
                isObjectStack.removeLast()
                let entries = pendingEntries.moveOut(from: objectFrames.removeLast().start)
                value = .object(JSONObject(uniqueEntries: entries))
            } else {
                pendingElements.append(consume value)
                if next == UInt8(ascii: ",") {
                    index += 1
                    return nil
                }
                guard next == UInt8(ascii: "]") else {
                    throw .invalidCharacter(next, at: index, "after array element")
                }
                index += 1
                isObjectStack.removeLast()
                value = .array(pendingElements.moveOut(from: arrayStarts.removeLast()))
            }
        }
        return value
    }

    private mutating func finish(_ value: consuming JSONValue) throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        if index < input.count { throw .invalidCharacter(input[index], at: index, "after top-level value") }
        if let deferredError { throw deferredError }
        return value
    }

    /// Go counts a level when it reads the opening bracket, empty containers included.
    private func checkDepth(_ byte: UInt8) throws(JSONParseError) {
        if isObjectStack.count >= JSONValue.maximumNestingDepth {
            throw .invalidCharacter(byte, at: index, "exceeded max depth")
        }
    }

    /// Reads `"key"` and the colon after it; `index` is at the opening quote's expected place.
    private mutating func parseKey() throws(JSONParseError) -> String {
        guard input[index] == UInt8(ascii: "\"") else {
            throw .invalidCharacter(input[index], at: index, "looking for beginning of object key string")
        }
        index += 1
        let key = try parseString()
        skipWhitespace()
        guard index < input.count else { throw .unexpectedEnd(at: input.count) }
        guard input[index] == UInt8(ascii: ":") else {
            throw .invalidCharacter(input[index], at: index, "after object key")
        }
        index += 1
        return key
    }

    /// Adds the innermost object's current key with `value`; a repeated key keeps its place and takes the value.
    private mutating func addEntry(_ value: consuming JSONValue) {
        let frame = objectFrames.count - 1
        let start = objectFrames[frame].start
        let key = objectFrames[frame].key
        var existing: Int?
        if pendingEntries.count - start <= Self.linearScanMaximum {
            for position in start..<pendingEntries.count where pendingEntries[position].key == key {
                existing = position
                break
            }
        } else {
            existing = objectFrames[frame].position(of: key, in: pendingEntries)
        }
        guard let existing else {
            pendingEntries.append((key, value))
            return
        }
        pendingEntries[existing].value = value
        if reportsDuplicates { recordDuplicate() }
    }

    /// The path of the key just repeated, as Go's field path prints it: names joined by dots, list indexes in brackets.
    private mutating func recordDuplicate() {
        guard duplicateFields.count < Self.duplicateFieldsMaximum else { return }
        var path = ""
        var arrayLevel = 0
        var objectLevel = 0
        for isObject in isObjectStack {
            if isObject {
                if !path.isEmpty { path += "." }
                path += objectFrames[objectLevel].key
                objectLevel += 1
            } else {
                // An outer array's finished elements end where the next array's begin.
                let end = arrayLevel + 1 < arrayStarts.count ? arrayStarts[arrayLevel + 1] : pendingElements.count
                path += "[\(end - arrayStarts[arrayLevel])]"
                arrayLevel += 1
            }
        }
        if !duplicateFields.contains(path) { duplicateFields.append(path) }
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < input.count {
            switch input[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
            default: return
            }
        }
    }
}

/// An object being read: where its entries start in the pending buffer, and the key whose value is being read.
private struct ObjectFrame {
    var start: Int
    var key: String
    /// Built once an object grows past a few keys, so finding a repeated key stays cheap in a large map.
    private var positions: [String: Int]?

    init(start: Int, key: String) {
        self.start = start
        self.key = key
    }

    /// The position of `key` among this object's entries, if it has it; records it as the next entry if not.
    mutating func position(of key: String, in entries: borrowing PendingBuffer<(key: String, value: JSONValue)>)
        -> Int?
    {
        if positions == nil {
            var built = [String: Int](minimumCapacity: 2 * (entries.count - start))
            for position in start..<entries.count { built[entries[position].key] = position }
            positions = built
        }
        if let position = positions![key] { return position }
        positions![key] = entries.count
        return nil
    }
}
