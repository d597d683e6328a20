import Foundation

/// The decoded answer of `etcdctl get "" --prefix -w json`: every key and value, and the
/// header revision.
struct StoreDump: Equatable, CustomStringConvertible {
    var revision: Int
    var pairs: [String: String]
    var raw: String

    static func == (lhs: StoreDump, rhs: StoreDump) -> Bool {
        lhs.revision == rhs.revision && lhs.raw == rhs.raw
    }

    var description: String { "revision \(revision), \(pairs.count) keys\n\(raw.truncatedForReport())" }

    /// Reads the whole key space of `server`.
    static func read(_ server: ServerProcess) throws -> StoreDump {
        let result = try Etcdctl.run(endpoint: server.endpoint, ["get", "", "--prefix", "-w", "json"])
        guard result.exitCode == 0, let object = JSONNormalizer.object(result.stdout),
            let header = object["header"] as? [String: Any],
            let revision = (header["revision"] as? NSNumber)?.intValue
        else {
            throw HarnessError("could not dump \(server.name) on \(server.endpoint): \(result)")
        }
        var pairs: [String: String] = [:]
        for case let kv as [String: Any] in object["kvs"] as? [Any] ?? [] {
            let key = decode(kv["key"] as? String)
            pairs[key] = decode(kv["value"] as? String)
        }
        return StoreDump(
            revision: revision, pairs: pairs,
            raw: JSONNormalizer.canonicalJSON(result.stdout) ?? result.stdout)
    }

    private static func decode(_ base64: String?) -> String {
        guard let base64, let data = Data(base64Encoded: base64) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// The header revision of a `-w json` answer.
func headerRevision(_ result: EtcdctlResult) -> Int? {
    guard let object = JSONNormalizer.object(result.stdout),
        let header = object["header"] as? [String: Any]
    else { return nil }
    return (header["revision"] as? NSNumber)?.intValue
}
