import Foundation
import KubeAPI

/// How objects sit in the store (the on-disk format of `kelson server`, kept forever): one JSON document per key
/// at kube-apiserver's key layout (`ResourceType.key`), in the kind's stable version, with
/// `metadata.resourceVersion` left out, as kube-apiserver leaves it out: the resource version *is* the key's mod
/// revision, filled in on every read.
///
/// The stored JSON always begins `{"apiVersion":…,"kind":…,"metadata":{`, so a list can be answered by splicing
/// each object's resource version into its bytes (`spliced`) without parsing it.
enum StoredForm {
    static func encode(_ object: JSONValue) -> [UInt8] {
        guard case .object(let fields) = object else { return object.serialized() }
        var ordered = JSONObject()
        for key in ["apiVersion", "kind", "metadata"] { ordered[key] = fields[key] }
        if ordered["metadata"] == nil { ordered["metadata"] = .object(JSONObject()) }
        for (key, value) in fields where ordered[key] == nil { ordered[key] = value }
        var stored = JSONValue.object(ordered)
        stored[path: "metadata", "resourceVersion"] = nil
        return stored.serialized()
    }

    /// The object's bytes as a client sees them in its stable version, with `"resourceVersion":"N"` put first in
    /// its metadata; nil when the stored bytes do not begin as `encode` writes them (then decode and re-encode).
    static func spliced(_ stored: StoredObject, resource: ResourceType) -> [UInt8]? {
        let prefix = Array(
            "{\"apiVersion\":\"\(resource.groupVersion)\",\"kind\":\"\(resource.kind)\",\"metadata\":{".utf8)
        let value = stored.value
        guard value.count > prefix.count, value.starts(with: prefix) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(value.count + 32)
        bytes += prefix
        bytes += Array("\"resourceVersion\":\"\(stored.modRevision)\"".utf8)
        if value[prefix.count] != UInt8(ascii: "}") { bytes.append(UInt8(ascii: ",")) }
        bytes += value[prefix.count...]
        return bytes
    }

    /// The object as a client sees it: its resource version filled in, in the version the client asked for.
    static func decode(_ stored: StoredObject, as version: GroupVersion, resource: ResourceType) throws(KubeError)
        -> JSONValue
    {
        var object: JSONValue
        do {
            object = try JSONValue.parse(stored.value)
        } catch {
            throw .internalError("stored object at \(stored.key) is not valid JSON: \(error)")
        }
        object[path: "metadata", "resourceVersion"] = .string(String(stored.modRevision))
        VersionViews.present(&object, as: version, resource: resource)
        return object
    }
}

/// Kelson is versionless: a kind has one stored form, and every other version it is served at is a view of it.
/// The views differ from the stable form in `apiVersion`, and in the defaults old versions applied that the stable
/// one requires: `extensions/v1beta1`, `apps/v1beta1` and `apps/v1beta2`-era workloads without `spec.selector`
/// select their template's labels, as those versions defaulted it (so a manifest written for them applies
/// unchanged).
enum VersionViews {
    static func present(_ object: inout JSONValue, as version: GroupVersion, resource: ResourceType) {
        guard case .object(var fields) = object else { return }
        fields["apiVersion"] = .string(version.description)
        fields["kind"] = .string(resource.kind)
        // Keep kube-apiserver's key order for the two type fields: first.
        var ordered = JSONObject()
        ordered["apiVersion"] = fields["apiVersion"]
        ordered["kind"] = fields["kind"]
        for (key, value) in fields where key != "apiVersion" && key != "kind" { ordered[key] = value }
        object = .object(ordered)
    }

    /// An object a client sent in `version`, brought to the stable form.
    static func store(_ object: inout JSONValue, from version: GroupVersion, resource: ResourceType) {
        if version != resource.groupVersion, defaultsSelector(version, resource),
            object[path: "spec", "selector"] == nil,
            let labels = object[path: "spec", "template", "metadata", "labels"], labels.objectValue?.isEmpty == false
        {
            object[path: "spec", "selector"] = ["matchLabels": labels]
        }
        present(&object, as: resource.groupVersion, resource: resource)
    }

    /// The old workload versions that defaulted `spec.selector` from the pod template's labels.
    private static func defaultsSelector(_ version: GroupVersion, _ resource: ResourceType) -> Bool {
        guard ["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet"].contains(resource.kind) else { return false }
        return version == GroupVersion("extensions", "v1beta1") || version == GroupVersion("apps", "v1beta1")
    }
}

/// Times as the API writes them: RFC 3339 in UTC, whole seconds (`metav1.Time`), or microseconds (`MicroTime`).
public enum APITime {
    public static func format(_ date: Date, fractionalDigits: Int = 0) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var text = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        if fractionalDigits > 0 {
            let fraction = date.timeIntervalSince1970 - Double(seconds)
            let scaled = Int((fraction * pow(10, Double(fractionalDigits))).rounded(.down))
            text += "." + String(format: "%0\(fractionalDigits)d", scaled)
        }
        return text + "Z"
    }

    /// RFC 3339 as the API writes it, read by hand: controllers parse times on every reconcile, and a
    /// formatter per call cost more than the rest of a reconcile. Other spellings (offsets) go to Foundation.
    public static func parse(_ text: String) -> Date? {
        if let date = parseUTC(Array(text.utf8)) { return date }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, or nil.
    private static func parseUTC(_ bytes: [UInt8]) -> Date? {
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z"), bytes[4] == UInt8(ascii: "-"),
            bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"),
            bytes[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(bytes[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var fraction = 0.0
        if bytes.count > 20 {
            guard bytes[19] == UInt8(ascii: "."), bytes.count > 21, let digits = number(20..<(bytes.count - 1)) else {
                return nil
            }
            fraction = Double(digits) / pow(10, Double(bytes.count - 21))
        }
        // Days since the epoch (Howard Hinnant's days_from_civil).
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = Double(days * 86400 + hour * 3600 + minute * 60 + second)
        return Date(timeIntervalSince1970: seconds + fraction)
    }
}
