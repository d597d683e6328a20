// DNS messages as RFC 1035 lays them out (section 4.1), with RFC 6891's OPT pseudo-record lifted out of the
// additional section into `edns`. Only what a cluster DNS server reads and writes is modelled: record data whose
// layout we know (A, AAAA, NS, CNAME, SOA, PTR, TXT, SRV) is typed, anything else is kept as raw bytes so a
// message can still be parsed (its names inside unknown rdata cannot be decompressed, so they are never re-encoded
// with different offsets: raw rdata is only ever copied for types without names in them).

/// A record type or query type (RFC 1035 3.2.2/3.2.3, RFC 3596, RFC 2782, RFC 6891).
public struct DNSRecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = DNSRecordType(rawValue: 1)
    public static let ns = DNSRecordType(rawValue: 2)
    public static let cname = DNSRecordType(rawValue: 5)
    public static let soa = DNSRecordType(rawValue: 6)
    public static let ptr = DNSRecordType(rawValue: 12)
    public static let txt = DNSRecordType(rawValue: 16)
    public static let aaaa = DNSRecordType(rawValue: 28)
    public static let srv = DNSRecordType(rawValue: 33)
    public static let opt = DNSRecordType(rawValue: 41)
    public static let any = DNSRecordType(rawValue: 255)

    public var description: String {
        switch self {
        case .a: "A"
        case .ns: "NS"
        case .cname: "CNAME"
        case .soa: "SOA"
        case .ptr: "PTR"
        case .txt: "TXT"
        case .aaaa: "AAAA"
        case .srv: "SRV"
        case .opt: "OPT"
        case .any: "ANY"
        default: "TYPE\(rawValue)"
        }
    }
}

/// RCODE values (RFC 1035 4.1.1).
public enum DNSResponseCode: UInt8, Sendable {
    case noError = 0
    case formatError = 1
    case serverFailure = 2
    case nameError = 3
    case notImplemented = 4
    case refused = 5
}

/// The class IN; the only one a cluster answers for (255 is the query class ANY).
public let dnsClassInternet: UInt16 = 1

/// A domain name as its labels (raw bytes, at most 63 each, at most 255 bytes on the wire).
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    public var labels: [[UInt8]]

    public init(labels: [[UInt8]]) { self.labels = labels }

    /// From dotted text ("a.b.c" or "a.b.c."); empty labels are dropped.
    public init(_ text: String) {
        labels = text.split(separator: ".", omittingEmptySubsequences: true).map { Array($0.utf8) }
    }

    /// The length on the wire without compression: each label's length byte and bytes, and the root's zero.
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    /// Lower-cased dotted text without the trailing dot: the key names are matched by (DNS compares names without
    /// regard to ASCII case, RFC 4343). Bytes that would make the text ambiguous are escaped as `\DDD`, so such a
    /// name never equals a cluster name.
    public var key: String {
        labels.map { label in
            var text = ""
            for byte in label {
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): text.unicodeScalars.append(Unicode.Scalar(byte + 32))
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "_"):
                    text.unicodeScalars.append(Unicode.Scalar(byte))
                default: text += "\\" + String(byte)
                }
            }
            return text
        }.joined(separator: ".")
    }

    public var description: String { key + "." }
}

/// The fixed 12-byte header's flags and identifier (the counts are derived from the sections).
public struct DNSHeader: Sendable, Equatable {
    public var id: UInt16 = 0
    public var isResponse = false
    public var opcode: UInt8 = 0
    public var authoritative = false
    public var truncated = false
    public var recursionDesired = false
    public var recursionAvailable = false
    public var responseCode: DNSResponseCode = .noError

    public init(id: UInt16 = 0) { self.id = id }
}

public struct DNSQuestion: Sendable, Equatable {
    public var name: DNSName
    public var type: DNSRecordType
    public var recordClass: UInt16

    public init(name: DNSName, type: DNSRecordType, recordClass: UInt16 = dnsClassInternet) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
    }
}

/// Record data, typed for the records this server produces or follows.
public enum DNSRecordData: Sendable, Hashable {
    /// Four bytes (A) or sixteen (AAAA).
    case address([UInt8])
    case name(DNSName)
    case service(priority: UInt16, weight: UInt16, port: UInt16, target: DNSName)
    case authority(
        primary: DNSName, mailbox: DNSName, serial: UInt32, refresh: UInt32, retry: UInt32, expire: UInt32,
        minimum: UInt32)
    case text([[UInt8]])
    /// Any other type's rdata, exactly as received (only copied for types without names inside).
    case raw([UInt8])
}

public struct DNSResourceRecord: Sendable, Hashable {
    public var name: DNSName
    public var type: DNSRecordType
    public var recordClass: UInt16
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(
        name: DNSName, type: DNSRecordType, ttl: UInt32, data: DNSRecordData, recordClass: UInt16 = dnsClassInternet
    ) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }
}

/// The OPT pseudo-record's fields (RFC 6891 6.1.2); its options are not kept.
public struct DNSExtension: Sendable, Equatable {
    /// The largest UDP payload the sender can take.
    public var udpPayloadBytes: UInt16
    public var version: UInt8 = 0
    public var dnssecOK = false

    public init(udpPayloadBytes: UInt16) { self.udpPayloadBytes = udpPayloadBytes }
}

/// A whole DNS message.
public struct DNSMessage: Sendable, Equatable {
    public var header: DNSHeader
    public var questions: [DNSQuestion] = []
    public var answers: [DNSResourceRecord] = []
    public var authorities: [DNSResourceRecord] = []
    public var additionals: [DNSResourceRecord] = []
    public var edns: DNSExtension?

    public init(header: DNSHeader) { self.header = header }

    /// A response to `query`: same id, opcode, question and recursion-desired bit; an OPT record if the query had one.
    public static func response(to query: DNSMessage, code: DNSResponseCode) -> DNSMessage {
        var header = DNSHeader(id: query.header.id)
        header.isResponse = true
        header.opcode = query.header.opcode
        header.recursionDesired = query.header.recursionDesired
        header.recursionAvailable = true
        header.responseCode = code
        var response = DNSMessage(header: header)
        response.questions = query.questions
        if query.edns != nil { response.edns = DNSExtension(udpPayloadBytes: DNSMessage.advertisedPayloadBytes) }
        return response
    }

    /// What this server advertises in its own OPT records: the size DNS flag day 2020 settled on.
    public static let advertisedPayloadBytes: UInt16 = 1232
    /// The largest UDP response sent without EDNS (RFC 1035 4.2.1).
    public static let classicUDPBytes = 512
    /// The ceiling on a client's advertised size that this server honours.
    public static let udpBytesMaximum = 4096
    /// A TCP message's ceiling: what its two-byte length prefix can say (RFC 1035 4.2.2).
    public static let tcpBytesMaximum = 65535

    /// How large a UDP response to this query may be: 512 bytes, or the client's EDNS size within 512...4096.
    public var udpResponseBytesMaximum: Int {
        guard let edns else { return Self.classicUDPBytes }
        return min(max(Int(edns.udpPayloadBytes), Self.classicUDPBytes), Self.udpBytesMaximum)
    }
}
