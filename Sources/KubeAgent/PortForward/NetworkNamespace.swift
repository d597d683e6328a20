import Foundation
import Glibc

/// Connects a TCP socket from inside the network namespace at `path` (`/run/netns/<name>`, or `/proc/self/ns/net`
/// for the host's) to `host:port`, and returns its descriptor (close-on-exec, blocking), usable from any thread.
/// The connect happens on a short-lived thread of its own that joins the namespace first: `setns` moves only the
/// calling thread, and that thread ends right after, so no other work ever runs in the pod's namespace. Blocks the
/// caller until connected or refused.
public func connectInNetworkNamespace(path: String, host: String = "127.0.0.1", port: UInt16) throws -> Int32 {
    let result = NamespaceConnect(path: path, host: host, port: port)
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        result.run()
        done.signal()
    }
    thread.name = "netns-connect"
    thread.start()
    done.wait()
    return try result.outcome!.get()
}

/// The same, waiting without holding a thread of the caller's pool.
public func connectInNetworkNamespace(path: String, host: String = "127.0.0.1", port: UInt16) async throws -> Int32 {
    let result = NamespaceConnect(path: path, host: host, port: port)
    return try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            result.run()
            continuation.resume(with: result.outcome!)
        }
        thread.name = "netns-connect"
        thread.start()
    }
}

/// Why a connection in a namespace failed, worded like Go's dial errors (what kubectl prints).
public struct NamespaceConnectError: Error, CustomStringConvertible {
    public let description: String
}

/// One connect attempt; its outcome is written by the connecting thread before it signals, read after.
private final class NamespaceConnect: @unchecked Sendable {
    let path: String
    let host: String
    let port: UInt16
    var outcome: Result<Int32, NamespaceConnectError>?

    init(path: String, host: String, port: UInt16) {
        self.path = path
        self.host = host
        self.port = port
    }

    func run() {
        outcome = Result { () throws(NamespaceConnectError) -> Int32 in try connect() }
    }

    private func connect() throws(NamespaceConnectError) -> Int32 {
        let namespace = open(path, O_RDONLY | O_CLOEXEC)
        guard namespace >= 0 else { throw failure("open \(path)") }
        defer { close(namespace) }
        guard let setns = NetworkNamespaceCalls.setns, setns(namespace, NetworkNamespaceCalls.cloneNewNet) == 0 else {
            throw failure("setns \(path)")
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw NamespaceConnectError(description: "dial tcp4 \(host):\(port): invalid address")
        }
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw failure("socket") }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            close(socket)
            throw NamespaceConnectError(
                description: "dial tcp4 \(host):\(port): connect: \(String(cString: strerror(code)).lowercased())")
        }
        return socket
    }

    private func failure(_ call: String) -> NamespaceConnectError {
        NamespaceConnectError(description: "\(call): \(String(cString: strerror(errno)))")
    }
}

/// `setns(2)`, which Swift's Glibc module does not show (it needs `_GNU_SOURCE`), looked up by name.
enum NetworkNamespaceCalls {
    typealias SetNamespace = @convention(c) (CInt, CInt) -> CInt
    static let cloneNewNet: CInt = 0x4000_0000

    static let setns: SetNamespace? = {
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { return nil }
        return unsafeBitCast(address, to: SetNamespace.self)
    }()
}
