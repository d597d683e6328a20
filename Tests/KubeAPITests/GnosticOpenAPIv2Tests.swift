import Foundation
import Testing

@testable import KubeAPI

@Test func gnosticScratch() throws {
    let directory = "/tmp/gnostic/inputs"
    for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".json") {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)"))
        let json = try JSONValue.parse(Array(data))
        let bytes = GnosticOpenAPIv2.encode(json)
        try Data(bytes).write(to: URL(fileURLWithPath: "\(directory)/\(name).swift.pb"))
    }
}
