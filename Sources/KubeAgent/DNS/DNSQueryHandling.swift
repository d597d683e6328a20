import NIOCore

/// One query's path from bytes to response bytes, shared by the UDP and TCP listeners: drop what is not a query,
/// FORMERR what cannot be parsed, answer cluster names from the records, forward the rest.
struct DNSQueryHandling: Sendable {
    let records: ClusterDNSRecords
    let forwarder: DNSForwarder

    /// The response to `bytes`, at most `bytesMaximum(query)` long; nil when nothing should be sent (not a query,
    /// too short to carry an id, or the forward limit is reached).
    func respond(
        to bytes: [UInt8], overTCP: Bool, on eventLoop: any EventLoop
    ) -> EventLoopFuture<[UInt8]?> {
        guard bytes.count >= 12, bytes[2] & 0x80 == 0 else { return eventLoop.makeSucceededFuture(nil) }
        let query: DNSMessage
        do {
            query = try DNSMessage.parse(bytes)
        } catch {
            return eventLoop.makeSucceededFuture(Self.formatError(for: bytes))
        }
        let bytesMaximum = overTCP ? DNSMessage.tcpBytesMaximum : query.udpResponseBytesMaximum
        guard query.header.opcode == 0 else {
            return eventLoop.makeSucceededFuture(
                DNSMessage.response(to: query, code: .notImplemented).encoded(bytesMaximum: bytesMaximum))
        }
        switch records.resolve(query) {
        case .respond(let response):
            return eventLoop.makeSucceededFuture(response.encoded(bytesMaximum: bytesMaximum))
        case .forward:
            guard let forwarded = forwarder.forward(bytes, on: eventLoop) else {
                return eventLoop.makeSucceededFuture(nil)
            }
            return forwarded.map { Optional($0) }.recover { _ in
                DNSMessage.response(to: query, code: .serverFailure).encoded(bytesMaximum: bytesMaximum)
            }
        case .chase(let response, let target):
            return chase(response, target: target, query: query, on: eventLoop).map {
                $0.encoded(bytesMaximum: bytesMaximum)
            }
        }
    }

    /// `response` (a CNAME to `target`) with the upstream's answer for `target` appended; the CNAME alone if
    /// the upstream fails.
    private func chase(
        _ response: DNSMessage, target: DNSName, query: DNSMessage, on eventLoop: any EventLoop
    ) -> EventLoopFuture<DNSMessage> {
        guard let type = query.questions.first?.type else { return eventLoop.makeSucceededFuture(response) }
        var targetQuery = DNSMessage(header: DNSHeader(id: UInt16.random(in: 0...UInt16.max)))
        targetQuery.header.recursionDesired = true
        targetQuery.questions = [DNSQuestion(name: target, type: type)]
        guard let forwarded = forwarder.forward(targetQuery.encoded(), on: eventLoop) else {
            return eventLoop.makeSucceededFuture(response)
        }
        return forwarded.map { bytes in
            guard let upstream = try? DNSMessage.parse(bytes) else { return response }
            var chased = response
            // Only records re-encodable here: typed ones, and raw data of types known to hold no names.
            chased.answers += upstream.answers.filter { record in
                if case .raw = record.data { return record.type == .txt }
                return true
            }
            return chased
        }.recover { _ in response }
    }

    /// FORMERR for a message that could not be parsed: its id, opcode and RD echoed, no question (RFC 1035 4.1.1).
    static func formatError(for bytes: [UInt8]) -> [UInt8] {
        var header = DNSHeader(id: UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
        header.isResponse = true
        header.opcode = (bytes[2] >> 3) & 0xF
        header.recursionDesired = bytes[2] & 0x01 != 0
        header.recursionAvailable = true
        header.responseCode = .formatError
        return DNSMessage(header: header).encoded()
    }
}
