/// Gives freed heap back to the system after a large answer. A 10,000-object list parses tens of MiB into JSON
/// values and frees them again; glibc's malloc keeps such freed pages in its arenas (one per thread that
/// allocated), so the server's RSS would stay at its peak. `malloc_trim` returns them.
enum MemoryRelease {
    /// Answers at least this large are followed by a trim.
    static let thresholdBytes = 4 << 20

    static func afterAnswer(bytes: Int) {
        guard bytes >= thresholdBytes else { return }
        #if os(Linux)
            _ = glibcMallocTrim(0)
        #endif
    }
}

#if os(Linux)
    // glibc's `int malloc_trim(size_t pad)`; Swift's Glibc module does not export it.
    @_silgen_name("malloc_trim")
    private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
