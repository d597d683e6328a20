import Foundation
import KubeAPI

/// A pod's volumes, made on the host under `<pod dir>/volumes/<name>` (hostPath ones are the host's own path),
/// and its containers' mounts of them. Files are written once when the pod starts: a ConfigMap or Secret changed
/// later is not reflected in a running pod (a restart picks it up).
struct PodVolumes {
    let pod: JSONValue
    let directory: String
    let environment: PodEnvironment
    /// Answers a TokenRequest for the pod's service account (projected `serviceAccountToken` sources).
    let token: @Sendable (_ audience: String?, _ expirationSeconds: Int64) async throws -> String

    var objects: ClusterObjects { environment.objects }
    var namespace: String { environment.namespace }

    /// Makes every volume; answers the host path of each by name.
    func materialize() async throws -> [String: String] {
        var paths: [String: String] = [:]
        for volume in pod[path: "spec", "volumes"]?.arrayValue ?? [] {
            guard let name = volume["name"]?.stringValue else { continue }
            let path = directory + "/" + name
            if let hostPath = volume["hostPath"] {
                paths[name] = try Self.hostPath(hostPath)
                continue
            }
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            paths[name] = path
            if volume["emptyDir"] != nil { continue }
            var files: [(String, [UInt8], Int?)] = []
            if let source = volume["configMap"] {
                files = try configMapFiles(source)
            } else if let source = volume["secret"] {
                files = try secretFiles(source)
            } else if let source = volume["downwardAPI"] {
                files = downwardFiles(source["items"]?.arrayValue ?? [])
            } else if let projected = volume["projected"] {
                for source in projected["sources"]?.arrayValue ?? [] {
                    if let configMap = source["configMap"] { files += try configMapFiles(configMap) }
                    if let secret = source["secret"] { files += try secretFiles(secret) }
                    if let downward = source["downwardAPI"] {
                        files += downwardFiles(downward["items"]?.arrayValue ?? [])
                    }
                    if let account = source["serviceAccountToken"] {
                        let value = try await token(
                            account["audience"]?.stringValue, account["expirationSeconds"]?.intValue ?? 3607)
                        files.append((account["path"]?.stringValue ?? "token", Array(value.utf8), nil))
                    }
                    if let trust = source["clusterTrustBundle"] {
                        throw ContainerConfigError(
                            message: "clusterTrustBundle \(trust["name"]?.stringValue ?? "") volumes are not supported")
                    }
                }
            } else {
                let kind = volume.objectValue?.keys.first { $0 != "name" } ?? "unknown"
                throw ContainerConfigError(
                    message: "volume \"\(name)\": \(kind) volumes are not supported by this node")
            }
            let mode =
                (volume[path: "configMap", "defaultMode"] ?? volume[path: "secret", "defaultMode"]
                ?? volume[path: "projected", "defaultMode"] ?? volume[path: "downwardAPI", "defaultMode"])?.intValue
            for (relative, bytes, fileMode) in files {
                let file = path + "/" + relative
                try FileManager.default.createDirectory(
                    atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(bytes).write(to: URL(fileURLWithPath: file))
                chmod(file, mode_t(fileMode ?? Int(mode ?? 0o644)))
            }
        }
        return paths
    }

    /// The container's mounts: its volumeMounts (with `subPath`), then /etc/hosts, /etc/hostname and
    /// /etc/resolv.conf from the pod directory.
    func mounts(for container: JSONValue, volumes: [String: String], podFiles: [String: String])
        throws(ContainerConfigError) -> [ContainerLaunch.Mount]
    {
        var mounts: [ContainerLaunch.Mount] = []
        let readOnlyKinds = ["configMap", "secret", "downwardAPI", "projected"]
        let specVolumes = pod[path: "spec", "volumes"]?.arrayValue ?? []
        for mount in container["volumeMounts"]?.arrayValue ?? [] {
            let name = mount["name"]?.stringValue ?? ""
            guard let source = volumes[name], let target = mount["mountPath"]?.stringValue else {
                throw ContainerConfigError(message: "cannot find volume \"\(name)\" to mount into container")
            }
            var path = source
            let environment = Dictionary(
                (try? self.environment.variables(for: container)) ?? [], uniquingKeysWith: { _, last in last })
            let subPath =
                mount["subPath"]?.stringValue
                ?? mount["subPathExpr"]?.stringValue.map { PodEnvironment.expand($0, environment) }
            if let subPath, !subPath.isEmpty {
                guard !subPath.split(separator: "/").contains(".."), !subPath.hasPrefix("/") else {
                    throw ContainerConfigError(message: "subPath \"\(subPath)\" must be a relative path without '..'")
                }
                path = source + "/" + subPath
                if !FileManager.default.fileExists(atPath: path) {
                    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                }
            }
            let volume = specVolumes.first { $0["name"]?.stringValue == name }
            let alwaysReadOnly = readOnlyKinds.contains { volume?[$0] != nil }
            mounts.append(
                .init(source: path, target: target, readOnly: alwaysReadOnly || mount["readOnly"]?.boolValue == true))
        }
        let taken = Set(mounts.map(\.target))
        for (target, source) in podFiles.sorted(by: { $0.key < $1.key }) where !taken.contains(target) {
            mounts.append(.init(source: source, target: target))
        }
        return mounts
    }

    private static func hostPath(_ source: JSONValue) throws -> String {
        let path = source["path"]?.stringValue ?? ""
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        switch source["type"]?.stringValue ?? "" {
        case "DirectoryOrCreate":
            if !exists { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        case "FileOrCreate":
            if !exists { FileManager.default.createFile(atPath: path, contents: nil) }
        case "Directory":
            guard exists, isDirectory.boolValue else {
                throw ContainerConfigError(
                    reason: "CreateContainerConfigError",
                    message: "hostPath type check failed: \(path) is not a directory")
            }
        case "File":
            guard exists, !isDirectory.boolValue else {
                throw ContainerConfigError(message: "hostPath type check failed: \(path) is not a file")
            }
        default:
            guard exists else { throw ContainerConfigError(message: "hostPath \(path) does not exist") }
        }
        return path
    }

    private func items(_ source: JSONValue, keys: [String: [UInt8]]) throws -> [(String, [UInt8], Int?)] {
        guard let items = source["items"]?.arrayValue else {
            return keys.sorted { $0.key < $1.key }.map { ($0.key, $0.value, nil) }
        }
        return try items.compactMap { item in
            let key = item["key"]?.stringValue ?? ""
            guard let bytes = keys[key] else {
                if source["optional"]?.boolValue == true { return nil }
                throw ContainerConfigError(message: "configmap references non-existent config key: \(key)")
            }
            return (item["path"]?.stringValue ?? key, bytes, item["mode"]?.intValue.map(Int.init))
        }
    }

    private func configMapFiles(_ source: JSONValue) throws -> [(String, [UInt8], Int?)] {
        let name = source["name"]?.stringValue ?? ""
        guard let object = objects.configMap(namespace, name) else {
            if source["optional"]?.boolValue == true { return [] }
            throw ContainerConfigError(message: "configmap \"\(name)\" not found")
        }
        var keys: [String: [UInt8]] = [:]
        for (key, value) in object["data"]?.objectValue ?? JSONObject() {
            keys[key] = Array((value.stringValue ?? "").utf8)
        }
        for (key, value) in object["binaryData"]?.objectValue ?? JSONObject() {
            keys[key] = value.stringValue.flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? []
        }
        return try items(source, keys: keys)
    }

    private func secretFiles(_ source: JSONValue) throws -> [(String, [UInt8], Int?)] {
        let name = source["secretName"]?.stringValue ?? source["name"]?.stringValue ?? ""
        guard let object = objects.secret(namespace, name) else {
            if source["optional"]?.boolValue == true { return [] }
            throw ContainerConfigError(message: "secret \"\(name)\" not found")
        }
        var keys: [String: [UInt8]] = [:]
        for (key, value) in object["data"]?.objectValue ?? JSONObject() {
            keys[key] = value.stringValue.flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? []
        }
        return try items(source, keys: keys)
    }

    private func downwardFiles(_ items: [JSONValue]) -> [(String, [UInt8], Int?)] {
        items.compactMap { item in
            guard let path = item["path"]?.stringValue else { return nil }
            var value: String?
            if let field = item[path: "fieldRef", "fieldPath"]?.stringValue {
                value = environment.fieldValue(field)
            } else if let reference = item["resourceFieldRef"] {
                let containers = pod[path: "spec", "containers"]?.arrayValue ?? []
                let target =
                    containers.first { $0["name"]?.stringValue == reference["containerName"]?.stringValue }
                    ?? containers.first ?? [:]
                value = environment.resourceValue(reference, container: target)
            }
            return (path, Array((value ?? "").utf8), item["mode"]?.intValue.map(Int.init))
        }
    }
}
