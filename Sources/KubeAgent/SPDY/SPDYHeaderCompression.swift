import CZlib

/// A SPDY connection's header blocks, one zlib stream per direction (SPDY/3 §2.6.10): every SYN_STREAM,
/// SYN_REPLY and HEADERS block is compressed in the same stream as the ones before it, starting from
/// `SPDYDictionary`, and ends with a sync flush so the peer can decompress it whole. The state is the
/// connection's: a block sent out of order, or skipped, breaks every later one.
struct SPDYHeaderError: Error, CustomStringConvertible {
    let description: String
}

/// The sending direction's compressor. Not thread-safe: the frame writer owns it.
final class SPDYHeaderDeflater {
    private var stream = z_stream()

    init() {
        // Level 9 as Go's framer; the dictionary makes zlib write its id (FDICT) in the stream header.
        let result = deflateInit_(&stream, 9, zlibVersion(), CInt(MemoryLayout<z_stream>.size))
        precondition(result == Z_OK, "deflateInit: \(result)")
        let dictionary = SPDYDictionary.bytes
        _ = dictionary.withUnsafeBufferPointer { deflateSetDictionary(&stream, $0.baseAddress, uInt($0.count)) }
    }

    deinit { deflateEnd(&stream) }

    /// `block` compressed and sync-flushed: a complete unit for the peer's decompressor.
    func compress(_ block: [UInt8]) -> [UInt8] {
        var input = block
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: max(64, block.count + 64))
        input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(source.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { target -> Int in
                    stream.next_out = target.baseAddress
                    stream.avail_out = uInt(target.count)
                    _ = deflate(&stream, Z_SYNC_FLUSH)
                    return target.count - Int(stream.avail_out)
                }
                output += chunk[..<produced]
            } while stream.avail_out == 0
            stream.next_in = nil
        }
        return output
    }
}

/// The receiving direction's decompressor, with a bound on what one block may expand to.
final class SPDYHeaderInflater {
    private var stream = z_stream()
    /// A header block larger than this once decompressed ends the connection.
    static let blockBytesMaximum = 256 * 1024

    init() {
        let result = inflateInit_(&stream, zlibVersion(), CInt(MemoryLayout<z_stream>.size))
        precondition(result == Z_OK, "inflateInit: \(result)")
    }

    deinit { inflateEnd(&stream) }

    func decompress(_ compressed: [UInt8]) throws(SPDYHeaderError) -> [UInt8] {
        var input = compressed
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var failure: SPDYHeaderError?
        input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(source.count)
            defer { stream.next_in = nil }
            while stream.avail_in > 0 || stream.avail_out == 0 {
                var result: CInt = Z_OK
                let produced = chunk.withUnsafeMutableBufferPointer { target -> Int in
                    stream.next_out = target.baseAddress
                    stream.avail_out = uInt(target.count)
                    result = inflate(&stream, Z_SYNC_FLUSH)
                    if result == Z_NEED_DICT {
                        let dictionary = SPDYDictionary.bytes
                        result = dictionary.withUnsafeBufferPointer {
                            inflateSetDictionary(&stream, $0.baseAddress, uInt($0.count))
                        }
                        if result == Z_OK { result = inflate(&stream, Z_SYNC_FLUSH) }
                    }
                    return target.count - Int(stream.avail_out)
                }
                output += chunk[..<produced]
                if output.count > Self.blockBytesMaximum {
                    failure = SPDYHeaderError(description: "header block larger than \(Self.blockBytesMaximum) bytes")
                    return
                }
                // Z_BUF_ERROR: no progress possible, i.e. all input used and nothing more to flush.
                if result == Z_BUF_ERROR { break }
                guard result == Z_OK else {
                    failure = SPDYHeaderError(description: "header block: zlib error \(result)")
                    return
                }
                if stream.avail_in == 0 && stream.avail_out != 0 { break }
            }
        }
        if let failure { throw failure }
        return output
    }
}
