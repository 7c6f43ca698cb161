@testable import PurserPolicy
import Testing
import Yams

/// `PlainScalarTag` must resolve exactly as `Yams.Resolver.default` does, or the fast policy path
/// would read a file differently from the slow one.
@Suite struct PlainScalarTagTests {
    static let curated = [
        "", "~", "null", "Null", "NULL", "nULL", "yes", "No", "ON", "off", "true", "False", "TRUE", "y", "n", "truE",
        "0", "-0", "+0", "7", "-7", "1_000", "1__0_", "0b1010", "-0b1_1", "0b", "0b2", "017", "0o17", "0o", "08", "0_7", "0x1F", "0xg",
        "-0x_", "190:20:30", "1:2", "1:60", "1:5:7", "0:30", "1.5", "1.", ".5", "-.5", "+.5", ".5e+3", ".5e3", "1e5", "1e", "1E-5",
        "1.5e+10", "1_0.0_1", "190:20:30.15", "1:2.", ".inf", "-.inf", "+.INF", ".Inf", ".nan", ".NaN", "-.nan", "<<", "=", "==",
        "2026-11-22", "2026-1-2", "2026-11-22T10:00:00Z", "2026-11-22t10:00:00", "2026-11-22 10:00:00", "2026-11-22  10:00:00.5 +02:00",
        "2026-11-22T10:00:00+2", "2026-11-22T10:00:00 ", "2026-11-22T1:00:00Z", "2026-11-2210:00:00", "2026-11-22T10:00:00-05:30",
        "gpt-5.4", "acme", "10m", "1h30m", "pk_demo", "5000000", "-5", "3.0", "1,000", "0x", "12:", ":12", "1::2",
    ]

    @Test(arguments: curated)
    func curatedScalarsResolveLikeYams(_ text: String) {
        let expected = Resolver.default.resolveTag(of: Node(text, Tag(.implicit), .plain))
        #expect(PlainScalarTag.of(text) == expected, "\(text.debugDescription)")
    }

    @Test func randomScalarsResolveLikeYams() {
        let alphabet = Array("0123456789_-+.:eEbBoOxXaAfFnNiIlLsStTuUrRyYZ~<= \t")
        var state: UInt64 = 0x1234_5678
        var disagreements: [String] = []
        for _ in 0..<30_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = Int(state >> 60)
            var text = ""
            for index in 0..<length {
                let bits = state >> UInt64((index * 5) % 58)
                text.append(alphabet[Int(bits % UInt64(alphabet.count))])
            }
            if PlainScalarTag.of(text) != Resolver.default.resolveTag(of: Node(text, Tag(.implicit), .plain)) {
                disagreements.append(text)
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(20).map(\.debugDescription))")
    }

    @Test func explicitTagsTakeTheExactPath() throws {
        // With a `!` in the file, Yams's own resolver decides, so `!!str 5` stays a string.
        let problems: [String]
        do {
            _ = try PolicyParser.parse("version: !!str 1\n", fileName: "p.yaml")
            problems = []
        } catch {
            problems = error.problems.map(\.description)
        }
        #expect(problems == ["p.yaml:1:10: field \"version\" at top level must be an integer, got \"1\""])
    }
}
