import RevisionLog

/// Collects deliveries from `watcher` until `count` events arrived (or fails after `limit` deliveries).
func collect(_ watcher: Watcher, events count: Int) async throws -> [(revision: Int64, events: [WatchEvent])] {
    var batches: [(revision: Int64, events: [WatchEvent])] = []
    var total = 0
    while total < count {
        guard let delivery = try await watcher.next() else {
            throw ConformanceFailure(message: "watcher ended after \(total) of \(count) events", location: #fileID)
        }
        guard case .events(let revision, let events) = delivery else {
            throw ConformanceFailure(message: "unexpected \(delivery)", location: #fileID)
        }
        watcher.confirmSent()
        batches.append((revision, events))
        total += events.count
    }
    return batches
}

func describe(_ events: [WatchEvent]) -> [String] {
    events.map { event in
        let key = String(decoding: event.keyValue.key, as: UTF8.self)
        let previous = event.previous.map { "<\(String(decoding: $0.value, as: UTF8.self))" } ?? ""
        return "\(event.kind == .put ? "PUT" : "DEL") \(key)@\(event.keyValue.modRevision)\(previous)"
    }
}

/// Watch (etcd semantics §4): push delivery, replay, prev_kv, filters, compaction, slow watchers.
let watchCases: [ConformanceCase] = [
    ConformanceCase("a live watcher gets each revision in order, one revision per delivery") { store in
        let hub = WatchHub(store: store)
        let watcher = try hub.watch(WatchRequest(range: prefix("w/")))
        defer { watcher.cancel() }
        try await put(store, "w/a", "1")
        try await put(store, "other", "x")
        _ = try await store.txn(
            TxnRequest(success: [
                .put(PutRequest(key: bytes("w/b"), value: [])),
                .delete(DeleteRequest(range: .single(bytes("w/a")))),
            ]))
        let batches = try await collect(watcher, events: 3)
        try expectEqual(batches.map(\.revision), [2, 4])
        try expectEqual(batches.flatMap { describe($0.events) }, ["PUT w/a@2", "PUT w/b@4", "DEL w/a@4"])
        try expectEqual(hub.progressRevision(of: [watcher]), store.revision, "caught up after draining")
    },
    ConformanceCase("a start in the past replays the log, then continues live without gap or duplicate") { store in
        for index in 0..<10 { try await put(store, "k", "\(index)") }  // revs 2...11
        let hub = WatchHub(store: store)
        var request = WatchRequest(range: .single(bytes("k")))
        request.startRevision = 5
        let watcher = try hub.watch(request)
        defer { watcher.cancel() }
        let writer = Task { for index in 10..<30 { try await put(store, "k", "\(index)") } }
        let batches = try await collect(watcher, events: 27)
        try await writer.value
        let revisions = batches.flatMap { $0.events.map(\.keyValue.modRevision) }
        try expectEqual(revisions, Array(5...31))
    },
    ConformanceCase("prev_kv on live and replayed events; never on creates") { store in
        let hub = WatchHub(store: store)
        var request = WatchRequest(range: .single(bytes("p")))
        request.previousKeyValues = true
        let live = try hub.watch(request)
        defer { live.cancel() }
        try await put(store, "p", "one")
        try await put(store, "p", "two")
        _ = try await store.delete(DeleteRequest(range: .single(bytes("p"))))
        let expected = ["PUT p@2", "PUT p@3<one", "DEL p@4<two"]
        try expectEqual(try await collect(live, events: 3).flatMap { describe($0.events) }, expected)
        request.startRevision = 1
        let replayed = try hub.watch(request)
        defer { replayed.cancel() }
        try expectEqual(try await collect(replayed, events: 3).flatMap { describe($0.events) }, expected)
    },
    ConformanceCase("filters drop puts or deletes") { store in
        let hub = WatchHub(store: store)
        var request = WatchRequest(range: .fromKey([0]))
        request.dropPuts = true
        let deletes = try hub.watch(request)
        request.dropPuts = false
        request.dropDeletes = true
        let puts = try hub.watch(request)
        defer { deletes.cancel(); puts.cancel() }
        try await put(store, "a", "1")
        _ = try await store.delete(DeleteRequest(range: .single(bytes("a"))))
        try await put(store, "b", "1")
        try expectEqual(try await collect(deletes, events: 1).flatMap { describe($0.events) }, ["DEL a@3"])
        try expectEqual(try await collect(puts, events: 2).flatMap { describe($0.events) }, ["PUT a@2", "PUT b@4"])
    },
    ConformanceCase("a start below the compaction point is refused; compaction during catch-up ends the watcher") {
        store in
        for index in 0..<10 { try await put(store, "c", "\(index)") }
        _ = try await store.compact(revision: 6, physical: true)
        let hub = WatchHub(store: store)
        var request = WatchRequest(range: .single(bytes("c")))
        request.startRevision = 5
        do {
            _ = try hub.watch(request)
            throw ConformanceFailure(message: "expected compacted", location: #fileID)
        } catch let error as StoreError {
            try expectEqual(error.code, .compacted)
        }
        request.startRevision = 6
        let watcher = try hub.watch(request)
        defer { watcher.cancel() }
        let first = try await collect(watcher, events: 1)
        try expectEqual(first.first?.events.first?.keyValue.modRevision, 6)
        // A second, unread watcher falls behind a compaction and is told so.
        request.startRevision = 7
        let stale = try hub.watch(request)
        _ = try await store.compact(revision: 9, physical: true)
        try expectEqual(try await stale.next(), .compacted(compactRevision: 9))
    },
    ConformanceCase("a slow watcher with a tiny buffer catches up from the log without losing events") { store in
        var limits = WatchLimits()
        (limits.bufferedEventsMaximum, limits.catchUpBatchEvents) = (8, 50)
        let hub = WatchHub(store: store, limits: limits)
        let watcher = try hub.watch(WatchRequest(range: prefix("s/")))
        defer { watcher.cancel() }
        let total = 600
        for index in 0..<total {
            _ = try await store.txn(
                TxnRequest(success: [.put(PutRequest(key: bytes("s/\(index % 7)"), value: bytes("\(index)")))]))
        }
        let batches = try await collect(watcher, events: total)
        let revisions = batches.flatMap { $0.events.map(\.keyValue.modRevision) }
        try expectEqual(revisions, Array(2...Int64(total + 1)))
        // Headers never go backwards.
        try expectEqual(batches.map(\.revision), batches.map(\.revision).sorted())
        try await put(store, "s/live", "x")
        try expectEqual(
            try await collect(watcher, events: 1).flatMap { describe($0.events) }, ["PUT s/live@\(total + 2)"])
    },
]

/// Watch limits and progress (issue 17): byte budgets, the watcher cap, progress behind the events.
let watchLimitCases: [ConformanceCase] = [
    ConformanceCase("a watcher past its byte budget reads the log instead of buffering, and loses nothing") { store in
        var limits = WatchLimits()
        limits.bufferedBytesMaximum = 4_096
        let hub = WatchHub(store: store, limits: limits)
        let watcher = try hub.watch(WatchRequest(range: prefix("b/")))
        defer { watcher.cancel() }
        let value = [UInt8](repeating: 7, count: 1_000)
        for index in 0..<40 { _ = try await store.put(PutRequest(key: bytes("b/\(index % 3)"), value: value)) }
        // One revision may pass the budget on its own; more may not.
        try expect(watcher.bufferedBytes <= 4_096 + 1_200, "buffered \(watcher.bufferedBytes) bytes")
        let batches = try await collect(watcher, events: 40)
        try expectEqual(batches.flatMap { $0.events.map(\.keyValue.modRevision) }, Array(2...41))
    },
    ConformanceCase("watchers past the hub's maximum are refused until one ends") { store in
        var limits = WatchLimits()
        limits.watchersMaximum = 2
        let hub = WatchHub(store: store, limits: limits)
        let first = try hub.watch(WatchRequest(range: .single(bytes("a"))))
        let second = try hub.watch(WatchRequest(range: prefix("b")))
        try await expectRejected(store, .tooManyRequests) { try hub.watch(WatchRequest(range: .single(bytes("c")))) }
        first.cancel()
        let third = try hub.watch(WatchRequest(range: .single(bytes("c"))))
        second.cancel()
        third.cancel()
    },
    ConformanceCase("a progress request comes after the events handed out before it, at the published revision") {
        store in
        let hub = WatchHub(store: store)
        let watcher = try hub.watch(WatchRequest(range: prefix("p/")))
        let other = try hub.watch(WatchRequest(range: .single(bytes("elsewhere"))))
        defer { watcher.cancel(); other.cancel() }
        try expectEqual(watcher.createdRevision, store.revision)
        try await put(store, "p/1", "x")
        try await put(store, "p/2", "x")
        watcher.requestProgress()
        guard case .events(let revision, _) = try await watcher.next() else {
            throw ConformanceFailure(message: "events must come first", location: #fileID)
        }
        try expectEqual(revision, 2)
        // Handed out but not yet sent: no progress may cover it.
        try expectEqual(hub.progressRevision(of: [watcher, other]), nil)
        watcher.confirmSent()
        _ = try await collect(watcher, events: 1)
        try expectEqual(try await watcher.next(), .progress)
        try expectEqual(hub.progressRevision(of: [watcher, other]), store.revision)
    },
]
