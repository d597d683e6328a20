import Testing

@testable import KubeAgent

/// SPDY/3.1 frames through the encoder and decoder, header blocks through one zlib context per direction.
@Suite("SPDY framing")
struct SPDYFramingTests {
    @Test func dictionaryIsSPDY3s() {
        // The dictionary id a SPDY/3 zlib stream carries is the dictionary's adler-32.
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in SPDYDictionary.bytes {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        #expect(SPDYDictionary.bytes.count == 1423)
        #expect(b << 16 | a == 0xe3c6_a7c2)
    }

    @Test func everyFrameRoundTrips() throws {
        let headers = SPDYHeaders([("streamType", "data"), ("port", "8000"), ("requestID", "0")])
        let frames: [SPDYFrame] = [
            .synStream(streamID: 1, associatedTo: 0, priority: 0, flags: 0, headers: headers),
            .synReply(streamID: 1, fin: false, headers: SPDYHeaders()),
            // The second block is compressed against the first: the contexts must stay in step.
            .synStream(streamID: 3, associatedTo: 0, priority: 0, flags: 1, headers: headers),
            .headers(streamID: 3, fin: true, headers: SPDYHeaders([("x", "a\0b")])),
            .data(streamID: 1, fin: false, payload: Array("hello".utf8)),
            .data(streamID: 1, fin: true, payload: []),
            .rstStream(streamID: 3, status: 5),
            .settings(clearPersisted: false, entries: [SPDYSetting(flags: 0, id: 7, value: 65536)]),
            .ping(id: 1),
            .goAway(lastGoodStreamID: 3, status: 0),
            .windowUpdate(streamID: 1, delta: 32768),
        ]
        let encoder = SPDYFrameEncoder()
        let decoder = SPDYFrameDecoder()
        var decoded: [SPDYFrame] = []
        // Fed a byte at a time: frames must come out whole whatever the chunking.
        for frame in frames {
            for byte in encoder.encode(frame) {
                decoder.append([byte])
                while let next = try decoder.next() { decoded.append(next) }
            }
        }
        #expect(decoded == frames)
        #expect(headers["streamtype"] == "data")
        #expect(SPDYHeaders([("x", "a\0b")])["x"] == "a")
    }

    @Test func controlFrameLayoutIsSPDY3() {
        let bytes = SPDYFrameEncoder().encode(.ping(id: 7))
        #expect(bytes == [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 7])
        let data = SPDYFrameEncoder().encode(.data(streamID: 5, fin: true, payload: [9]))
        #expect(data == [0, 0, 0, 5, 0x01, 0, 0, 1, 9])
    }

    @Test func oversizedFramesAreRefused() {
        let decoder = SPDYFrameDecoder()
        decoder.append([0, 0, 0, 1, 0, 0xff, 0xff, 0xff])
        #expect(throws: SPDYFrameDecoder.ProtocolError.self) { try decoder.next() }
    }

    @Test func unknownVersionIsRefused() {
        let decoder = SPDYFrameDecoder()
        decoder.append([0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1])
        #expect(throws: SPDYFrameDecoder.ProtocolError.self) { try decoder.next() }
    }
}
