import EtcdAPI
import Foundation
import GRPCWire
import RevisionLog
import Synchronization

/// What a call needs from its caller, in etcd 3.4's terms. Every requirement first needs the
/// call's token, when it sends one, to be valid (etcd's `AuthInfoFromCtx`), even with auth off.
/// With auth off nothing else is checked.
enum AuthRequirement: Sendable, Equatable {
    /// The lease whose attached keys the requirement concerns, if any.
    var leaseID: Int64? {
        switch self {
        case .writeLeaseKeys(let id), .readLeaseKeys(let id): return id
        default: return nil
        }
    }

    /// Nothing beyond a valid token when one is sent: etcd's requests that go through raft without
    /// a permission check (LeaseGrant, Alarm, Compact, AuthStatus).
    case validToken
    /// A token of an existing user (any roles).
    case authenticated
    /// The `root` role (etcd's `IsAdminPermitted`).
    case root
    /// Read permission on every key of the range (etcd's `IsRangePermitted`).
    case read(KeyRange)
    /// Write permission on every key of the range (etcd's `IsPutPermitted`, `IsDeleteRangePermitted`).
    case write(KeyRange)
    /// Write permission on every key attached to the lease; nothing when it has none or does not
    /// exist (etcd's `checkLeasePuts`, for LeaseRevoke and Put with a lease).
    case writeLeaseKeys(leaseID: Int64)
    /// A user (even when the lease has no keys) with read permission on every key attached to the
    /// lease: LeaseTimeToLive with `keys` (etcd 3.4.26 and 3.5.9 on; 3.4.23 checks nothing there).
    case readLeaseKeys(leaseID: Int64)
}

/// etcd's auth store (`auth/store.go`) over the core store's named metadata: the state lives in
/// one value (`AuthState`) updated atomically on the committer thread, with a copy in memory for
/// the checks every call makes.
///
/// The API the services call (see `authorize`):
///
///     if let error = auth.authorize(call.metadata, [.read(range)]) { return respond(.failure(error.grpcStatus)) }
final class AuthStore: Sendable {
    private struct Snapshot: Sendable {
        var state = AuthState()
        /// Set when the stored state could not be read: every check then fails (closed, not open).
        var loadError: EtcdWireError?
        /// Merged permissions per user, computed on first use; cleared with every new state, so
        /// bounded by the number of users.
        var permissions: [String: RangePermissions] = [:]
    }

    let store: Store
    let tokens: SimpleTokens
    let passwordHashRounds: Int
    private let snapshot: Mutex<Snapshot>
    /// The stored auth state as the committer last decoded it for a `WriteCondition`.
    private let applyCache = Mutex<(bytes: [UInt8]?, generation: UInt64, enabled: Bool)?>(nil)

    /// Starts reading the stored state through the store's door (on SQLite it is read before this returns); until
    /// it is read every check fails closed. `EtcdServices` waits for it (`waitUntilLoaded`) before serving.
    init(store: Store, configuration: AuthConfiguration) {
        self.store = store
        tokens = SimpleTokens(ttl: configuration.tokenTTL, maximumCount: configuration.tokensMaximum)
        passwordHashRounds = max(configuration.passwordHashRounds, 1)
        var initial = Snapshot()
        initial.loadError = .authStateUnreadable("the auth state has not been read yet")
        snapshot = Mutex(initial)
        reload()
        // Processes sharing a PostgreSQL store: another one may enable auth or change users; take its state over.
        store.observeExternalMetadataChanges { [weak self] in self?.reload() }
    }

    /// Waits (at most `timeout`) until the stored state was read once; false when it could not be.
    func waitUntilLoaded(timeout: Duration = .seconds(10)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while snapshot.withLock({ $0.loadError != nil }) {
            if ContinuousClock.now >= deadline { return false }
            usleep(1_000)
        }
        return true
    }

    /// Reads the stored state and takes it when it is newer than the cached one (or the cached one could not be
    /// read), dropping the tokens the change invalidates, as the process that made it did: all of them when auth
    /// was turned off, a user's when it was deleted or its password changed.
    private func reload() {
        store.metadata(AuthState.metadataName) { [self] result in
            switch result.mapError({ EtcdWireError.authStateUnreadable($0.etcdWireError.message) }) {
            case .success(let bytes):
                guard let stored = try? AuthState.decode(bytes) else { return }
                install(stored, fromElsewhere: true)
            case .failure(let error):
                snapshot.withLock { current in
                    if current.loadError != nil { current.loadError = error }
                }
            }
        }
    }

