import Testing
@testable import PurserPolicy

@Suite struct PolicyDurationTests {
    @Test(arguments: [
        ("30s", Int64(30)), ("10m", 600), ("1h", 3_600), ("7d", 604_800), ("1h30m", 5_400), ("1d12h", 129_600),
        ("2d3h4m5s", 183_845), ("0s", 0), ("90s", 90), ("24h", 86_400), ("000m", 0), ("1d1s", 86_401),
    ])
    func parsesValidDurations(text: String, seconds: Int64) {
        #expect(PolicyDuration.parse(text) == seconds)
    }

    @Test(arguments: [
        "", "10", "m", "10x", "1m1h", "1h1h", "1s1m", "10 m", " 10m", "10m ", "-5m", "+5m", "1.5h", "10M", "1H",
        "h1", "1hm", "10ms", "99999999999999999999s", "9223372036854775807d", "1w",
    ])
    func rejectsInvalidDurations(text: String) {
        #expect(PolicyDuration.parse(text) == nil)
    }

    @Test func formatsCanonically() {
        #expect(PolicyDuration.format(0) == "0s")
        #expect(PolicyDuration.format(1) == "1s")
        #expect(PolicyDuration.format(5_400) == "1h30m")
        #expect(PolicyDuration.format(604_800) == "7d")
        #expect(PolicyDuration.format(183_845) == "2d3h4m5s")
        for seconds: Int64 in [0, 1, 59, 60, 61, 3_599, 3_600, 86_399, 86_400, 7_776_000, 123_456_789] {
            #expect(PolicyDuration.parse(PolicyDuration.format(seconds)) == seconds)
        }
    }
}
