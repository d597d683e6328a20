import Foundation

/// Everything needed to start one container's process, and the shell script that does it. The script runs
/// inside fresh PID and mount namespaces (`unshare`), after joining the pod's network, UTS and IPC namespaces
/// (`nsenter`): it joins the container's cgroup, builds the container's root as an overlay whose lower layer is
/// the host's root filesystem (there are no images: the host's programs are the container's, and every write
/// lands in the container's own upper layer), mounts `/proc`, `/dev`, `/sys`, a private `/tmp` and `/run`, binds the
/// volumes at their paths, and execs the command in that root with exactly the container's environment.
struct ContainerLaunch: Sendable {
    struct Mount: Sendable, Equatable {
        var source: String
        var target: String
        var readOnly = false
    }

    /// `<pod dir>/containers/<name>`: the script, the overlay's upper and work layers, the mounted root.
    var directory: String
    var argv: [String]
    var environment: [(String, String)]
    var workingDirectory: String?
    var user: (uid: Int64, gid: Int64?)?
    var mounts: [Mount] = []
    /// Paths of the pod's namespaces to join; nil: the host's (hostNetwork, or isolation off).
    var networkNamespace: String?
    var utsNamespace: String?
    var ipcNamespace: String?
    var cgroup: CGroup
    /// False with `--agent-isolation none`: the command runs on the host as is (cgroup and environment only).
    var isolated: Bool

    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    var rootDirectory: String { directory + "/rootfs" }

    /// The process to spawn: `nsenter` into the pod's namespaces, `unshare` new PID and mount namespaces, then
    /// the script. `unshare --kill-child` makes the container's init die with it.
    var command: [String] {
        let script = ["/bin/sh", directory + "/start.sh"]
        guard isolated else { return script }
        var enter = ["nsenter"]
        if let networkNamespace { enter.append("--net=\(networkNamespace)") }
        if let utsNamespace { enter.append("--uts=\(utsNamespace)") }
        if let ipcNamespace { enter.append("--ipc=\(ipcNamespace)") }
        let unshare = ["unshare", "--pid", "--fork", "--kill-child", "--mount", "--propagation", "private"]
        return (enter.count > 1 ? enter + ["--"] : []) + unshare + ["--"] + script
    }

    /// The start script (see the type's comment).
    var script: String {
        let q = HostCommand.quote
        var lines = ["set -e"]
        for file in cgroup.procsFiles { lines.append("echo 0 > \(q(file))") }
        var environment = environment
        if !environment.contains(where: { $0.0 == "PATH" }) { environment.insert(("PATH", Self.defaultPath), at: 0) }
        let assignments = environment.map { q("\($0.0)=\($0.1)") }.joined(separator: " ")
        let workingDirectory = workingDirectory.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        let exec = "/usr/bin/env -i -C \(q(workingDirectory)) \(assignments) \(argv.map(q).joined(separator: " "))"
        guard isolated else {
            lines.append("exec \(exec)")
            return lines.joined(separator: "\n") + "\n"
        }
        let root = rootDirectory
        lines.append(
            "mount -t overlay overlay -o lowerdir=/,upperdir=\(q(directory + "/upper")),workdir=\(q(directory + "/work")) \(q(root))"
        )
        lines.append("mount -t proc proc \(q(root + "/proc"))")
        lines.append("mount --rbind /dev \(q(root + "/dev"))")
        lines.append("mount --rbind /sys \(q(root + "/sys"))")
        lines.append("mount -t tmpfs -o mode=1777 tmpfs \(q(root + "/tmp"))")
        lines.append("mount -t tmpfs -o mode=755 tmpfs \(q(root + "/run"))")
        for mount in mounts {
            let target = q(root + Self.resolve(mount.target))
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: mount.source, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                lines.append("mkdir -p \(target)")
            } else {
                lines.append("mkdir -p \"$(dirname \(target))\"; [ -e \(target) ] || : > \(target)")
            }
            lines.append("mount --bind \(q(mount.source)) \(target)")
            if mount.readOnly { lines.append("mount -o remount,bind,ro \(target)") }
        }
        var chroot = "chroot"
        if let user {
            chroot += " --userspec=\(user.uid):\(user.gid ?? user.uid)"
        }
        lines.append("exec \(chroot) \(q(root)) \(exec)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The argv prefix that runs a command inside this container, whose PID 1 on the host is `pid`: it joins the
    /// container's cgroup, then enters its namespaces, root and working directory.
    func enterPrefix(pid: Int32) -> [String] {
        let join = cgroup.procsFiles.map { "echo 0 > \(HostCommand.quote($0))" }.joined(separator: "; ")
        let enter =
            isolated
            ? [
                "nsenter", "--target", String(pid), "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd",
                "--",
            ]
            : []
        return ["/bin/sh", "-c", (join.isEmpty ? "" : join + "; ") + "exec \"$@\"", "sh"] + enter
    }

    /// `path` as it resolves inside the container, whose lower layer is the host's root: symlinks on the way are
    /// followed, absolute ones from the container's root (so `/var/run/secrets` lands in the container's `/run`,
    /// never in the host's).
    static func resolve(_ path: String) -> String {
        var pending = path.split(separator: "/").map(String.init)
        var resolved: [String] = []
        var hops = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." || component.isEmpty { continue }
            if component == ".." {
                _ = resolved.popLast()
                continue
            }
            let candidate = "/" + (resolved + [component]).joined(separator: "/")
            if hops < 40, let target = try? FileManager.default.destinationOfSymbolicLink(atPath: candidate) {
                hops += 1
                if target.hasPrefix("/") { resolved = [] }
                pending = target.split(separator: "/").map(String.init) + pending
                continue
            }
            resolved.append(component)
        }
        return "/" + resolved.joined(separator: "/")
    }

    /// Writes the script and makes the directories the overlay needs; a restarted container starts from a clean
    /// upper layer, as a new container from its image would.
    func prepare() throws {
        for path in [directory + "/upper", directory + "/work"] { try? FileManager.default.removeItem(atPath: path) }
        for path in [directory + "/upper", directory + "/work", rootDirectory] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        try script.write(toFile: directory + "/start.sh", atomically: true, encoding: .utf8)
    }
}
