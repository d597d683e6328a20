import Foundation

/// Turns etcdctl output into a form that is equal for etcd and Kelson when they behave alike.
enum JSONNormalizer {
    /// Header fields that identify the cluster/member/term rather than the data.
    static let droppedKeys: Set<String> = ["cluster_id", "member_id", "raft_term"]

    /// Parses `text` as JSON, drops `droppedKeys` at every depth, and re-serialises it with
    /// sorted keys. Returns nil when `text` is not JSON.
    static func canonicalJSON(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let first = trimmed.first, first == "{" || first == "[" else { return nil }
        guard
            let object = try? JSONSerialization.jsonObject(
                with: Data(trimmed.utf8), options: [.fragmentsAllowed])
        else { return nil }
        let stripped = strip(object)
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: stripped, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses JSON output into a dictionary (nil when it is not a JSON object).
    static func object(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    static func strip(_ value: Any) -> Any {
        if let dictionary = value as? [String: Any] {
            var result: [String: Any] = [:]
            for (key, element) in dictionary where !droppedKeys.contains(key) {
                result[key] = strip(element)
            }
            return result
        }
        if let array = value as? [Any] { return array.map(strip) }
        return value
    }

    /// Standard output: canonical JSON when it parses, else the text with trailing whitespace
    /// removed from each line and trailing blank lines dropped.
    static func normalizedStdout(_ text: String) -> String {
        canonicalJSON(text) ?? trimLines(text)
    }

    /// Standard error without the Go client's timestamped log lines. The `{"level":...}` lines
    /// of the client's retry interceptor are replaced by their (deterministic) `error` field,
    /// e.g. `[client] rpc error: code = OutOfRange desc = etcdserver: ...`, so that the gRPC
    /// status code is compared too; their timestamps and client ids are dropped.
    static func normalizedStderr(_ text: String) -> String {
        var lines: [String] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw).trimmingTrailingWhitespace()
            if line.hasPrefix("{\"level\"") {
                if let log = object(line), let error = log["error"] as? String {
                    let entry = "[client] \(error)"
                    if lines.last != entry { lines.append(entry) }
                }
                continue
            }
            if line.range(of: #"^\d{4}[-/]\d{2}[-/]\d{2}[ T]\d{2}:\d{2}"#, options: .regularExpression) != nil {
                continue
            }
            lines.append(line)
        }
        return trimLines(lines.joined(separator: "\n"))
    }

    static func trimLines(_ text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0).trimmingTrailingWhitespace() }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var end = endIndex
        while end > startIndex, let scalar = self[index(before: end)].unicodeScalars.first,
            CharacterSet.whitespacesAndNewlines.contains(scalar)
        {
            end = index(before: end)
        }
        return String(self[startIndex..<end])
    }
}
