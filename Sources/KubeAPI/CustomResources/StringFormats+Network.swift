// The network formats of kube-openapi's strfmt (default.go and its govalidator copy):
// - ipv4: k8s.io/utils/net.ParseIPSloppy succeeds (leading zeros allowed) and the text has a "." (so an
//   IPv4-mapped IPv6 address passes, as upstream);
// - ipv6: Go's net.ParseIP succeeds (strict: at most four hex digits a group, no zone) and the text has a ":";
// - cidr: ParseCIDRSloppy; mac: net.ParseMAC (6, 8 or 20 octets, `:`/`-` pairs or `.` quads);
// - hostname: strfmt's HostnamePattern, at most 255 bytes, labels at most 63 bytes;
// - uri: net/url.ParseRequestURI's rules (an absolute URI or an absolute path), email: an addr-spec, optionally
//   inside `Name <...>` — both simplified from Go's parsers, which accept a little more.

enum NetworkFormats {
    static let hostnamePattern =
        #"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|"#
        + #"([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}"#
        + #"([a-zA-Z\p{L}]){2,63})$"#

    static func isIPv4(_ text: String) -> Bool { parseIPSloppy(Array(text.utf8)) && text.contains(".") }

    static func isIPv6(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        let valid =
            bytes.contains(UInt8(ascii: ":"))
            ? parseIPv6(bytes[...], strict: true) : parseIPv4(bytes[...], strict: true)
        return valid && text.contains(":")
    }

