import Foundation
import KubeAPI
import Testing

@testable import KubeAgent

@Suite struct ServiceProxyTests {
    static let service: JSONValue = [
        "metadata": ["name": "web", "namespace": "default"],
        "spec": [
            "clusterIP": "10.43.0.20", "sessionAffinity": "ClientIP",
            "ports": [["name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080]],
        ],
    ]
    static let slice: JSONValue = [
        "metadata": ["name": "web-abc", "namespace": "default", "labels": ["kubernetes.io/service-name": "web"]],
        "ports": [["name": "http", "port": 8000]],
        "endpoints": [
            ["addresses": ["10.42.0.5"], "conditions": ["ready": true]],
            ["addresses": ["10.42.0.6"], "conditions": ["ready": false]],
            ["addresses": ["10.42.0.7"]],
        ],
    ]

    @Test func rulesTakeReadyEndpointsForClusterIPAndNodePort() {
        let rules = ServiceProxy.rules(services: [Self.service], slices: [Self.slice])
        #expect(rules.count == 2)
        #expect(rules[0].address == "10.43.0.20" && rules[0].port == 80 && rules[0].proto == "tcp")
        #expect(rules[0].endpoints.map(\.ip) == ["10.42.0.5", "10.42.0.7"])
        #expect(rules[0].endpoints.allSatisfy { $0.port == 8000 })
        #expect(rules[1].address == "" && rules[1].port == 30080 && rules[1].affinity)
        let headless: JSONValue = ["metadata": ["name": "h", "namespace": "default"], "spec": ["clusterIP": "None"]]
        #expect(ServiceProxy.rules(services: [headless], slices: []).isEmpty)
    }

    /// The script is what nft accepts (checked by the real nft, without committing anything).
    @Test func scriptIsValidNftables() throws {
        guard getuid() == 0, HostCommand.exists("nft") else { return }
        let proxy = ServiceProxy(instance: "t0test", podCIDR: "10.42.0.0/24")
        let noEndpoints: JSONValue = [
            "metadata": ["name": "empty", "namespace": "default"],
            "spec": ["clusterIP": "10.43.0.21", "ports": [["port": 81, "protocol": "UDP"]]],
        ]
        let rules = ServiceProxy.rules(services: [Self.service, noEndpoints], slices: [Self.slice])
        let script = proxy.script(rules)
        #expect(script.contains("jhash ip saddr mod 2"), "ClientIP affinity hashes the client")
        #expect(script.contains("ip daddr 10.43.0.21 udp dport 81 reject"), "no endpoints: refused")
        #expect(script.contains("fib daddr type local tcp dport 30080"))
        // `table …; delete table …` first: check only the new table's part, as nft -c cannot see a deletion through.
        let body = script.components(separatedBy: "delete table ip kelson_t0test\n").last ?? ""
        try HostCommand.run(["nft", "-c", "-f", "-"], input: body)
    }
}
