import Synchronization

/// etcd's simple tokens (`auth/simple_token.go`): `<16 random letters>.<index>`, kept only in
/// memory (a restart forgets them, as etcd does), valid for `ttl` after their last use.
///
/// Bounded: at most `maximumCount` live tokens. A new token beyond that first drops expired
/// ones, then the one closest to expiry, so a client that authenticates in a loop cannot grow
/// memory. Expired tokens are dropped when seen or at that point; no background task is needed.
final class SimpleTokens: Sendable {
    private static let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    private static let prefixLength = 16

    private struct Entry {
        let user: String
        var expires: ContinuousClock.Instant
    }
    private struct State {
        var entries: [String: Entry] = [:]
        /// etcd uses the raft index at which the token was issued; Kelson counts tokens.
        var index: UInt64 = 0
    }

    private let state = Mutex(State())
    private let ttl: Duration
    private let maximumCount: Int
    private let clock: @Sendable () -> ContinuousClock.Instant

    init(
        ttl: Duration, maximumCount: Int,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.ttl = ttl
        self.maximumCount = max(maximumCount, 1)
        self.clock = now
    }

    /// A new token for `user`.
    func assign(user: String) -> String {
        let prefix = String(decoding: Self.randomLetters(), as: UTF8.self)
        let now = clock()
        return state.withLock { state in
            if state.entries.count >= maximumCount { Self.makeRoom(&state, now: now, maximumCount: maximumCount) }
            state.index += 1
            let token = "\(prefix).\(state.index)"
            state.entries[token] = Entry(user: user, expires: now + ttl)
            return token
        }
    }

    /// The user a live token belongs to; using a token extends its life (etcd's `resetSimpleToken`).
    func user(for token: String) -> String? {
        let now = clock()
        return state.withLock { state in
            guard let entry = state.entries[token] else { return nil }
            guard entry.expires > now else {
                state.entries[token] = nil
                return nil
            }
            state.entries[token]?.expires = now + ttl
            return entry.user
        }
    }

    /// Forgets every token of `user` (after its deletion or a password change).
    func invalidate(user: String) {
        state.withLock { state in state.entries = state.entries.filter { $0.value.user != user } }
    }

    /// Forgets every token (auth disabled).
    func removeAll() {
        state.withLock { $0.entries = [:] }
    }

    var count: Int { state.withLock { $0.entries.count } }

    /// Drops expired tokens, then (if still full) the one closest to expiry.
    private static func makeRoom(_ state: inout State, now: ContinuousClock.Instant, maximumCount: Int) {
        state.entries = state.entries.filter { $0.value.expires > now }
        if state.entries.count >= maximumCount,
            let oldest = state.entries.min(by: { $0.value.expires < $1.value.expires })
        {
            state.entries[oldest.key] = nil
        }
    }

    /// 16 letters drawn uniformly from etcd's alphabet (rejection sampling keeps it unbiased).
    private static func randomLetters() -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(prefixLength)
        let limit = UInt8(256 - 256 % letters.count)
        while result.count < prefixLength {
            for byte in randomBytes(32) where byte < limit && result.count < prefixLength {
                result.append(letters[Int(byte) % letters.count])
            }
        }
        return result
    }
}
