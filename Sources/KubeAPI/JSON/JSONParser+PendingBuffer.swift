// Where the parser keeps the finished members of containers still open: one buffer for every level, so each
// container is allocated once, at its exact size, when it closes. It holds at most the members of one path through
// the document, so it is bounded by the input's size.

/// A stack of values kept in one allocation; `moveOut` hands the top ones to a new array without copying them.
struct PendingBuffer<Element>: ~Copyable {
    private var base: UnsafeMutablePointer<Element>
    private var capacity: Int
    private(set) var count = 0

    init() {
        capacity = 256
        base = .allocate(capacity: capacity)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    subscript(position: Int) -> Element {
        get { base[position] }
        nonmutating set { base[position] = newValue }
    }

    mutating func append(_ element: consuming Element) {
        if count == capacity {
            let larger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
            larger.moveInitialize(from: base, count: count)
            base.deallocate()
            base = larger
            capacity *= 2
        }
        (base + count).initialize(to: element)
        count += 1
    }

    /// The elements from `start` on, as an array of exactly their number; they leave the buffer.
    mutating func moveOut(from start: Int) -> [Element] {
        let moved = count - start
        count = start
        guard moved > 0 else { return [] }
        let source = base + start
        return Array(unsafeUninitializedCapacity: moved) { buffer, initialized in
            buffer.baseAddress!.moveInitialize(from: source, count: moved)
            initialized = moved
        }
    }
}
