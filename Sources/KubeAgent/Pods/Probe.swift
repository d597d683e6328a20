import Foundation
import GRPCWire
import KubeAPI

/// One of a container's probes (startup, readiness, liveness) with the kubelet's timings and thresholds, and one
/// check of it: `exec` inside the container, `httpGet` (2xx and 3xx pass) and `tcpSocket` against the pod's
/// address, `grpc` through the standard health service.
struct Probe: Sendable {
    enum Action: Sendable {
        case exec([String])
        case http(host: String?, port: Int, path: String, scheme: String, headers: [(String, String)])
        case tcp(host: String?, port: Int)
        case grpc(port: Int, service: String?)
    }

    var action: Action
    var initialDelay: Duration
    var period: Duration
    var timeout: Duration
    var successThreshold: Int
    var failureThreshold: Int

    /// Reads a probe from the container spec; named ports are looked up in the container's ports.
    init?(_ json: JSONValue?, container: JSONValue) {
        guard let json else { return nil }
        func port(_ value: JSONValue?) -> Int? {
            if let number = value?.intValue { return Int(number) }
            guard let name = value?.stringValue else { return nil }
            return (container["ports"]?.arrayValue ?? []).first { $0["name"]?.stringValue == name }?["containerPort"]?
                .intValue.map(Int.init)
        }
        if let command = json[path: "exec", "command"]?.arrayValue {
            action = .exec(command.compactMap(\.stringValue))
        } else if let http = json["httpGet"], let number = port(http["port"]) {
            let headers = (http["httpHeaders"]?.arrayValue ?? []).compactMap { header -> (String, String)? in
                guard let name = header["name"]?.stringValue else { return nil }
                return (name, header["value"]?.stringValue ?? "")
            }
            action = .http(
                host: http["host"]?.stringValue, port: number, path: http["path"]?.stringValue ?? "/",
                scheme: http["scheme"]?.stringValue ?? "HTTP", headers: headers)
        } else if let tcp = json["tcpSocket"], let number = port(tcp["port"]) {
            action = .tcp(host: tcp["host"]?.stringValue, port: number)
        } else if let grpc = json["grpc"], let number = grpc["port"]?.intValue {
            action = .grpc(port: Int(number), service: grpc["service"]?.stringValue)
        } else {
            return nil
        }
        initialDelay = .seconds(json["initialDelaySeconds"]?.intValue ?? 0)
        period = .seconds(max(1, json["periodSeconds"]?.intValue ?? 10))
        timeout = .seconds(max(1, json["timeoutSeconds"]?.intValue ?? 1))
        successThreshold = Int(max(1, json["successThreshold"]?.intValue ?? 1))
        failureThreshold = Int(max(1, json["failureThreshold"]?.intValue ?? 3))
    }

    /// Runs the check once: nil when it passed, else why it failed (the kubelet's event message).
    func check(podIP: String, enter: [String]) async -> String? {
        switch action {
        case .exec(let command):
            return await Self.exec(enter + command, timeout: timeout)
        case .http(let host, let port, let path, let scheme, let headers):
            guard scheme.uppercased() == "HTTP" else { return "HTTPS probes are not supported by this node" }
            return await Self.http(host: host ?? podIP, port: port, path: path, headers: headers, timeout: timeout)
        case .tcp(let host, let port):
            return await Self.tcp(host: host ?? podIP, port: port, timeout: timeout)
        case .grpc(let port, let service):
            return await Self.grpc(host: podIP, port: port, service: service, timeout: timeout)
        }
    }

    /// The gRPC health service (`grpc.health.v1.Health/Check`) over plaintext HTTP/2, as the kubelet's probe:
    /// SERVING passes, anything else fails with the kubelet's words.
    static func grpc(host: String, port: Int, service: String?, timeout: Duration) async -> String? {
        var configuration = GRPCClientConfiguration(host: host, port: port)
        configuration.connectTimeout = timeout
        let client: GRPCClient
        do {
            client = try await GRPCClient.connect(configuration)
        } catch {
            return "timeout: failed to connect service \"\(host):\(port)\" within \(timeout.components.seconds)s"
        }
        defer { Task { await client.close() } }
        // HealthCheckRequest { string service = 1; }
        let name = Array((service ?? "").utf8)
        let request: [UInt8] = name.isEmpty ? [] : [0x0a] + varint(UInt64(name.count)) + name
        do {
            let answer = try await client.unary("/grpc.health.v1.Health/Check", request: request, timeout: timeout)
            // HealthCheckResponse { ServingStatus status = 1; } SERVING = 1.
            let status = answer.count >= 2 && answer[0] == 0x08 ? Int(answer[1]) : 0
            guard status == 1 else {
                let names = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"]
                return "service unhealthy (responded with \"\(status < names.count ? names[status] : "UNKNOWN")\")"
            }
            return nil
        } catch let status as GRPCStatus {
            return "rpc error: code = \(status.code) desc = \(status.message)"
        } catch {
            return "rpc error: \(error)"
        }
    }

    private static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        return bytes + [UInt8(value)]
    }

    static func exec(_ argv: [String], timeout: Duration) async -> String? {
        await Task.detached {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = argv
            process.environment = ["PATH": ContainerLaunch.defaultPath]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            process.standardInput = FileHandle.nullDevice
            do { try process.run() } catch { return "exec failed: \(error)" }
            let deadline = Date().addingTimeInterval(Double(timeout.components.seconds))
            while process.isRunning, Date() < deadline { usleep(5000) }
            if process.isRunning {
                process.terminate()
                kill(process.processIdentifier, SIGKILL)
                return "command timed out"
            }
            let text = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
            return process.terminationStatus == 0 ? nil : text.trimmingCharacters(in: .whitespacesAndNewlines)
        }.value
    }

    /// Connects (blocking, in a detached task) with a deadline; answers the socket or an error text.
    static func connect(host: String, port: Int, timeout: Duration) -> (Int32, String?) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return (-1, "socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            return (-1, "bad address \(host)")
        }
        var seconds = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 {
            let reason = String(cString: strerror(errno))
            close(fd)
            return (-1, "dial tcp \(host):\(port): connect: \(reason)")
        }
        return (fd, nil)
    }

    static func tcp(host: String, port: Int, timeout: Duration) async -> String? {
        await Task.detached {
            let (fd, error) = connect(host: host, port: port, timeout: timeout)
            if fd >= 0 { close(fd) }
            return error
        }.value
    }

    static func http(host: String, port: Int, path: String, headers: [(String, String)], timeout: Duration) async
        -> String?
    {
        await Task.detached {
            let (fd, error) = connect(host: host, port: port, timeout: timeout)
            guard fd >= 0 else { return "Get \"http://\(host):\(port)\(path)\": \(error ?? "")" }
            defer { close(fd) }
            var request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUser-Agent: kube-probe/1.33\r\n"
            for (name, value) in headers { request += "\(name): \(value)\r\n" }
            request += "Connection: close\r\n\r\n"
            let bytes = Array(request.utf8)
            guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count
            else { return "Get \"http://\(host):\(port)\(path)\": write failed" }
            var buffer = [UInt8](repeating: 0, count: 512)
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 12 else { return "Get \"http://\(host):\(port)\(path)\": no response" }
            let line = String(decoding: buffer[..<count], as: UTF8.self)
            let parts = line.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, let code = Int(parts[1]) else { return "malformed HTTP response" }
            return (200..<400).contains(code) ? nil : "HTTP probe failed with statuscode: \(code)"
        }.value
    }
}
