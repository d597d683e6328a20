import Foundation
import KubeAPI

/// The `continue` token of a paged list, in kube-apiserver's format (so tokens look familiar and tools that peek
/// at them keep working): URL-safe base64 without padding of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>"}`,
/// `start` relative to the listed prefix.
enum ContinueToken {
    static func encode(revision: Int64, startKey: String, prefix: String) -> String {
        let relative = startKey.hasPrefix(prefix) ? String(startKey.dropFirst(prefix.count)) : startKey
        let token: JSONValue = ["v": "meta.k8s.io/v1", "rv": .int(revision), "start": .string(relative)]
        return Data(token.serialized()).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ token: String, prefix: String) throws(KubeError) -> (revision: Int64, startKey: String) {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let value = try? JSONValue.parse(Array(data)),
            value["v"]?.stringValue == "meta.k8s.io/v1", let revision = value["rv"]?.intValue, revision > 0,
            let start = value["start"]?.stringValue, !start.contains("..")
        else {
            throw .badRequest(
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
        }
        return (revision, prefix + start)
    }
}
