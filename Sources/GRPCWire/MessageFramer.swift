import Synchronization

/// gRPC's length-prefixed message framing (gRPC over HTTP/2 spec, "Length-Prefixed-Message"): a 1-byte
/// compressed flag, a 4-byte big-endian length, then the message bytes. Messages can span DATA frames and one
/// DATA frame can carry several messages.
struct MessageDeframer {
    enum Failure: Equatable {
        /// The length prefix announced a message over the receive limit; nothing of it was buffered.
        case tooLarge(length: Int, limit: Int)
        /// The compressed flag was set (Kelson implements no compression).
        case compressed(flag: UInt8)
    }

    let limit: Int
    private var headerBytes = 0
    private var header: UInt64 = 0
    private var bodyRemaining = 0
    private var body: [UInt8] = []

    init(limit: Int) { self.limit = limit }

    /// True when no partial message is buffered.
    var isIdle: Bool { headerBytes == 0 && bodyRemaining == 0 }

    /// Feeds one chunk, calling `emit` for every complete message. Stops at the first failure.
    mutating func process(_ chunk: UnsafeRawBufferPointer, _ emit: ([UInt8]) -> Void) -> Failure? {
        var index = 0
        while index < chunk.count {
            if bodyRemaining > 0 {
                let take = min(bodyRemaining, chunk.count - index)
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[index..<index + take]))
                index += take
                bodyRemaining -= take
                if bodyRemaining == 0 {
                    emit(body)
                    body = []
                }
                continue
            }
            header = header << 8 | UInt64(chunk[index])
            headerBytes += 1
            index += 1
            guard headerBytes == 5 else { continue }
            let flag = UInt8(truncatingIfNeeded: header >> 32)
            let length = Int(header & 0xFFFF_FFFF)
            headerBytes = 0
            header = 0
            if flag != 0 { return .compressed(flag: flag) }
            if length > limit { return .tooLarge(length: length, limit: limit) }
            if length == 0 {
                emit([])
            } else if chunk.count - index >= length {
                // Whole message inside this chunk: one exact-size copy.
                emit(Array(UnsafeRawBufferPointer(rebasing: chunk[index..<index + length])))
                index += length
            } else {
                body.reserveCapacity(length)
                bodyRemaining = length
            }
        }
        return nil
    }
}

/// Messages waiting to go out as DATA on one stream, framed lazily: nghttp2's data-source read callback copies
/// the prefix and the caller's bytes straight into the frame buffer, so a message is never copied twice.
struct OutboundMessageQueue {
    private var messages = FIFO<[UInt8]>()
    /// Bytes of the head message's framed form (5-byte prefix + body) already copied out.
    private var headOffset = 0
    /// Framed bytes queued and not yet copied out.
    private(set) var queuedBytes = 0

    var isEmpty: Bool { messages.isEmpty }

    mutating func append(_ message: [UInt8]) {
        messages.append(message)
        queuedBytes += message.count + 5
    }

    /// Copies as many framed bytes as fit into `buffer`; returns the number written.
    mutating func copyOut(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var written = 0
        while written < buffer.count, let message = messages.first {
            let length = message.count
            while headOffset < 5, written < buffer.count {
                let byte: UInt8 = headOffset == 0 ? 0 : UInt8(truncatingIfNeeded: length >> (8 * (4 - headOffset)))
                buffer[written] = byte
                written += 1
                headOffset += 1
            }
            let bodyOffset = headOffset - 5
            let take = min(length - bodyOffset, buffer.count - written)
            if take > 0 {
                message.withUnsafeBytes { bytes in
                    UnsafeMutableRawBufferPointer(rebasing: buffer[written..<written + take])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[bodyOffset..<bodyOffset + take]))
                }
                written += take
                headOffset += take
            }
            if headOffset == length + 5 {
                _ = messages.popFirst()
                headOffset = 0
            }
        }
        queuedBytes -= written
        return written
    }
}

/// Bytes a streaming call's `send` has handed over that the event loop has not yet copied into DATA frames.
/// `send` returns without suspending (one fire-and-forget hop to the event loop) while this stays within
/// `boundBytes`; past it the sender waits until the data provider has drained the queue (backpressure).
final class OutboundBudget: Sendable {
    static let boundBytes = 256 * 1024
    private let pending = Atomic<Int>(0)

    /// Charges a message (with its 5-byte prefix); true when the sender may go on without waiting.
    func charge(messageBytes: Int) -> Bool {
        pending.add(messageBytes + 5, ordering: .relaxed).newValue <= Self.boundBytes
    }

    func release(_ bytes: Int) { pending.subtract(bytes, ordering: .relaxed) }

    var isWithinBound: Bool { pending.load(ordering: .relaxed) <= Self.boundBytes }
}

/// A first-in first-out queue on an array with a moving head; popped slots are cleared at once (so popped
/// messages are freed) and the array is compacted when the consumed prefix dominates.
struct FIFO<Element> {
    private var storage: [Element?] = []
    private var head = 0

    var isEmpty: Bool { head == storage.count }
    var count: Int { storage.count - head }
    var first: Element? { head < storage.count ? storage[head] : nil }

    mutating func append(_ element: Element) { storage.append(element) }

    mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head].take()
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: storage.count <= 1024)
            head = 0
        } else if head >= 1024, head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }

    mutating func removeAll() {
        storage = []
        head = 0
    }
}
