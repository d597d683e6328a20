import EtcdAPI
import Foundation
import SwiftProtobuf

/// Valid inputs to start fuzzing from (`scripts/fuzz --seed` writes them into the corpus): one well-formed
/// request per RPC for the `requests` target, and whole client sessions, HTTP/2 and HTTP/1, for `connection`.
public enum FuzzSeeds {
    /// A `requests` input for each RPC, with a realistic message where one is easy to make.
    public static func requests() -> [[UInt8]] {
        var put = Etcdserverpb_PutRequest()
        put.key = Data("fuzz/a".utf8)
        put.value = Data("1".utf8)
        put.prevKv = true
        var range = Etcdserverpb_RangeRequest()
        range.key = Data("fuzz/".utf8)
        range.rangeEnd = Data("fuzz0".utf8)
        range.limit = 10
        range.sortOrder = .descend
        range.sortTarget = .mod
        var delete = Etcdserverpb_DeleteRangeRequest()
        delete.key = Data("fuzz/".utf8)
        delete.rangeEnd = Data("fuzz0".utf8)
        delete.prevKv = true
        var txn = Etcdserverpb_TxnRequest()
        var compare = Etcdserverpb_Compare()
        compare.key = put.key
        compare.target = .mod
        compare.result = .equal
        compare.modRevision = 0
        txn.compare = [compare]
        var success = Etcdserverpb_RequestOp()
        success.requestPut = put
        var failure = Etcdserverpb_RequestOp()
        failure.requestRange = range
        txn.success = [success]
        txn.failure = [failure]
        var compact = Etcdserverpb_CompactionRequest()
        compact.revision = 2
        var grant = Etcdserverpb_LeaseGrantRequest()
        grant.ttl = 60
        grant.id = 7
        var revoke = Etcdserverpb_LeaseRevokeRequest()
        revoke.id = 7
        var timeToLive = Etcdserverpb_LeaseTimeToLiveRequest()
        timeToLive.id = 7
        timeToLive.keys = true
        var alarm = Etcdserverpb_AlarmRequest()
        alarm.action = .get
        var hashKV = Etcdserverpb_HashKVRequest()
        hashKV.revision = 0
        var userAdd = Etcdserverpb_AuthUserAddRequest()
        userAdd.name = "fuzz"
        userAdd.password = "pw"
        var roleAdd = Etcdserverpb_AuthRoleAddRequest()
        roleAdd.name = "reader"
        var grantPermission = Etcdserverpb_AuthRoleGrantPermissionRequest()
        grantPermission.name = "reader"
        grantPermission.perm.key = Data("fuzz/".utf8)
        grantPermission.perm.rangeEnd = Data("fuzz0".utf8)
        grantPermission.perm.permType = .read

        let messages: [String: any SwiftProtobuf.Message] = [
            "/etcdserverpb.KV/Range": range, "/etcdserverpb.KV/Put": put, "/etcdserverpb.KV/DeleteRange": delete,
            "/etcdserverpb.KV/Txn": txn, "/etcdserverpb.KV/Compact": compact,
            "/etcdserverpb.Lease/LeaseGrant": grant, "/etcdserverpb.Lease/LeaseRevoke": revoke,
            "/etcdserverpb.Lease/LeaseTimeToLive": timeToLive, "/etcdserverpb.Maintenance/Alarm": alarm,
            "/etcdserverpb.Maintenance/HashKV": hashKV, "/etcdserverpb.Auth/UserAdd": userAdd,
            "/etcdserverpb.Auth/RoleAdd": roleAdd, "/etcdserverpb.Auth/RoleGrantPermission": grantPermission,
        ]
        var seeds: [[UInt8]] = []
        for (index, path) in FuzzTraffic.unaryMethods.enumerated() {
            let body: [UInt8] = messages[path].flatMap { try? $0.serializedBytes() } ?? []
            seeds.append([UInt8(index)] + body)
        }
        // Streams: each message is a one-byte length, then the message.
        var create = Etcdserverpb_WatchRequest()
        create.createRequest.key = Data("fuzz/".utf8)
        create.createRequest.rangeEnd = Data("fuzz0".utf8)
        create.createRequest.startRevision = 1
        create.createRequest.prevKv = true
        create.createRequest.progressNotify = true
        var progress = Etcdserverpb_WatchRequest()
        progress.progressRequest = Etcdserverpb_WatchProgressRequest()
        var cancel = Etcdserverpb_WatchRequest()
        cancel.cancelRequest.watchID = 0
        var keepAlive = Etcdserverpb_LeaseKeepAliveRequest()
        keepAlive.id = 7
        let streams: [[any SwiftProtobuf.Message]] = [
            [create, progress, cancel], [keepAlive, keepAlive], [Etcdserverpb_SnapshotRequest()],
        ]
        for (offset, stream) in streams.enumerated() {
            var input: [UInt8] = [UInt8(FuzzTraffic.unaryMethods.count + offset)]
            for message in stream {
                let bytes: [UInt8] = (try? message.serializedBytes()) ?? []
                input += [UInt8(bytes.count)] + bytes
            }
            seeds.append(input)
        }
        return seeds
    }

