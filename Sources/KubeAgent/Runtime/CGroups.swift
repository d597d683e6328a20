import Foundation

/// A container's control group, on cgroup v1 (one directory per controller: memory, cpu, pids) or v2 (one
/// unified directory): limits, who is inside, whether the kernel OOM-killed it. Laid out as
/// `kelson-<instance>/<pod uid>/<container>` under each hierarchy, so an agent finds everything it started
/// (also after a crash) and two agents on one machine never share one.
struct CGroup: Sendable {
    enum Version: Sendable { case v1, v2 }

    static let root = "/sys/fs/cgroup"
    static let version: Version = FileManager.default.fileExists(atPath: root + "/cgroup.controllers") ? .v2 : .v1
    static let v1Controllers = ["memory", "cpu", "pids"]

    /// `kelson-<instance>/<pod>/<container>`.
    let relativePath: String

    /// The directories that hold this group (one per controller on v1).
    var directories: [String] {
        switch Self.version {
        case .v2: [Self.root + "/" + relativePath]
        case .v1:
            Self.v1Controllers.map { Self.root + "/" + $0 }.filter { FileManager.default.fileExists(atPath: $0) }
                .map { $0 + "/" + relativePath }
        }
    }

    /// Files a process writes `0` into to join the group (the start script does, so everything it runs is inside).
    var procsFiles: [String] { directories.map { $0 + "/cgroup.procs" } }

    /// Creates the group with the limits: `memory` in bytes, `cpuMillis` in thousandths of a core.
    func create(memoryLimit: Int64?, cpuMillis: Int64?) throws {
        if Self.version == .v2 { try Self.enableControllers(upTo: relativePath) }
        for directory in directories {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let period: Int64 = 100_000
        switch Self.version {
        case .v1:
            if let memoryLimit { try write("memory", "memory.limit_in_bytes", String(memoryLimit)) }
            if let cpuMillis {
                try write("cpu", "cpu.cfs_period_us", String(period))
                try write("cpu", "cpu.cfs_quota_us", String(max(1000, cpuMillis * period / 1000)))
            }
        case .v2:
            if let memoryLimit {
                try write(nil, "memory.max", String(memoryLimit))
                try? write(nil, "memory.swap.max", "0")
            }
            if let cpuMillis { try write(nil, "cpu.max", "\(max(1000, cpuMillis * period / 1000)) \(period)") }
        }
    }

    private func write(_ controller: String?, _ file: String, _ value: String) throws {
        let directory =
            controller.map { Self.root + "/" + $0 + "/" + relativePath } ?? Self.root + "/" + relativePath
        try value.write(toFile: directory + "/" + file, atomically: false, encoding: .utf8)
    }

    /// v2 hands controllers down level by level through `cgroup.subtree_control`.
    private static func enableControllers(upTo relativePath: String) throws {
        var path = root
        for component in relativePath.split(separator: "/").dropLast() {
            try? "+memory +cpu +pids".write(
                toFile: path + "/cgroup.subtree_control", atomically: false, encoding: .utf8)
            path += "/" + component
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        try? "+memory +cpu +pids".write(toFile: path + "/cgroup.subtree_control", atomically: false, encoding: .utf8)
    }

    /// Every process in the group (host PIDs).
    var processes: [Int32] {
        var found = Set<Int32>()
        for file in procsFiles {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") { if let pid = Int32(line) { found.insert(pid) } }
        }
        return found.sorted()
    }

    /// How many times the kernel's OOM killer struck inside this group.
    var oomKills: Int {
        let file =
            Self.version == .v1
            ? Self.root + "/memory/" + relativePath + "/memory.oom_control"
            : Self.root + "/" + relativePath + "/memory.events"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("oom_kill ") {
            return Int(line.dropFirst("oom_kill ".count)) ?? 0
        }
        return 0
    }

    /// SIGKILLs everything inside, waits until the group is empty (bounded), then removes it.
    func destroy() {
        for _ in 0..<100 {
            let pids = processes
            if pids.isEmpty { break }
            for pid in pids { kill(pid, SIGKILL) }
            usleep(10_000)
        }
        for directory in directories { Self.removeTree(directory) }
    }

    /// Removes a cgroup directory and its children, deepest first (cgroup directories go with rmdir only).
    static func removeTree(_ directory: String) {
        if let children = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for child in children {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: directory + "/" + child, isDirectory: &isDirectory),
                    isDirectory.boolValue
                {
                    removeTree(directory + "/" + child)
                }
            }
        }
        rmdir(directory)
    }

    /// Every container group an agent left under `kelson-<instance>` (after a crash): `pod/container` paths.
    static func leftovers(instance: String) -> [CGroup] {
        let base = "kelson-\(instance)"
        let top = version == .v2 ? root + "/" + base : root + "/memory/" + base
        guard let pods = try? FileManager.default.contentsOfDirectory(atPath: top) else { return [] }
        var groups: [CGroup] = []
        for pod in pods where !pod.hasPrefix("cgroup.") && !pod.contains(".") {
            let containers = (try? FileManager.default.contentsOfDirectory(atPath: top + "/" + pod)) ?? []
            for container in containers {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: top + "/" + pod + "/" + container, isDirectory: &isDirectory),
                    isDirectory.boolValue
                {
                    groups.append(CGroup(relativePath: "\(base)/\(pod)/\(container)"))
                }
            }
        }
        return groups
    }

    /// Removes `kelson-<instance>` under every hierarchy (after its containers are gone).
    static func removeInstance(_ instance: String) {
        let tops =
            version == .v2
            ? [root + "/kelson-\(instance)"] : v1Controllers.map { root + "/" + $0 + "/kelson-\(instance)" }
        for top in tops { removeTree(top) }
    }
}
