// `pattern` as Go's regexp applies it: an unanchored search (MatchString) with RE2 syntax. Swift's Regex reads the
// same syntax for what CRDs use; it is told to match by Unicode scalar (Go matches runes) and to keep `\d`, `\w`,
// `\s` and `\b` to ASCII as RE2 does, and Go's `\pL` and `(?P<name>` spellings are rewritten. A pattern Swift
// cannot compile is not enforced (the CRD was accepted, so Go compiled it).
//
// Compiled regexes are not Sendable, so each validation run compiles the patterns it meets, once per run.

final class PatternMatcher {
    private var compiled: [String: Regex<AnyRegexOutput>?] = [:]

    func matches(_ text: String, pattern: String) -> Bool {
        let regex: Regex<AnyRegexOutput>?
        if let cached = compiled[pattern] {
            regex = cached
        } else {
            regex = Self.compile(pattern)
            compiled[pattern] = regex
        }
        guard let regex else { return true }
        return (try? regex.firstMatch(in: text)) != nil
    }

    private static func compile(_ pattern: String) -> Regex<AnyRegexOutput>? {
        guard let regex = try? Regex(rewritten(pattern)) else { return nil }
        return regex.matchingSemantics(.unicodeScalar).asciiOnlyDigits().asciiOnlyWhitespace()
            .asciiOnlyWordCharacters().wordBoundaryKind(.simple)
    }

    /// Go spellings Swift does not read: `\pL` (one-letter class name) and `(?P<name>`.
    static func rewritten(_ pattern: String) -> String {
        var output = ""
        var characters = pattern.makeIterator()
        while let character = characters.next() {
            guard character == "\\" else {
                output.append(character)
                continue
            }
            guard let escaped = characters.next() else {
                output.append(character)
                break
            }
            if escaped == "p" || escaped == "P", let name = characters.next() {
                output += name == "{" ? "\\\(escaped){" : "\\\(escaped){\(name)}"
            } else {
                output += "\\\(escaped)"
            }
        }
        return output.replacing("(?P<", with: "(?<")
    }
}
