import EtcdAPI
import Foundation
import RevisionLog
import SwiftProtobuf
import Testing

@testable import EtcdServer

@Suite("RangeResponseEncoder writes exactly what SwiftProtobuf writes")
struct RangeResponseEncoderTests {
    private func reference(_ result: RangeResult, _ header: Etcdserverpb_ResponseHeader) throws -> [UInt8] {
        var message = Conversions.rangeResponse(result)
        message.header = header
        return try message.serializedBytes()
    }

    private func header(cluster: UInt64, member: UInt64, revision: Int64, term: UInt64) -> Etcdserverpb_ResponseHeader {
        var header = Etcdserverpb_ResponseHeader()
        header.clusterID = cluster
        header.memberID = member
        header.revision = revision
        header.raftTerm = term
        return header
    }

    @Test("edge cases: empty results, zero and negative numbers, empty keys and values, varint boundaries")
    func edgeCases() throws {
        let values: [Int64] = [0, 1, 127, 128, 16_383, 16_384, Int64(Int32.max), Int64.max, -1, Int64.min]
        let sizes = [0, 1, 127, 128, 16_384]
        var cases: [(RangeResult, Etcdserverpb_ResponseHeader)] = [
            (RangeResult(keyValues: [], more: false, count: 0, revision: 0), Etcdserverpb_ResponseHeader()),
            (
                RangeResult(keyValues: [], more: true, count: 5, revision: 9),
                header(cluster: 1, member: 0, revision: 9, term: 0)
            ),
        ]
        for (index, number) in values.enumerated() {
            let keyValue = KeyValue(
                key: Array(repeating: 0x61, count: sizes[index % sizes.count]), createRevision: number,
                modRevision: 0 &- number, version: number / 2,
                value: Array(repeating: 0xff, count: sizes[(index + 2) % sizes.count]),
                lease: number)
            cases.append(
                (
                    RangeResult(
                        keyValues: [keyValue, keyValue], more: index % 2 == 0, count: number, revision: number),
                    header(cluster: UInt64.max, member: UInt64(index), revision: number, term: 7)
                ))
        }
        for (result, header) in cases {
            #expect(RangeResponseEncoder.encode(result, header: header) == (try reference(result, header)), "\(result)")
        }
    }

    @Test("random lists")
    func randomLists() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let keyValues = (0..<Int.random(in: 0..<50, using: &generator)).map { _ in
                KeyValue(
                    key: (0..<Int.random(in: 0..<40)).map { _ in UInt8.random(in: 0...255) },
                    createRevision: Int64.random(in: 0...1_000_000), modRevision: Int64.random(in: 0...Int64.max),
                    version: Int64.random(in: 0...300),
                    value: (0..<Int.random(in: 0..<600)).map { _ in UInt8.random(in: 0...255) },
                    lease: Bool.random() ? 0 : Int64.random(in: 1...Int64.max))
            }
            let result = RangeResult(
                keyValues: keyValues, more: Bool.random(), count: Int64.random(in: 0...100_000),
                revision: Int64.random(in: 1...10_000_000))
            let header = header(
                cluster: UInt64.random(in: 0...UInt64.max), member: UInt64.random(in: 0...UInt64.max),
                revision: result.revision, term: UInt64.random(in: 0...3))
            #expect(RangeResponseEncoder.encode(result, header: header) == (try reference(result, header)))
        }
    }
}
