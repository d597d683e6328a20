import Dispatch
import Synchronization

/// A bounded pool of database connections, opened on demand and shared by both backends' readers. At most
/// `maximum` are open; a caller finding none idle and the pool full waits for one to come back. A connection
/// that is no longer usable (a lost PostgreSQL session) is closed instead of being handed out again.
package final class ConnectionPool<Connection: AnyObject & Sendable>: Sendable {
    private struct State {
        var idle: [Connection] = []
        var open = 0
        var closed = false
    }
    private let maximum: Int
    private let openConnection: @Sendable () throws(StoreError) -> Connection
    private let isUsable: @Sendable (Connection) -> Bool
    private let closeConnection: @Sendable (Connection) -> Void
    private enum Next {
        case use(Connection), open, wait, closed
    }
    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)

    package init(
        maximum: Int, open: @escaping @Sendable () throws(StoreError) -> Connection,
        isUsable: @escaping @Sendable (Connection) -> Bool = { _ in true },
        close: @escaping @Sendable (Connection) -> Void
    ) {
        self.maximum = maximum
        self.openConnection = open
        self.isUsable = isUsable
        self.closeConnection = close
    }

    /// Runs `body` with a connection taken from the pool and gives it back afterwards.
    package func with<Result>(_ body: (Connection) throws -> Result) throws -> Result {
        let connection = try take()
        defer { give(back: connection) }
        return try body(connection)
    }

    package func take() throws(StoreError) -> Connection {
        while true {
            let next: Next = state.withLock { state in
                if state.closed { return .closed }
                if let connection = state.idle.popLast() { return .use(connection) }
                if state.open < maximum {
                    state.open += 1
                    return .open
                }
                return .wait
            }
            switch next {
            case .use(let connection):
                if isUsable(connection) { return connection }
                closeConnection(connection)
                state.withLock { $0.open -= 1 }
            case .closed: throw StoreError.stopped
            case .wait: available.wait()
            case .open:
                do {
                    return try openConnection()
                } catch {
                    state.withLock { $0.open -= 1 }
                    available.signal()
                    throw error
                }
            }
        }
    }

    package func give(back connection: Connection) {
        let keep = state.withLock { state -> Bool in
            guard !state.closed && isUsable(connection) else {
                state.open -= 1
                return false
            }
            state.idle.append(connection)
            return true
        }
        if !keep { closeConnection(connection) }
        available.signal()
    }

    /// Closes the idle connections; connections in use close when given back. Later `take`s fail with `.stopped`.
    package func close() {
        let idle = state.withLock { state -> [Connection] in
            state.closed = true
            defer { state.idle = [] }
            return state.idle
        }
        idle.forEach(closeConnection)
        for _ in 0..<maximum { available.signal() }
    }
}
