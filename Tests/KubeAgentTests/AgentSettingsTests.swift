import Testing

@testable import KubeAgent

@Suite struct AgentSettingsTests {
    @Test func instanceIsStableAndDistinctPerDirectory() {
        let first = AgentSettings(nodeName: "n", stateDirectory: "/var/lib/kelson/agent")
        let again = AgentSettings(nodeName: "n", stateDirectory: "/var/lib/kelson/./agent")
        let other = AgentSettings(nodeName: "n", stateDirectory: "/tmp/other/agent")
        #expect(first.instance == again.instance)
        #expect(first.instance != other.instance)
        #expect(first.instance.count <= 6)
    }
}
