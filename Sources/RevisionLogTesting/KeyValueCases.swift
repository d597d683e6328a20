import RevisionLog

/// Revisions, versions and generations (etcd semantics §2.1–2.3, §3.2–3.3).
let keyValueCases: [ConformanceCase] = [
    ConformanceCase("a fresh store is at revision 1 with no compaction") { store in
        let revisions = try await store.revisions()
        let (revision, compacted) = (revisions.revision, revisions.compactRevision)
        try expectEqual(revision, 1, "revision")
        try expectEqual(compacted, -1, "compact revision")
        let all = try await store.range(RangeRequest(range: .fromKey([0])))
        try expectEqual(all.count, 0, "count")
        try expectEqual(all.revision, 1, "header revision")
    },
    ConformanceCase("puts assign revisions, keep create revision and bump version") { store in
        try expectEqual(try await put(store, "a", "1").revision, 2)
        try expectEqual(try await put(store, "a", "2").revision, 3)
        try expectEqual(try await put(store, "b", "1").revision, 4)
        try expectEqual(
            try await get(store, "a"),
            KeyValue(key: bytes("a"), createRevision: 2, modRevision: 3, version: 2, value: bytes("2"), lease: 0))
        // A put of an unchanged value still adds a revision and a version.
        try expectEqual(try await put(store, "a", "2").revision, 5)
        try expectEqual(try await get(store, "a")?.version, 3)
        try expectEqual(store.revision, 5)
    },
    ConformanceCase("a delete ends a generation; the next put starts a new one") { store in
        try await put(store, "k", "v1")
        try await put(store, "k", "v2")
        let deleted = try await store.delete(DeleteRequest(range: .single(bytes("k"))))
        try expectEqual(deleted.deleted, 1)
        try expectEqual(deleted.revision, 4)
        try expectEqual(try await get(store, "k"), nil)
        try await put(store, "k", "v3")
        try expectEqual(
            try await get(store, "k"),
            KeyValue(key: bytes("k"), createRevision: 5, modRevision: 5, version: 1, value: bytes("v3"), lease: 0))
    },
    ConformanceCase("a delete that matches nothing adds no revision") { store in
        try await put(store, "a", "1")
        let result = try await store.delete(DeleteRequest(range: prefix("zzz")))
        try expectEqual(result.deleted, 0)
        try expectEqual(result.revision, 2)
        try expectEqual(store.revision, 2)
    },
    ConformanceCase("a prefix delete removes every key in one revision and returns prev kvs in key order") { store in
        for key in ["p/c", "p/a", "p/b", "q"] { try await put(store, key, key) }
        let result = try await store.delete(DeleteRequest(range: prefix("p/"), previousKeyValues: true))
        try expectEqual(result.deleted, 3)
        try expectEqual(result.revision, 6)
        try expectEqual(
            result.previousKeyValues.map { String(decoding: $0.key, as: UTF8.self) }, ["p/a", "p/b", "p/c"])
        try expectEqual(result.previousKeyValues.first?.modRevision, 3)
        try expectEqual(keys(try await store.range(RangeRequest(range: .fromKey([0])))), ["q"])
        let changes = try await store.changes(from: 6, through: 6, limit: 100)
        try expectEqual(changes.map(\.kind), [.delete, .delete, .delete])
        try expectEqual(changes.map(\.subRevision), [0, 1, 2])
        try expectEqual(
            changes[0].keyValue,
            KeyValue(key: bytes("p/a"), createRevision: 0, modRevision: 6, version: 0, value: [], lease: 0))
    },
    ConformanceCase("put returns the previous key-value only when asked") { store in
        try await put(store, "a", "1")
        var request = PutRequest(key: bytes("a"), value: bytes("2"))
        try expectEqual(try await store.put(request).previousKeyValue, nil)
        request.previousKeyValue = true
        request.value = bytes("3")
        let result = try await store.put(request)
        try expectEqual(result.previousKeyValue?.value, bytes("2"))
        try expectEqual(result.previousKeyValue?.modRevision, 3)
        var fresh = PutRequest(key: bytes("new"), value: bytes("x"))
        fresh.previousKeyValue = true
        try expectEqual(try await store.put(fresh).previousKeyValue, nil)
    },
    ConformanceCase("ignore_value and ignore_lease reuse the stored value and lease") { store in
        try await put(store, "a", "keep")
        var request = PutRequest(key: bytes("a"), value: [])
        request.ignoreValue = true
        _ = try await store.put(request)
        try expectEqual(try await get(store, "a")?.value, bytes("keep"))
        try expectEqual(try await get(store, "a")?.version, 2)
        request = PutRequest(key: bytes("a"), value: bytes("new"))
        request.ignoreLease = true
        _ = try await store.put(request)
        try expectEqual(try await get(store, "a")?.value, bytes("new"))
    },
    ConformanceCase("bad puts and deletes are rejected without changing anything") { store in
        try await put(store, "a", "1")
        try await expectRejected(store, .emptyKey) { try await store.put(PutRequest(key: [], value: bytes("x"))) }
        var request = PutRequest(key: bytes("a"), value: bytes("x"))
        request.ignoreValue = true
        try await expectRejected(store, .valueProvided) { try await store.put(request) }
        request = PutRequest(key: bytes("a"), value: bytes("x"), lease: 5)
        request.ignoreLease = true
        try await expectRejected(store, .leaseProvided) { try await store.put(request) }
        request = PutRequest(key: bytes("missing"), value: [])
        request.ignoreValue = true
        try await expectRejected(store, .keyNotFound) { try await store.put(request) }
        request = PutRequest(key: bytes("missing"), value: [])
        request.ignoreLease = true
        try await expectRejected(store, .keyNotFound) { try await store.put(request) }
        try await expectRejected(store, .leaseNotFound) {
            try await store.put(PutRequest(key: bytes("a"), value: bytes("x"), lease: 12345))
        }
        try await expectRejected(store, .emptyKey) { try await store.delete(DeleteRequest(range: .single([]))) }
        try await expectRejected(store, .emptyKey) { try await store.range(RangeRequest(range: .single([]))) }
    },
]