    static func isCIDR(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else { return false }
        let address = bytes[..<slash]
        let mask = bytes[(slash + 1)...]
        let bits: Int
        if parseIPv4(address, strict: false) {
            bits = 32
        } else if parseIPv6(address, strict: false) {
            bits = 128
        } else {
            return false
        }
        guard !mask.isEmpty, mask.count < 8, mask.allSatisfy(StringFormats.isDigit) else { return false }
        return mask.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } <= bits
    }

    /// net.ParseMAC.
    static func isMAC(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= 14 else { return false }
        let groupLength: Int
        let separator: UInt8
        if bytes[2] == UInt8(ascii: ":") || bytes[2] == UInt8(ascii: "-") {
            guard (bytes.count + 1) % 3 == 0 else { return false }
            groupLength = 2
            separator = bytes[2]
        } else if bytes[4] == UInt8(ascii: ".") {
            guard (bytes.count + 1) % 5 == 0 else { return false }
            groupLength = 4
            separator = UInt8(ascii: ".")
        } else {
            return false
        }
        let groups = bytes.split(separator: separator, omittingEmptySubsequences: false)
        let octets = groups.count * groupLength / 2
        guard [6, 8, 20].contains(octets) else { return false }
        return groups.allSatisfy { $0.count == groupLength && $0.allSatisfy(StringFormats.isHexDigit) }
    }

    static func isHostname(_ text: String, patterns: PatternMatcher) -> Bool {
        guard patterns.matches(text, pattern: hostnamePattern), text.utf8.count <= 255 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { $0.utf8.count <= 63 }
    }

    /// net/url.ParseRequestURI, simplified: no control bytes, then `*`, an absolute path, or `scheme:rest` where
    /// an authority's port is numeric and percent escapes are well formed.
    static func isRequestURI(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return false }
        if text == "*" { return true }
        var rest = bytes[...]
        var hasScheme = false
        for (offset, byte) in bytes.enumerated() {
            let isLetter = (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
            if isLetter { continue }
            if StringFormats.isDigit(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: ".")
            {
                if offset == 0 { break }
                continue
            }
            if byte == UInt8(ascii: ":") {
                guard offset > 0 else { return false }
                hasScheme = true
                rest = bytes[(offset + 1)...]
            }
            break
        }
        if let question = rest.firstIndex(of: UInt8(ascii: "?")) { rest = rest[..<question] }
        guard rest.first == UInt8(ascii: "/") else { return hasScheme }
        if hasScheme, rest.starts(with: Array("//".utf8)) {
            let authority = rest.dropFirst(2).prefix { $0 != UInt8(ascii: "/") }
            guard isAuthority(authority) else { return false }
            rest = rest.dropFirst(2 + authority.count)
        }
        return hasValidEscapes(rest)
    }

    private static func isAuthority(_ authority: ArraySlice<UInt8>) -> Bool {
        var host = authority
        if let at = authority.lastIndex(of: UInt8(ascii: "@")) { host = authority[(at + 1)...] }
        if host.first == UInt8(ascii: "[") {
            guard let close = host.firstIndex(of: UInt8(ascii: "]")) else { return false }
            host = host[(close + 1)...]
            guard let colon = host.first else { return true }
            return colon == UInt8(ascii: ":") && host.dropFirst().allSatisfy(StringFormats.isDigit)
        }
        if let colon = host.lastIndex(of: UInt8(ascii: ":")) {
            guard host[(colon + 1)...].allSatisfy(StringFormats.isDigit) else { return false }
            host = host[..<colon]
        }
        return hasValidEscapes(host) && !host.contains(UInt8(ascii: " "))
    }

    private static func hasValidEscapes(_ bytes: ArraySlice<UInt8>) -> Bool {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex, StringFormats.isHexDigit(bytes[index + 1]),
                    StringFormats.isHexDigit(bytes[index + 2])
                else { return false }
                index += 3
            } else {
                index += 1
            }
        }
        return true
    }

    /// net/mail.ParseAddress, simplified: `local@domain` (dot-atoms or a quoted local part, a domain literal in
    /// brackets), optionally as `Display Name <local@domain>`.
    static func isEmail(_ text: String) -> Bool {
        var address = Substring(text).trimmingWhitespace()
        if address.last == ">", let open = address.lastIndex(of: "<") {
            address = address[address.index(after: open)..<address.index(before: address.endIndex)]
        }
        guard let at = address.lastIndex(of: "@") else { return false }
        let local = address[..<at]
        let domain = address[address.index(after: at)...]
        let localValid =
            (local.count >= 2 && local.first == "\"" && local.last == "\"") || isDotAtom(local)
        let domainValid = (domain.first == "[" && domain.last == "]") || isDotAtom(domain)
        return localValid && domainValid
    }

    private static func isDotAtom(_ text: Substring) -> Bool {
        let atomSymbols = Set("!#$%&'*+-/=?^_`{|}~")
        let atoms = text.split(separator: ".", omittingEmptySubsequences: false)
        return atoms.allSatisfy { atom in
            !atom.isEmpty
                && atom.unicodeScalars.allSatisfy { scalar in
                    !scalar.isASCII || scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                        || atomSymbols.contains(Character(scalar))
                }
        }
    }

    /// k8s.io/utils/net.ParseIPSloppy: the first "." or ":" decides between IPv4 and IPv6.
    private static func parseIPSloppy(_ bytes: [UInt8]) -> Bool {
        guard let separator = bytes.first(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") }) else {
            return false
        }
        return separator == UInt8(ascii: ".")
            ? parseIPv4(bytes[...], strict: false) : parseIPv6(bytes[...], strict: false)
    }

    /// Four decimal fields up to 255; strict (Go's netip) refuses leading zeros and more than three digits.
    static func parseIPv4(_ bytes: ArraySlice<UInt8>, strict: Bool) -> Bool {
        let fields = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard fields.count == 4 else { return false }
        return fields.allSatisfy { field in
            guard !field.isEmpty, field.allSatisfy(StringFormats.isDigit) else { return false }
            if strict, field.count > 3 || (field.count > 1 && field.first == UInt8(ascii: "0")) { return false }
            guard field.count < 8 else { return false }
            return field.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } <= 255
        }
    }

    /// Hex groups with one optional `::` and an optional trailing IPv4 part; strict allows four digits a group.
    static func parseIPv6(_ bytes: ArraySlice<UInt8>, strict: Bool) -> Bool {
        var rest = bytes
        var ellipsis = false
        var groups = 0
        if rest.starts(with: [58, 58]) {
            ellipsis = true
            rest = rest.dropFirst(2)
            if rest.isEmpty { return true }
        }
        while groups < 8 {
            let digits = rest.prefix(while: StringFormats.isHexDigit)
            guard !digits.isEmpty, !strict || digits.count <= 4 else { return false }
            if digits.endIndex < rest.endIndex, rest[digits.endIndex] == UInt8(ascii: ".") {
                guard ellipsis || groups == 6, groups + 2 <= 8, parseIPv4(rest, strict: strict) else { return false }
                groups += 2
                rest = rest[rest.endIndex...]
                break
            }
            guard digits.reduce(0, { min($0 * 16 + Int(hexValue($1)), 0x1_0000) }) <= 0xFFFF else { return false }
            groups += 1
            rest = rest[digits.endIndex...]
            if rest.isEmpty { break }
            guard rest.first == UInt8(ascii: ":"), rest.count > 1 else { return false }
            rest = rest.dropFirst()
            if rest.first == UInt8(ascii: ":") {
                guard !ellipsis else { return false }
                ellipsis = true
                rest = rest.dropFirst()
                if rest.isEmpty { break }
            }
        }
        guard rest.isEmpty else { return false }
        return ellipsis ? groups < 8 : groups == 8
    }

    private static func hexValue(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: byte - UInt8(ascii: "A") + 10
        }
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var result = self
        while let first = result.first, first.isWhitespace { result = result.dropFirst() }
        while let last = result.last, last.isWhitespace { result = result.dropLast() }
        return result
    }
}
