import EtcdAPI
import Foundation
import RevisionLog

/// Raised alarms (etcd `etcdserver/api/v3alarm`), persisted in the store's metadata under
/// "alarms" so they survive restarts as etcd's do. Kelson raises none by itself yet (the space
/// quota that raises NOSPACE comes with the operations work); clients can activate and disarm.
struct AlarmList: Sendable {
    static let metadataName = "alarms"
    let store: Store

    fileprivate struct Entry: Codable, Hashable {
        var memberID: UInt64
        var alarm: Int
    }

    func current() throws(StoreError) -> [Etcdserverpb_AlarmMember] {
        Self.decode(try store.metadata(Self.metadataName)).map(\.member)
    }

    /// Returns the alarm (new or already raised), like etcd.
    func activate(memberID: UInt64, alarm: Etcdserverpb_AlarmType) async throws -> [Etcdserverpb_AlarmMember] {
        if alarm == .none { return [] }
        let entry = Entry(memberID: memberID, alarm: alarm.rawValue)
        return try await store.updateMetadata(Self.metadataName) { stored in
            var entries = Self.decode(stored)
            if !entries.contains(entry) {
                entries.append(entry)
                stored = try Self.encode(entries)
            }
            return [entry.member]
        }
    }

    /// Returns the alarm if it was raised, nothing otherwise (etcd answers the same).
    func deactivate(memberID: UInt64, alarm: Etcdserverpb_AlarmType) async throws -> [Etcdserverpb_AlarmMember] {
        let entry = Entry(memberID: memberID, alarm: alarm.rawValue)
        return try await store.updateMetadata(Self.metadataName) { stored in
            var entries = Self.decode(stored)
            guard let index = entries.firstIndex(of: entry) else { return [] }
            entries.remove(at: index)
            stored = entries.isEmpty ? nil : try Self.encode(entries)
            return [entry.member]
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
