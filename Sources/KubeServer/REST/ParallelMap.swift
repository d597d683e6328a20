import Foundation

/// Work on every element of a large collection spread over the machine's cores, in chunks, keeping order: decoding
/// and printing a 10,000-object list is CPU work that one thread would do alone.
enum ParallelMap {
    /// Below this many elements the work stays on the caller's task.
    static let threshold = 512

    static func map<Element: Sendable, Result: Sendable>(
        _ elements: [Element], _ transform: @escaping @Sendable (Element) throws -> Result
    ) async throws -> [Result] {
        guard elements.count >= threshold else { return try elements.map(transform) }
        let chunkSize = max(threshold / 2, elements.count / (System.coreCount * 4) + 1)
        let chunks = stride(from: 0, to: elements.count, by: chunkSize).map {
            Array(elements[$0..<min($0 + chunkSize, elements.count)])
        }
        return try await withThrowingTaskGroup(of: (Int, [Result]).self) { group in
            for (index, chunk) in chunks.enumerated() {
                group.addTask { (index, try chunk.map(transform)) }
            }
            var results = [[Result]](repeating: [], count: chunks.count)
            for try await (index, mapped) in group { results[index] = mapped }
            return results.flatMap { $0 }
        }
    }
}

enum System {
    static let coreCount = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
}