    /// `connection` inputs: whole sessions as a client would send them.
    public static func connections() -> [[UInt8]] {
        var put = Etcdserverpb_PutRequest()
        put.key = Data("fuzz/b".utf8)
        put.value = Data("2".utf8)
        var range = Etcdserverpb_RangeRequest()
        range.key = Data("fuzz/b".utf8)
        var watch = Etcdserverpb_WatchRequest()
        watch.createRequest.key = Data("fuzz/".utf8)
        let bytes = { (message: any SwiftProtobuf.Message) -> [UInt8] in (try? message.serializedBytes()) ?? [] }

        let start: [UInt8] = HTTP2Frames.preface + HTTP2Frames.settings([(0x3, 100), (0x4, 65_535)])
        let putSession: [UInt8] =
            start + HTTP2Frames.request(stream: 1, path: "/etcdserverpb.KV/Put", message: bytes(put))
        var twoRanges: [UInt8] = start
        twoRanges += HTTP2Frames.request(stream: 1, path: "/etcdserverpb.KV/Range", message: bytes(range))
        twoRanges += HTTP2Frames.request(stream: 3, path: "/etcdserverpb.KV/Range", message: bytes(range))
        var watchThenCancel: [UInt8] = start
        watchThenCancel += HTTP2Frames.request(
            stream: 1, path: "/etcdserverpb.Watch/Watch", message: bytes(watch), end: false)
        watchThenCancel += HTTP2Frames.frame(type: 0x8, flags: 0, stream: 1, payload: [0, 0, 0x10, 0])  // WINDOW_UPDATE
        watchThenCancel += HTTP2Frames.frame(type: 0x3, flags: 0, stream: 1, payload: [0, 0, 0, 8])  // RST_STREAM
        var pingThenGoaway: [UInt8] = start
        pingThenGoaway += HTTP2Frames.frame(type: 0x6, flags: 0, stream: 0, payload: [UInt8](repeating: 1, count: 8))
        pingThenGoaway += HTTP2Frames.frame(type: 0x7, flags: 0, stream: 0, payload: [UInt8](repeating: 0, count: 8))
        let unknownMethod: [UInt8] = start + HTTP2Frames.request(stream: 1, path: "/etcdserverpb.KV/Nope", message: [])
        return [
            putSession, twoRanges, watchThenCancel, pingThenGoaway, unknownMethod,
            Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8),
            Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8),
            Array("POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}".utf8),
        ]
    }
}

/// Just enough HTTP/2 to write seeds by hand: frames, SETTINGS, and HEADERS in HPACK literals (no Huffman, no
/// table), so the fuzzer starts from sessions a server accepts.
public enum HTTP2Frames {
    public static let preface = Data("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    public static func frame(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags]
            + withUnsafeBytes(of: (stream & 0x7FFF_FFFF).bigEndian, Array.init) + payload
    }

    public static func settings(_ values: [(UInt16, UInt32)]) -> [UInt8] {
        var payload: [UInt8] = []
        for (identifier, value) in values {
            payload += withUnsafeBytes(of: identifier.bigEndian, Array.init)
            payload += withUnsafeBytes(of: value.bigEndian, Array.init)
        }
        return frame(type: 0x4, flags: 0, stream: 0, payload: payload)
    }

    /// A gRPC request: HEADERS, then one length-prefixed message in a DATA frame (END_STREAM unless `end` is false).
    public static func request(stream: UInt32, path: String, message: [UInt8], end: Bool = true) -> [UInt8] {
        let fields = [
            (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "127.0.0.1"),
            ("content-type", "application/grpc"), ("te", "trailers"),
        ]
        var block: [UInt8] = []
        for (name, value) in fields {
            block.append(0)  // literal header field without indexing, new name
            block += string(name)
            block += string(value)
        }
        let length = UInt32(message.count)
        let data: [UInt8] = [0] + withUnsafeBytes(of: length.bigEndian, Array.init) + message
        return frame(type: 0x1, flags: 0x4, stream: stream, payload: block)
            + frame(type: 0x0, flags: end ? 0x1 : 0, stream: stream, payload: data)
    }

    /// An HPACK string literal: a 7-bit-prefix length (no Huffman), then the bytes.
    private static func string(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var encoded: [UInt8] = []
        var length = bytes.count
        if length < 127 {
            encoded.append(UInt8(length))
        } else {
            encoded.append(127)
            length -= 127
            while length >= 128 {
                encoded.append(UInt8(length & 0x7F | 0x80))
                length >>= 7
            }
            encoded.append(UInt8(length))
        }
        return encoded + bytes
    }
}
