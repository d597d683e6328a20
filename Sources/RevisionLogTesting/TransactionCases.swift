import RevisionLog

private func compare(_ key: String, _ target: Compare.Target, _ comparison: Compare.Operator) -> Compare {
    Compare(range: .single(bytes(key)), target: target, comparison: comparison)
}

private func putOperation(_ key: String, _ value: String = "v") -> TxnOperation {
    .put(PutRequest(key: bytes(key), value: bytes(value)))
}

/// Txn: compares, branches, nesting, revision rules and request checks (etcd semantics §3.4).
let transactionCases: [ConformanceCase] = [
    ConformanceCase("every compare target and operator, on present and missing keys") { store in
        try await put(store, "k", "m")  // rev 2
        try await put(store, "k", "n")  // rev 3: version 2, create 2, mod 3
        let holding: [Compare] = [
            compare("k", .version(2), .equal), compare("k", .version(1), .greater), compare("k", .version(3), .less),
            compare("k", .version(1), .notEqual), compare("k", .createRevision(2), .equal),
            compare("k", .modRevision(3), .equal), compare("k", .modRevision(2), .greater),
            compare("k", .value(bytes("n")), .equal), compare("k", .value(bytes("m")), .greater),
            compare("k", .value(bytes("o")), .less), compare("k", .lease(0), .equal),
            // Absent keys compare as a zero KeyValue.
            compare("absent", .modRevision(0), .equal), compare("absent", .version(0), .equal),
            compare("absent", .createRevision(1), .less),
        ]
        let failing: [Compare] = [
            compare("k", .version(2), .notEqual), compare("k", .value(bytes("n")), .notEqual),
            compare("k", .lease(1), .equal),
            // VALUE on a missing key is false whatever the operator.
            compare("absent", .value([]), .equal), compare("absent", .value(bytes("x")), .notEqual),
        ]
        for item in holding {
            let result = try await store.txn(TxnRequest(compares: [item]))
            try expect(result.succeeded, "expected \(item) to hold")
        }
        for item in failing {
            let result = try await store.txn(TxnRequest(compares: [item]))
            try expect(!result.succeeded, "expected \(item) to fail")
        }
        try expectEqual(store.revision, 3, "read-only txns add no revision")
    },
    ConformanceCase("a range compare must hold for every key in it") { store in
        try await put(store, "r/a", "1")
        try await put(store, "r/b", "1")
        try await put(store, "r/b", "2")
        let range = prefix("r/")
        var result = try await store.txn(
            TxnRequest(compares: [Compare(range: range, target: .version(0), comparison: .greater)]))
        try expect(result.succeeded, "all versions > 0")
        result = try await store.txn(
            TxnRequest(compares: [Compare(range: range, target: .version(1), comparison: .equal)]))
        try expect(!result.succeeded, "r/b has version 2")
        result = try await store.txn(
            TxnRequest(compares: [Compare(range: prefix("none/"), target: .modRevision(0), comparison: .equal)]))
        try expect(result.succeeded, "an empty range compares as a zero KeyValue")
    },
    ConformanceCase("the taken branch runs; a write txn adds one revision equal to its puts' mod revision") { store in
        let create = TxnRequest(
            compares: [compare("obj", .modRevision(0), .equal)],
            success: [putOperation("obj", "v1"), putOperation("other", "x")],
            failure: [.range(RangeRequest(range: .single(bytes("obj"))))])
        var result = try await store.txn(create)
        try expect(result.succeeded, "create succeeds")
        try expectEqual(result.revision, 2)
        try expectEqual(try await get(store, "obj")?.modRevision, 2)
        try expectEqual(try await get(store, "other")?.modRevision, 2)
        guard case .put(let first) = result.results[0] else {
            throw ConformanceFailure(message: "put result", location: "")
        }
        try expectEqual(first.revision, 2)
        result = try await store.txn(create)
        try expect(!result.succeeded, "second create fails")
        try expectEqual(result.revision, 2)
        guard case .range(let current) = result.results[0] else {
            throw ConformanceFailure(message: "range result", location: "")
        }
        try expectEqual(current.keyValues.first?.value, bytes("v1"))
        // A write txn whose ops delete nothing adds no revision.
        result = try await store.txn(TxnRequest(success: [.delete(DeleteRequest(range: .single(bytes("absent"))))]))
        try expectEqual(result.revision, 2)
        try expectEqual(store.revision, 2)
    },
    ConformanceCase("ranges in a txn see the txn's earlier writes; nested compares do not") { store in
        try await put(store, "a", "old")
        let request = TxnRequest(success: [
            putOperation("a", "new"),
            .range(RangeRequest(range: .single(bytes("a")))),
            .txn(
                TxnRequest(
                    compares: [compare("a", .value(bytes("old")), .equal)],
                    success: [putOperation("saw-old")], failure: [putOperation("saw-new")])),
        ])
        let result = try await store.txn(request)
        guard case .range(let range) = result.results[1] else {
            throw ConformanceFailure(message: "range", location: "")
        }
        try expectEqual(range.keyValues.first?.value, bytes("new"))
        try expectEqual(range.revision, 3, "range header inside a write txn")
        guard case .txn(let nested) = result.results[2] else {
            throw ConformanceFailure(message: "nested", location: "")
        }
        try expect(nested.succeeded, "nested compare sees the snapshot before the txn")
        try expect(try await get(store, "saw-old") != nil, "then-branch of nested txn ran")
        try expectEqual(try await get(store, "saw-old")?.modRevision, 3)
        try expectEqual(store.revision, 3)
    },
    ConformanceCase("too many operations, empty keys and empty ops are refused") { store in
        try await put(store, "a", "1")
        let ops = (0..<129).map { putOperation("k\($0)") }
        try await expectRejected(store, .tooManyOperations) { try await store.txn(TxnRequest(success: ops)) }
        let compares = (0..<129).map { _ in compare("a", .version(1), .equal) }
        try await expectRejected(store, .tooManyOperations) { try await store.txn(TxnRequest(compares: compares)) }
        // Nested txns share the budget left by their parent.
        let nested = TxnRequest(success: (0..<100).map { putOperation("n\($0)") })
        let parent = TxnRequest(success: (0..<28).map { putOperation("p\($0)") } + [.txn(nested)])
        try await expectRejected(store, .tooManyOperations) { try await store.txn(parent) }
        _ = try await store.txn(TxnRequest(success: (0..<128).map { putOperation("k\($0)") }))
        try await expectRejected(store, .emptyKey) {
            try await store.txn(TxnRequest(compares: [compare("", .version(0), .equal)]))
        }
        try await expectRejected(store, .emptyKey) { try await store.txn(TxnRequest(failure: [putOperation("")])) }
        try await expectRejected(store, .keyNotFound) { try await store.txn(TxnRequest(success: [.empty])) }
    },
    ConformanceCase("duplicate keys in a txn follow etcd's table") { store in
        let put = putOperation("abc", "def")
        let deleteKey = TxnOperation.delete(DeleteRequest(range: .single(bytes("abc"))))
        let deleteInRange = TxnOperation.delete(DeleteRequest(range: .interval(start: bytes("a"), end: bytes("b"))))
        let deleteOutOfRange = TxnOperation.delete(
            DeleteRequest(range: .interval(start: bytes("abb"), end: bytes("abc"))))
        let nestedDelete = TxnOperation.txn(TxnRequest(success: [deleteInRange]))
        let nestedDeleteTwoSided = TxnOperation.txn(TxnRequest(success: [deleteInRange], failure: [deleteInRange]))
        let nestedPut = TxnOperation.txn(TxnRequest(success: [put]))
        let nestedPutTwoSided = TxnOperation.txn(TxnRequest(success: [put], failure: [put]))
        let refused: [[TxnOperation]] = [
            [put, put], [put, deleteKey], [put, deleteInRange], [put, nestedDelete], [deleteInRange, nestedPut],
            [nestedPutTwoSided, nestedPutTwoSided],
        ]
        let accepted: [[TxnOperation]] = [
            [deleteOutOfRange, nestedPutTwoSided], [nestedDelete, nestedDeleteTwoSided],
            [deleteKey, deleteInRange, deleteKey, deleteInRange], [put, deleteOutOfRange],
        ]
        for operations in refused {
            try await expectRejected(store, .duplicateKey) { try await store.txn(TxnRequest(success: operations)) }
            try await expectRejected(store, .duplicateKey) { try await store.txn(TxnRequest(failure: operations)) }
        }
        for operations in accepted { _ = try await store.txn(TxnRequest(success: operations)) }
    },
    ConformanceCase("a failing op in the taken branch fails the whole txn and changes nothing") { store in
        try await put(store, "a", "1")
        var ignoring = PutRequest(key: bytes("missing"), value: [])
        ignoring.ignoreValue = true
        try await expectRejected(store, .keyNotFound) {
            try await store.txn(TxnRequest(success: [putOperation("b"), .put(ignoring)]))
        }
        try await expectRejected(store, .leaseNotFound) {
            try await store.txn(
                TxnRequest(success: [putOperation("b"), .put(PutRequest(key: bytes("c"), value: [], lease: 7))]))
        }
        var future = RangeRequest(range: .single(bytes("a")))
        future.revision = 99
        try await expectRejected(store, .futureRevision) {
            try await store.txn(TxnRequest(success: [putOperation("b"), .range(future)]))
        }
        // The branch not taken is not checked.
        let result = try await store.txn(
            TxnRequest(
                compares: [compare("a", .version(1), .equal)], success: [putOperation("b")], failure: [.put(ignoring)]))
        try expect(result.succeeded, "then-branch taken")
    },
]