    /// Makes `state` the cached one unless a newer one is already there; for a state another process stored,
    /// drops the tokens its change invalidated.
    private func install(_ state: AuthState, fromElsewhere: Bool = false) {
        let previous: AuthState? = snapshot.withLock { current in
            guard current.loadError != nil || state.generation > current.state.generation else { return nil }
            let previous = current.loadError == nil ? current.state : nil
            current = Snapshot(state: state)
            return previous
        }
        guard fromElsewhere, let previous else { return }
        if previous.enabled && !state.enabled { tokens.removeAll() }
        for (name, user) in previous.users where state.users[name]?.password != user.password {
            tokens.invalidate(user: name)
        }
    }

    // MARK: Checks

    /// The first requirement the caller of `metadata` does not meet, as etcd's error; nil when the call may go
    /// ahead. Answers at once from memory, unless a requirement needs the keys attached to a lease and auth is on:
    /// those are read through the store's door first. `completion` also gets the condition a write admitted here
    /// must still meet when it is applied (nil with auth off; see `writeCondition`).
    func authorize(
        _ metadata: GRPCMetadata, _ requirements: [AuthRequirement],
        completion: @escaping @Sendable (EtcdWireError?, WriteCondition?) -> Void
    ) {
        let state: AuthState
        let user: String?
        do throws(EtcdWireError) { (state, user) = try caller(metadata) } catch { return completion(error, nil) }
        guard state.enabled else { return completion(nil, nil) }
        let leases = requirements.compactMap(\.leaseID).filter { $0 != 0 }
        let condition = writeCondition(checkedAgainst: state)
        guard !leases.isEmpty, !(user.map(state.hasRootRole) ?? false) else {
            return completion(check(requirements, user: user, state: state, leaseKeys: [:]), condition)
        }
        attachedKeys(of: leases, collected: [:]) { [self] result in
            switch result {
            case .failure(let error): completion(error.etcdWireError, nil)
            case .success(let keys):
                completion(check(requirements, user: user, state: state, leaseKeys: keys), condition)
            }
        }
    }

    /// `authorize` for requirements that need no lease's keys (everything but `.writeLeaseKeys` and
    /// `.readLeaseKeys`): answered at once.
    func authorize(_ metadata: GRPCMetadata, _ requirements: [AuthRequirement]) -> EtcdWireError? {
        precondition(requirements.allSatisfy { $0.leaseID == nil }, "lease requirements need the completion form")
        do throws(EtcdWireError) {
            let (state, user) = try caller(metadata)
            guard state.enabled else { return nil }
            return check(requirements, user: user, state: state, leaseKeys: [:])
        } catch {
            return error
        }
    }

    func authorize(_ metadata: GRPCMetadata, _ requirement: AuthRequirement) -> EtcdWireError? {
        authorize(metadata, [requirement])
    }

    private func check(
        _ requirements: [AuthRequirement], user: String?, state: AuthState, leaseKeys: [Int64: [[UInt8]]]
    ) -> EtcdWireError? {
        for requirement in requirements {
            if let error = check(requirement, user: user, state: state, leaseKeys: leaseKeys) { return error }
        }
        return nil
    }

