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

    fileprivate struct Entry: Codable, Hashable {
        var memberID: UInt64
        var alarm: Int
    }

    init(store: Store) { self.store = store }

    /// Every raised alarm.
    func current() throws(StoreError) -> [Etcdserverpb_AlarmMember] { try entries().map(\.member) }

    /// True while a NOSPACE alarm is raised (by any member): writes that add data are refused. A store that cannot
    /// be read keeps the last known answer.
    var spaceExhausted: Bool {
        ((try? entries()) ?? cache.withLock { $0?.entries } ?? []).contains {
            $0.alarm == Etcdserverpb_AlarmType.nospace.rawValue
        }
    }

    /// etcd's text form of every raised alarm (Status `errors`, `/health` logs).
    public func descriptions() throws(StoreError) -> [String] { try current().map(Self.describe) }

    /// Returns the alarm (new or already raised), like etcd.
    func activate(memberID: UInt64, alarm: Etcdserverpb_AlarmType) async throws -> [Etcdserverpb_AlarmMember] {
        if alarm == .none { return [] }
        let entry = Entry(memberID: memberID, alarm: alarm.rawValue)
        return try await update { entries in
            if !entries.contains(entry) { entries.append(entry) }
            return [entry.member]
        }
    }

    /// Returns the alarm if it was raised, nothing otherwise (etcd answers the same).
    func deactivate(memberID: UInt64, alarm: Etcdserverpb_AlarmType) async throws -> [Etcdserverpb_AlarmMember] {
        let entry = Entry(memberID: memberID, alarm: alarm.rawValue)
        return try await update { entries in
            guard let index = entries.firstIndex(of: entry) else { return [] }
            entries.remove(at: index)
            return [entry.member]
        }
    }

    /// Changes the stored list in one write and caches what was stored.
    private func update(
        _ change: @escaping @Sendable (inout [Entry]) -> [Etcdserverpb_AlarmMember]
    ) async throws -> [Etcdserverpb_AlarmMember] {
        let (entries, result) = try await store.updateMetadata(Self.metadataName) { stored in
            var entries = Self.decode(stored)
            let before = entries
            let result = change(&entries)
            if entries != before { stored = entries.isEmpty ? nil : try Self.encode(entries) }
            return (entries, result)
        }
        cache.withLock { $0 = Cache(entries: entries, loaded: .now) }
        return result
    }

    private func entries() throws(StoreError) -> [Entry] {
        if let cached = cache.withLock({ $0 }), ContinuousClock.now - cached.loaded < Self.reloadInterval {
            return cached.entries
        }
        let entries = Self.decode(try store.metadata(Self.metadataName))
        cache.withLock { $0 = Cache(entries: entries, loaded: .now) }
        return entries
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
