/// The non-interactive `etcdctl txn` input: compares, a blank line, success ops, a blank line,
/// failure ops, a blank line (see `etcdctl txn --help` / etcdctl's README for 3.4).
func txnInput(compares: [String] = [], success: [String] = [], failure: [String] = []) -> String {
    func section(_ lines: [String]) -> String { lines.map { $0 + "\n" }.joined() + "\n" }
    return section(compares) + section(success) + section(failure)
}