    /// The keys attached to each lease, read one lease after the other.
    private func attachedKeys(
        of leases: [Int64], collected: [Int64: [[UInt8]]],
        completion: @escaping @Sendable (Result<[Int64: [[UInt8]]], StoreError>) -> Void
    ) {
        guard let lease = leases.first else { return completion(.success(collected)) }
        store.leaseTimeToLive(id: lease, keys: true) { [self] result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let status):
                var collected = collected
                collected[lease] = status?.keys ?? []
                attachedKeys(of: Array(leases.dropFirst()), collected: collected, completion: completion)
            }
        }
    }

    /// What a write checked against `state` must still meet when the committer applies it (etcd re-checks
    /// permissions at apply time): the stored auth state is still that one, or auth is off by then. Any change to
    /// users, roles or permissions since fails the write with etcd's "revision of auth store is old", which etcd's
    /// clients answer by refreshing their token and retrying. Decoding the stored state is cached by its bytes, so a
    /// group of writes decodes it once.
    private func writeCondition(checkedAgainst state: AuthState) -> WriteCondition {
        let generation = state.generation
        return WriteCondition(metadataName: AuthState.metadataName) { [self] bytes in
            let stored: (generation: UInt64, enabled: Bool)? = applyCache.withLock { cache in
                if let cache, cache.bytes == bytes { return (cache.generation, cache.enabled) }
                guard let decoded = try? AuthState.decode(bytes) else { return nil }
                cache = (bytes, decoded.generation, decoded.enabled)
                return (decoded.generation, decoded.enabled)
            }
            guard let stored else { return StoreError(.corrupt, "the stored auth state cannot be read") }
            return !stored.enabled || stored.generation == generation ? nil : StoreError(.staleAuthorization)
        }
    }

    /// The current state and the user the call's token names (nil without a token): etcd's
    /// `AuthInfoFromCtx`. A token that is unknown or expired is refused whether auth is on or
    /// off (etcd forgets all tokens when auth is disabled).
    func caller(_ metadata: GRPCMetadata) throws(EtcdWireError) -> (AuthState, String?) {
        let state = try currentState()
        // etcd also reads the grpc-gateway's "authorization" key.
        guard let token = metadata["token"] ?? metadata["authorization"] else { return (state, nil) }
        guard let user = tokens.user(for: token) else { throw .invalidAuthToken }
        return (state, user)
    }

    func currentState() throws(EtcdWireError) -> AuthState {
        let current = snapshot.withLock { ($0.state, $0.loadError) }
        if let error = current.1 { throw error }
        return current.0
    }

    private func check(
        _ requirement: AuthRequirement, user: String?, state: AuthState, leaseKeys: [Int64: [[UInt8]]]
    ) -> EtcdWireError? {
        switch requirement {
        case .validToken:
            return nil
        case .authenticated:
            guard let user else { return .userEmpty }
            return state.users[user] == nil ? .permissionDenied : nil
        case .root:
            return state.adminError(user)
        case .read(let range):
            return rangeError(user: user, range: range, write: false, state: state)
        case .write(let range):
            return rangeError(user: user, range: range, write: true, state: state)
        case .writeLeaseKeys(let leaseID):
            if leaseID == 0 { return nil }
            return leaseKeysError(user: user, keys: leaseKeys[leaseID] ?? [], write: true, state: state)
        case .readLeaseKeys(let leaseID):
            guard user != nil else { return .userEmpty }
            return leaseKeysError(user: user, keys: leaseKeys[leaseID] ?? [], write: false, state: state)
        }
    }

    /// etcd's `isOpPermitted`.
    private func rangeError(user: String?, range: KeyRange, write: Bool, state: AuthState) -> EtcdWireError? {
        guard let user else { return .userEmpty }
        guard let record = state.users[user] else { return .permissionDenied }
        if record.roles.contains(AuthState.rootRole) { return nil }
        let (key, rangeEnd) = range.etcdPair
        return permissions(of: user, state: state).allows(write: write, key: key, rangeEnd: rangeEnd)
            ? nil : .permissionDenied
    }

    /// The keys attached to a lease come from the store: `authorize(_:_:completion:)` reads them (through the store's
    /// door) and hands them in here.
    private func leaseKeysError(
        user: String?, keys: [[UInt8]], write: Bool, state: AuthState
    ) -> EtcdWireError? {
        if let user, state.hasRootRole(user) { return nil }
        for key in keys {
            if let error = rangeError(user: user, range: .single(key), write: write, state: state) { return error }
        }
        return nil
    }

    private func permissions(of user: String, state: AuthState) -> RangePermissions {
        if let cached = snapshot.withLock({ $0.permissions[user] }) { return cached }
        let roles = state.users[user]?.roles ?? []
        let merged = RangePermissions(roles.flatMap { state.roles[$0]?.permissions ?? [] })
        snapshot.withLock { current in
            if current.state.generation == state.generation { current.permissions[user] = merged }
        }
        return merged
    }

    // MARK: Changes

    /// Applies `change` to the stored state in one committer transaction, after checking there
    /// (against the stored state, as etcd checks at apply time) that `user` may manage auth when
    /// `admin` is set. Stores and caches the result when it differs. Returns the new state.
    @discardableResult
    func update(
        by user: String?, admin: Bool = true,
        _ change: @escaping @Sendable (inout AuthState) throws(EtcdWireError) -> Void
    ) async throws(EtcdWireError) -> AuthState {
        let state: AuthState
        do {
            let stored = try await Store.awaiting { [store] completion in
                store.updateMetadata(
                    AuthState.metadataName,
                    { bytes throws -> AuthState in
                        var state = try AuthState.decode(bytes)
                        if admin, let error = state.adminError(user) { throw error }
                        let before = state
                        try change(&state)
                        if state != before {
                            state.generation += 1
                            bytes = try state.encoded()
                        }
                        return state
                    }, completion: completion)
            }
            state = try stored.get()
        } catch let error as EtcdWireError {
            throw error
        } catch let error as StoreError {
            throw error.etcdWireError
        } catch {
            throw EtcdWireError(grpcCode: 2, message: "kelson: auth update failed: \(error)")
        }
        install(state)
        return state
    }

    // MARK: Passwords

    func hashPassword(_ password: String) -> PasswordHash {
        PasswordHash(password: password, rounds: passwordHashRounds)
    }
}

extension AuthState {
    /// etcd's `IsAdminPermitted` (nil when auth is off).
    func adminError(_ user: String?) -> EtcdWireError? {
        guard enabled else { return nil }
        guard let user, !user.isEmpty else { return .userEmpty }
        guard users[user] != nil else { return .userNotFound }
        return hasRootRole(user) ? nil : .permissionDenied
    }
}
