import Foundation
import GRPCWire
import KubeAPI
import KubeServer

/// `GET pods/{name}/log` on the node: the options kubectl sends (`follow`, `tailLines`, `sinceSeconds`,
/// `sinceTime`, `timestamps`, `limitBytes`, `previous`), read from the container's CRI log files.
struct LogQuery: Sendable {
    var follow = false
    var tailLines: Int?
    var since: Date?
    var timestamps = false
    var limitBytes: Int?
    var previous = false

    init(query: String, now: Date = Date()) throws(KubeError) {
        let parameters = QueryParameters(query)
        follow = parameters.flag("follow")
        timestamps = parameters.flag("timestamps")
        previous = parameters.flag("previous")
        if let text = parameters["tailLines"] {
            guard let value = Int(text), value >= 0 else { throw .badRequest("tailLines: Invalid value: \"\(text)\"") }
            tailLines = value
        }
        if let text = parameters["limitBytes"] {
            guard let value = Int(text), value > 0 else {
                throw .badRequest("limitBytes: Invalid value: \"\(text)\": must be greater than 0")
            }
            limitBytes = value
        }
        if let text = parameters["sinceSeconds"] {
            guard let value = Int(text), value > 0 else {
                throw .badRequest("sinceSeconds: Invalid value: \"\(text)\": must be greater than 0")
            }
            since = now.addingTimeInterval(-Double(value))
        }
        if let text = parameters["sinceTime"] {
            guard let date = APITime.parse(text) else { throw .badRequest("sinceTime: Invalid value: \"\(text)\"") }
            since = date
        }
    }

    struct Record {
        var time: Date
        var timeText: Substring
        var text: ArraySlice<UInt8>
        var complete: Bool
    }

    /// Records of one CRI file's bytes (lines that do not parse are skipped).
    static func records(_ bytes: [UInt8]) -> [Record] {
        var records: [Record] = []
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 3, omittingEmptySubsequences: false)
            guard fields.count >= 3 else { continue }
            let timeText = Substring(String(decoding: fields[0], as: UTF8.self))
            guard let time = APITime.parse(String(timeText)) else { continue }
            let text = fields.count == 4 ? fields[3] : []
            records.append(
                Record(time: time, timeText: timeText, text: text, complete: fields[2].first != UInt8(ascii: "P")))
        }
        return records
    }

    /// The answer's bytes for these records: since, tail (in whole lines), timestamps.
    func render(_ records: [Record]) -> [UInt8] {
        var selected = records
        if let since { selected = selected.filter { $0.time >= since } }
        if let tailLines {
            var lines = 0
            var index = selected.count
            while index > 0 {
                if selected[index - 1].complete {
                    if lines == tailLines { break }
                    lines += 1
                }
                index -= 1
            }
            selected = Array(selected[index...])
        }
        var out: [UInt8] = []
        var lineStart = true
        for record in selected {
            if timestamps, lineStart { out += Array(record.timeText.utf8) + [UInt8(ascii: " ")] }
            out += record.text
            if record.complete { out.append(UInt8(ascii: "\n")) }
            lineStart = record.complete
        }
        if let limitBytes, out.count > limitBytes { out.removeLast(out.count - limitBytes) }
        return out
    }

    /// A container run's log files, oldest first (rotated ones, then the current one).
    static func files(_ path: String) -> [String] {
        var files: [String] = []
        var index = 1
        while FileManager.default.fileExists(atPath: "\(path).\(index)") {
            files.insert("\(path).\(index)", at: 0)
            index += 1
        }
        return files + [path]
    }

    /// The answer: the whole selection, or with `follow` a stream that goes on as the file grows until `isRunning`
    /// says the container ended.
    func respond(path: String, isRunning: @escaping @Sendable () async -> Bool) -> HTTPResponse {
        let headers = [("Content-Type", "text/plain")]
        let existing = Self.files(path).flatMap {
            (try? Data(contentsOf: URL(fileURLWithPath: $0))).map(Array.init) ?? []
        }
        let first = render(Self.records(existing))
        guard follow else { return HTTPResponse(status: 200, headers: headers, body: first) }
        var response = HTTPResponse(status: 200, headers: headers)
        let stream = HTTPBodyStream()
        response.stream = stream
        var follower = self
        follower.tailLines = nil
        follower.since = nil
        Task {
            var sent = first.count
            do {
                try await stream.write(first)
                var offset = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
                offset = min(offset, existing.count)
                var carry: [UInt8] = []
                while !stream.isCancelled {
                    let running = await isRunning()
                    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
                    if size < offset { offset = 0 }  // rotated
                    if size > offset, let handle = FileHandle(forReadingAtPath: path) {
                        try handle.seek(toOffset: UInt64(offset))
                        let data = handle.readData(ofLength: min(size - offset, 1 << 20))
                        try? handle.close()
                        offset += data.count
                        var bytes = carry + Array(data)
                        let cut = (bytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
                        carry = Array(bytes[cut...])
                        bytes.removeLast(bytes.count - cut)
                        var out = follower.render(Self.records(bytes))
                        if let limit = limitBytes {
                            if sent >= limit { break }
                            if sent + out.count > limit { out.removeLast(sent + out.count - limit) }
                        }
                        sent += out.count
                        if !out.isEmpty { try await stream.write(out) }
                        continue
                    }
                    if !running { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
            } catch {}
            stream.finish()
        }
        return response
    }
}
