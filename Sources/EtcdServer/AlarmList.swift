import EtcdAPI
import Foundation
import RevisionLog
import Synchronization

/// Raised alarms (etcd `etcdserver/api/v3alarm`), persisted in the store's metadata under "alarms" so they survive
/// restarts as etcd's do. Kelson raises NOSPACE itself when a write would pass the space quota (`SpaceQuota`);
/// clients can activate and disarm any alarm.
///
/// Writes consult the alarms on every request, so they are kept in memory: loaded from the store, updated by every
/// change made here, and read again at most once a second (another process sharing a PostgreSQL store may change
/// them).
public final class AlarmList: Sendable {
    static let metadataName = "alarms"
    private let store: Store
    private struct Cache {
        var entries: [Entry]
        var loaded: ContinuousClock.Instant
    }
    private let cache = Mutex<Cache?>(nil)
    private static let reloadInterval = Duration.seconds(1)
    /// Set while a background reload runs, so a burst of writes starts one, not one each.
    private let backgroundRefresh = Atomic<Bool>(false)

    fileprivate struct Entry: Codable, Hashable, Sendable {
        var memberID: UInt64
        var alarm: Int
    }

    /// Loads the stored alarms (on SQLite before this returns; on PostgreSQL a moment later, from its read threads).
    init(store: Store) {
        self.store = store
        refresh { _ in }
    }

    /// Every raised alarm, read from the store.
    func current(completion: @escaping @Sendable (Result<[Etcdserverpb_AlarmMember], StoreError>) -> Void) {
        refresh { completion($0.map { $0.map(\.member) }) }
    }

    /// True while a NOSPACE alarm is raised (by any member): writes that add data are refused. Answers from memory
    /// at once; a list older than a second is read again in the background for the next caller (a store that
    /// cannot be read keeps the last known answer).
    var spaceExhausted: Bool {
        let cached = cache.withLock { $0 }
        if cached.map({ ContinuousClock.now - $0.loaded >= Self.reloadInterval }) ?? true,
            !backgroundRefresh.exchange(true, ordering: .acquiring)
        {
            refresh { [self] _ in backgroundRefresh.store(false, ordering: .releasing) }
        }
        return (cached?.entries ?? []).contains { $0.alarm == Etcdserverpb_AlarmType.nospace.rawValue }
    }

    /// etcd's text form of every raised alarm (Status `errors`, `/health` logs).
    public func descriptions(completion: @escaping @Sendable (Result<[String], StoreError>) -> Void) {
        current { completion($0.map { $0.map(Self.describe) }) }
    }

    /// Answers the alarm (new or already raised), like etcd.
    func activate(
        memberID: UInt64, alarm: Etcdserverpb_AlarmType,
        completion: @escaping @Sendable (Result<[Etcdserverpb_AlarmMember], StoreError>) -> Void
    ) {
        if alarm == .none { return completion(.success([])) }
        let entry = Entry(memberID: memberID, alarm: alarm.rawValue)
        update(completion) { entries in
            if !entries.contains(entry) { entries.append(entry) }
            return [entry.member]
        }
    }

    /// Answers the alarm if it was raised, nothing otherwise (etcd answers the same).
    func deactivate(
        memberID: UInt64, alarm: Etcdserverpb_AlarmType,
        completion: @escaping @Sendable (Result<[Etcdserverpb_AlarmMember], StoreError>) -> Void
    ) {
        let entry = Entry(memberID: memberID, alarm: alarm.rawValue)
        update(completion) { entries in
            guard let index = entries.firstIndex(of: entry) else { return [] }
            entries.remove(at: index)
            return [entry.member]
        }
    }

    /// Changes the stored list in one write and caches what was stored.
    private func update(
        _ completion: @escaping @Sendable (Result<[Etcdserverpb_AlarmMember], StoreError>) -> Void,
        _ change: @escaping @Sendable (inout [Entry]) -> [Etcdserverpb_AlarmMember]
    ) {
        store.updateMetadata(
            Self.metadataName,
            { stored in
                var entries = Self.decode(stored)
                let before = entries
                let result = change(&entries)
                if entries != before { stored = entries.isEmpty ? nil : try Self.encode(entries) }
                return (entries, result)
            }
        ) { [self] result in
            completion(
                result.flatMap { inner in
                    inner.mapError { StoreError(.backendFailure, "cannot store the alarms: \($0)") }
                }.map { entries, result in
                    cache.withLock { $0 = Cache(entries: entries, loaded: .now) }
                    return result
                })
        }
    }

    /// Reads the stored list and caches it.
    private func refresh(_ completion: @escaping @Sendable (Result<[Entry], StoreError>) -> Void) {
        store.metadata(Self.metadataName) { [self] result in
            let entries = result.map(Self.decode)
            if case .success(let entries) = entries { cache.withLock { $0 = Cache(entries: entries, loaded: .now) } }
            completion(entries)
        }
    }

    /// etcd's text form of an alarm, as Status lists it in `errors`.
    static func describe(_ member: Etcdserverpb_AlarmMember) -> String {
        let name: String
        switch member.alarm {
        case .nospace: name = "NOSPACE"
        case .corrupt: name = "CORRUPT"
        default: name = "NONE"
        }
        return "memberID:\(member.memberID) alarm:\(name) "
    }

    private static func decode(_ bytes: [UInt8]?) -> [Entry] {
        guard let bytes else { return [] }
        return (try? JSONDecoder().decode([Entry].self, from: Data(bytes))) ?? []
    }

    private static func encode(_ entries: [Entry]) throws -> [UInt8] {
        [UInt8](try JSONEncoder().encode(entries))
    }
}

extension AlarmList.Entry {
    fileprivate var member: Etcdserverpb_AlarmMember {
        var member = Etcdserverpb_AlarmMember()
        member.memberID = memberID
        member.alarm = Etcdserverpb_AlarmType(rawValue: alarm) ?? .none
        return member
    }
}
