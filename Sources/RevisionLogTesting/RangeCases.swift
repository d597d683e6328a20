import RevisionLog

/// Range: key ranges, limit/more/count, options, sorting, filters, history (etcd semantics §3.1).
let rangeCases: [ConformanceCase] = [
    ConformanceCase("single keys, prefixes, from-key and all keys") { store in
        for key in ["a", "ab", "abc", "b", "c"] { try await put(store, key, key) }
        try expectEqual(keys(try await store.range(RangeRequest(range: .single(bytes("ab"))))), ["ab"])
        try expectEqual(keys(try await store.range(RangeRequest(range: prefix("ab")))), ["ab", "abc"])
        try expectEqual(
            keys(try await store.range(RangeRequest(range: .fromKey(bytes("ab"))))), ["ab", "abc", "b", "c"])
        try expectEqual(keys(try await store.range(RangeRequest(range: .fromKey([0])))), ["a", "ab", "abc", "b", "c"])
        try expectEqual(
            keys(try await store.range(RangeRequest(range: .interval(start: bytes("ab"), end: bytes("b"))))),
            ["ab", "abc"])
        // key >= range_end is an empty range, not an error.
        let empty = try await store.range(RangeRequest(range: .interval(start: bytes("c"), end: bytes("a"))))
        try expectEqual(empty.count, 0)
        try expectEqual(empty.revision, 6)
        try expectEqual(KeyRange.prefixEnd([0x61, 0xff]), bytes("b"))
        try expectEqual(KeyRange.prefixEnd([0xff, 0xff]), [0])
    },
    ConformanceCase("limit sets more; count is the whole range") { store in
        for index in 0..<10 { try await put(store, "k\(index)", "v") }
        var request = RangeRequest(range: prefix("k"))
        request.limit = 3
        var result = try await store.range(request)
        try expectEqual(keys(result), ["k0", "k1", "k2"])
        try expectEqual(result.more, true)
        try expectEqual(result.count, 10)
        request.limit = 10
        result = try await store.range(request)
        try expectEqual(result.more, false)
        try expectEqual(result.count, 10)
        request.limit = 0
        try expectEqual(try await store.range(request).keyValues.count, 10)
    },
    ConformanceCase("count_only and keys_only") { store in
        for index in 0..<5 { try await put(store, "k\(index)", "value\(index)") }
        var request = RangeRequest(range: prefix("k"))
        request.countOnly = true
        request.limit = 2
        var result = try await store.range(request)
        try expectEqual(result.keyValues, [])
        try expectEqual(result.count, 5)
        try expectEqual(result.more, false)
        request = RangeRequest(range: prefix("k"))
        request.keysOnly = true
        result = try await store.range(request)
        try expectEqual(result.keyValues.map(\.value), Array(repeating: [], count: 5))
        try expectEqual(result.keyValues.map(\.version), Array(repeating: 1, count: 5))
    },
    ConformanceCase("sort by every target in both orders; a target without an order sorts ascending") { store in
        // Written so that key, value, create and mod orders all differ.
        try await put(store, "b", "2")  // rev 2
        try await put(store, "c", "1")  // rev 3
        try await put(store, "a", "3")  // rev 4
        try await put(store, "c", "9")  // rev 5: c version 2
        func sorted(_ target: RangeRequest.SortTarget, _ order: RangeRequest.SortOrder) async throws -> [String] {
            var request = RangeRequest(range: .fromKey([0]))
            request.sortTarget = target
            request.sortOrder = order
            return keys(try await store.range(request))
        }
        try expectEqual(try await sorted(.key, .none), ["a", "b", "c"])
        try expectEqual(try await sorted(.key, .descend), ["c", "b", "a"])
        try expectEqual(try await sorted(.value, .ascend), ["b", "a", "c"])
        try expectEqual(try await sorted(.value, .none), ["b", "a", "c"])
        try expectEqual(try await sorted(.create, .ascend), ["b", "c", "a"])
        try expectEqual(try await sorted(.create, .descend), ["a", "c", "b"])
        try expectEqual(try await sorted(.mod, .descend), ["c", "a", "b"])
        try expectEqual(try await sorted(.version, .descend), ["c", "a", "b"])
        try expectEqual(try await sorted(.version, .ascend), ["a", "b", "c"])
        var limited = RangeRequest(range: .fromKey([0]))
        limited.sortTarget = .create
        limited.sortOrder = .descend
        limited.limit = 1
        let result = try await store.range(limited)
        try expectEqual(keys(result), ["a"])
        try expectEqual(result.more, true)
        try expectEqual(result.count, 3)
    },
    ConformanceCase("min/max revision filters narrow kvs but not count") { store in
        for key in ["a", "b", "c", "d"] { try await put(store, key, key) }  // revs 2...5
        try await put(store, "a", "again")  // rev 6
        var request = RangeRequest(range: .fromKey([0]))
        request.minModRevision = 4
        var result = try await store.range(request)
        try expectEqual(keys(result), ["a", "c", "d"])
        try expectEqual(result.count, 4)
        request = RangeRequest(range: .fromKey([0]))
        request.maxCreateRevision = 3
        request.sortTarget = .create
        request.sortOrder = .descend
        request.limit = 1
        result = try await store.range(request)
        try expectEqual(keys(result), ["b"])
        request = RangeRequest(range: .fromKey([0]))
        request.minCreateRevision = 3
        request.maxModRevision = 4
        try expectEqual(keys(try await store.range(request)), ["b", "c"])
    },
    ConformanceCase("historical reads return the state at that revision with the current header") { store in
        try await put(store, "a", "1")  // 2
        try await put(store, "b", "1")  // 3
        try await put(store, "a", "2")  // 4
        _ = try await store.delete(DeleteRequest(range: .single(bytes("b"))))  // 5
        try await put(store, "b", "3")  // 6
        func at(_ revision: Int64) async throws -> [String] {
            var request = RangeRequest(range: .fromKey([0]))
            request.revision = revision
            let result = try await store.range(request)
            try expectEqual(result.revision, 6, "header revision")
            return result.keyValues.map {
                "\(String(decoding: $0.key, as: UTF8.self))=\(String(decoding: $0.value, as: UTF8.self))@\($0.createRevision)/\($0.modRevision)/\($0.version)"
            }
        }
        try expectEqual(try await at(1), [])
        try expectEqual(try await at(2), ["a=1@2/2/1"])
        try expectEqual(try await at(3), ["a=1@2/2/1", "b=1@3/3/1"])
        try expectEqual(try await at(4), ["a=2@2/4/2", "b=1@3/3/1"])
        try expectEqual(try await at(5), ["a=2@2/4/2"])
        try expectEqual(try await at(6), ["a=2@2/4/2", "b=3@6/6/1"])
        var counted = RangeRequest(range: .fromKey([0]))
        counted.revision = 3
        counted.countOnly = true
        try expectEqual(try await store.range(counted).count, 2)
        counted.revision = 5
        try expectEqual(try await store.range(counted).count, 1)
        var limited = RangeRequest(range: .fromKey([0]))
        limited.revision = 4
        limited.limit = 1
        let result = try await store.range(limited)
        try expectEqual(keys(result), ["a"])
        try expectEqual(result.more, true)
        try expectEqual(result.count, 2)
    },
    ConformanceCase("a future revision is refused") { store in
        try await put(store, "a", "1")
        var request = RangeRequest(range: .single(bytes("a")))
        request.revision = 3
        try await expectRejected(store, .futureRevision) { try await store.range(request) }
        request.revision = -7  // negative reads the head, like etcd
        try expectEqual(try await store.range(request).keyValues.count, 1)
    },
]
