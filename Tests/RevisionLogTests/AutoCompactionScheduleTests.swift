import RevisionLog
import Testing

@Suite("auto-compaction schedule (etcd's periodic and revision modes)")
struct AutoCompactionScheduleTests {
    @Test("revision mode compacts at revision minus retention, once per new target")
    func revisions() {
        var schedule = AutoCompactionSchedule(policy: .revisions(100))
        let now = ContinuousClock.now
        #expect(schedule.sample(at: now, revision: 50) == nil, "nothing to compact below the retention")
        #expect(schedule.sample(at: now, revision: 100) == nil)
        #expect(schedule.sample(at: now, revision: 101) == 1)
        #expect(schedule.sample(at: now, revision: 101) == nil, "the same target is not compacted twice")
        #expect(schedule.sample(at: now, revision: 350) == 250)
        schedule.failed(250)
        #expect(schedule.sample(at: now, revision: 350) == 250, "a failed compaction is retried")
        #expect(schedule.interval == .seconds(1))
    }

    @Test("periodic mode keeps one period of history: it compacts at the revision sampled a period ago")
    func periodic() {
        var schedule = AutoCompactionSchedule(policy: .periodic(.seconds(60)))
        #expect(schedule.interval == .seconds(6), "a tenth of the period")
        #expect(AutoCompactionSchedule(policy: .periodic(.seconds(24 * 3600))).interval == .seconds(360))
        let start = ContinuousClock.now
        var compactions: [Int64] = []
        // One sample every 6 s for 3 minutes; the revision grows by 10 per sample.
        for step in 0...30 {
            if let target = schedule.sample(at: start + .seconds(6 * step), revision: Int64(10 + 10 * step)) {
                compactions.append(target)
                // Compacting at `target` keeps every revision written in the last 60 s.
                #expect(Int64(10 + 10 * (step - 10)) == target, "step \(step)")
            }
        }
        #expect(compactions.first == 10, "the first compaction comes one period after the start")
        #expect(compactions.count == 21 && compactions == compactions.sorted())
    }
}
