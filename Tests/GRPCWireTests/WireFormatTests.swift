import Testing

@testable import GRPCWire

@Suite("Wire formats")
struct WireFormatTests {
    @Test func timeoutParsing() {
        #expect(GRPCTimeout.parse("1H") == .seconds(3600))
        #expect(GRPCTimeout.parse("2M") == .seconds(120))
        #expect(GRPCTimeout.parse("3S") == .seconds(3))
        #expect(GRPCTimeout.parse("200m") == .milliseconds(200))
        #expect(GRPCTimeout.parse("99999999u") == .microseconds(99_999_999))
        #expect(GRPCTimeout.parse("5n") == .nanoseconds(5))
        #expect(GRPCTimeout.parse("123456789S") == nil)  // more than 8 digits
        #expect(GRPCTimeout.parse("S") == nil)
        #expect(GRPCTimeout.parse("10x") == nil)
        #expect(GRPCTimeout.parse("1 S") == nil)
    }

    @Test func timeoutFormattingMatchesGrpcGo() {
        #expect(GRPCTimeout.format(.zero) == "0n")
        #expect(GRPCTimeout.format(.milliseconds(200)) == "200000u")
        #expect(GRPCTimeout.format(.seconds(5)) == "5000000u")
        #expect(GRPCTimeout.format(.seconds(1000)) == "1000000m")
        #expect(GRPCTimeout.format(.seconds(200_000)) == "200000S")
        #expect(GRPCTimeout.parse(GRPCTimeout.format(.milliseconds(1234))) == .milliseconds(1234))
    }

    @Test func statusMessagePercentEncoding() {
        let message = "100% sure: ünï\ncode ✓"
        let encoded = StatusMessageCoding.encode(message)
        #expect(String(decoding: encoded, as: UTF8.self) == "100%25 sure: %C3%BCn%C3%AF%0Acode %E2%9C%93")
        let decoded = encoded.withUnsafeBytes { StatusMessageCoding.decode($0) }
        #expect(decoded == message)
        let malformed = Array("50%zz and 7%".utf8).withUnsafeBytes { StatusMessageCoding.decode($0) }
        #expect(malformed == "50%zz and 7%")
    }

    @Test func deframerAcrossChunks() {
        var deframer = MessageDeframer(limit: 100)
        let wire: [UInt8] = [0, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 9, 8]
        var messages: [[UInt8]] = []
        for byte in wire {
            let failure = [byte].withUnsafeBytes { deframer.process($0) { messages.append($0) } }
            #expect(failure == nil)
        }
        #expect(messages == [[1, 2, 3], [], [9, 8]])
        #expect(deframer.isIdle)
        messages = []
        let failure = wire.withUnsafeBytes { deframer.process($0) { messages.append($0) } }
        #expect(failure == nil)
        #expect(messages == [[1, 2, 3], [], [9, 8]])
    }

    @Test func deframerRejectsOversizeAndCompressed() {
        var deframer = MessageDeframer(limit: 10)
        let tooLarge: [UInt8] = [0, 0, 0, 0, 11]
        #expect(tooLarge.withUnsafeBytes { deframer.process($0) { _ in } } == .tooLarge(length: 11, limit: 10))
        var other = MessageDeframer(limit: 10)
        let compressed: [UInt8] = [1, 0, 0, 0, 1, 7]
        #expect(compressed.withUnsafeBytes { other.process($0) { _ in } } == .compressed(flag: 1))
    }

    @Test func outboundQueueFramesLazily() {
        var queue = OutboundMessageQueue()
        queue.append([1, 2, 3])
        queue.append([])
        #expect(queue.queuedBytes == 13)
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4)
        while !queue.isEmpty {
            let count = chunk.withUnsafeMutableBytes { queue.copyOut(into: $0) }
            out += chunk[0..<count]
        }
        #expect(out == [0, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0, 0])
        #expect(queue.queuedBytes == 0)
    }

    @Test func metadataLookupIsCaseInsensitive() {
        let metadata = GRPCMetadata([("Authorization", "token"), ("x-a", "1"), ("x-a", "2")])
        #expect(metadata["authorization"] == "token")
        #expect(metadata["AUTHORIZATION"] == "token")
        #expect(metadata["x-a"] == "1")
        #expect(metadata.pairs.map(\.0) == ["authorization", "x-a", "x-a"])
    }

    @Test func statusDescriptionLikeGrpcGo() {
        let status = GRPCStatus(code: .unavailable, message: "gone")
        #expect(status.description == "rpc error: code = Unavailable desc = gone")
        #expect(GRPCStatus.Code.cancelled.description == "Canceled")
    }
}
