import Foundation
import RevisionLog

@testable import PostgresBackend

/// A fresh schema on the test PostgreSQL server (`KELSON_TEST_POSTGRES_URL`, started by `scripts/test`),
/// dropped when the value goes away, so every test starts from an empty store. `url` selects the schema with
/// libpq's `options=-c search_path=…` (a schema is much cheaper to create and drop than a database).
final class TestDatabase: Sendable {
    let url: String
    private let schema: String
    private let adminURL: String

    init() throws {
        adminURL = try PostgresConnectionTests.url()
        schema = "kelson_t_\(UInt64.random(in: 0...UInt64.max))"
        let admin = try PostgresConnection(url: adminURL)
        defer { admin.close() }
        try admin.execute("CREATE SCHEMA \(schema)")
        url = Self.url(adminURL, schema: schema)
    }

    /// `base` with `search_path` set to `schema`.
    static func url(_ base: String, schema: String) -> String {
        base + (base.contains("?") ? "&" : "?") + "options=-c%20search_path%3D" + schema
    }

    deinit {
        if let admin = try? PostgresConnection(url: adminURL) {
            _ = try? admin.execute("DROP SCHEMA \(schema) CASCADE")
            admin.close()
        }
    }
}
