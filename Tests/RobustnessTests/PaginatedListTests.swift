import Robustness
import Testing

/// Lists paged as kube-apiserver pages them: the whole list must be the state at the first page's revision, cut into
/// `limit`-sized pages with etcd's `count` and `more`.
@Suite("paginated lists")
struct PaginatedListTests {
    typealias KeyValue = Operation.KeyValue

    /// The pages etcd answers for `keyValues` (the whole range at `revision`), `limit` per page; later pages' headers
    /// carry `laterHeader` (the store may have moved on meanwhile).
    static func pages(
        _ keyValues: [KeyValue], limit: Int64, revision: Int64, laterHeader: Int64? = nil
    ) -> Operation.Response {
        var pages: [Operation.Page] = []
        var left = keyValues[...]
        repeat {
            let page = left.prefix(Int(limit))
            pages.append(
                Operation.Page(
                    keyValues: Array(page), more: left.count > page.count, count: Int64(left.count),
                    headerRevision: pages.isEmpty ? revision : laterHeader ?? revision))
            left = left.dropFirst(page.count)
        } while !left.isEmpty
        return .list(revision: revision, pages: pages)
    }

    static let a2 = KeyValue(key: "/p/a", value: "1", modRevision: 2)
    static let b3 = KeyValue(key: "/p/b", value: "1", modRevision: 3)
    static let c4 = KeyValue(key: "/p/c", value: "1", modRevision: 4)
    static let c5 = KeyValue(key: "/p/c", value: "2", modRevision: 5)

    /// Three creates (revisions 2-4), then `during` overlapping a list of `/p/` with `limit` answered `listed`.
    static func history(_ listed: Operation.Response, limit: Int64 = 2, during: [Operation] = []) -> History {
        let op = LinearizabilityCheckerTests.op
        return History(
            [
                op(1, 0, 10, .put(key: "/p/a", value: "1"), .put(revision: 2)),
                op(1, 11, 20, .put(key: "/p/b", value: "1"), .put(revision: 3)),
                op(1, 21, 30, .put(key: "/p/c", value: "1"), .put(revision: 4)),
                op(2, 31, 60, .list(prefix: "/p/", limit: limit), listed),
            ] + during)
    }

    let checker = LinearizabilityChecker()

    @Test("a list read page by page at its first page's revision is linearizable, writes meanwhile or not")
    func acceptsConsistentLists() {
        #expect(
            checker.check(Self.history(Self.pages([Self.a2, Self.b3, Self.c4], limit: 2, revision: 4))) == .linearizable
        )
        // A write that lands after the first page: the second page still reads revision 4 (its header says 5).
        let update = LinearizabilityCheckerTests.op(
            1, 45, 50, .update(key: "/p/b", modRevision: 3, value: "2"), .txn(succeeded: true, revision: 5))
        let listed = Self.pages([Self.a2, Self.b3, Self.c4], limit: 2, revision: 4, laterHeader: 5)
        #expect(checker.check(Self.history(listed, during: [update])) == .linearizable)
        // Every page size, one key per page included; an empty prefix is one page saying no more.
        for limit: Int64 in 1...4 {
            let listed = Self.pages([Self.a2, Self.b3, Self.c4], limit: limit, revision: 4)
            #expect(checker.check(Self.history(listed, limit: limit)) == .linearizable)
        }
        let empty = History([
            LinearizabilityCheckerTests.op(
                1, 0, 10, .list(prefix: "/q/", limit: 2),
                .list(revision: 1, pages: [Operation.Page(keyValues: [], more: false, count: 0, headerRevision: 1)]))
        ])
        #expect(checker.check(empty) == .linearizable)
    }

    @Test("a later page that read the latest state instead of the first page's revision is caught")
    func laterPageAtTheWrongRevision() {
        let update = LinearizabilityCheckerTests.op(
            1, 35, 40, .update(key: "/p/c", modRevision: 4, value: "2"), .txn(succeeded: true, revision: 5))
        // First page [a, b] at revision 4, then [c@5]: c's new value is not in the state at revision 4.
        let mixed = Operation.Response.list(
            revision: 4,
            pages: [
                Operation.Page(keyValues: [Self.a2, Self.b3], more: true, count: 3, headerRevision: 4),
                Operation.Page(keyValues: [Self.c5], more: false, count: 1, headerRevision: 5),
            ])
        let history = Self.history(mixed, during: [update])
        #expect(checker.check(history) != .linearizable)
        #expect(!RevisionAudit.problems(history, startRevision: 1).isEmpty)
    }

    @Test("a key skipped between pages, a wrong count, or a last page still saying more is caught")
    func brokenPagination() {
        let skipped = Operation.Response.list(
            revision: 4,
            pages: [
                Operation.Page(keyValues: [Self.a2], more: true, count: 3, headerRevision: 4),
                Operation.Page(keyValues: [Self.c4], more: false, count: 1, headerRevision: 4),
            ])
        let wrongCount = Operation.Response.list(
            revision: 4,
            pages: [
                Operation.Page(keyValues: [Self.a2, Self.b3], more: true, count: 2, headerRevision: 4),
                Operation.Page(keyValues: [Self.c4], more: false, count: 1, headerRevision: 4),
            ])
        let endless = Operation.Response.list(
            revision: 4,
            pages: [
                Operation.Page(keyValues: [Self.a2, Self.b3], more: true, count: 3, headerRevision: 4),
                Operation.Page(keyValues: [Self.c4], more: true, count: 1, headerRevision: 4),
            ])
        for listed in [skipped, wrongCount, endless] {
            let history = Self.history(listed)
            #expect(checker.check(history) != .linearizable, "\(listed)")
            #expect(!RevisionAudit.problems(history, startRevision: 1).isEmpty, "\(listed)")
        }
    }

    @Test("a list that missed a write acknowledged before it started is caught")
    func staleList() {
        // Revision 4 (c) was acknowledged at 30; a list from 31 must not answer the state at revision 3.
        let stale = Self.pages([Self.a2, Self.b3], limit: 2, revision: 3)
        #expect(checker.check(Self.history(stale)) != .linearizable)
    }
}
