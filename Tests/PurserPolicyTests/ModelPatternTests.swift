import Testing
@testable import PurserPolicy

@Suite struct ModelPatternTests {
    @Test(arguments: [
        ("gpt-5.4*", "gpt-5.4", true), ("gpt-5.4*", "gpt-5.4-mini", true), ("gpt-5.4*", "gpt-5.3", false),
        ("*", "anything", true), ("*", "", true), ("claude-*-4-6", "claude-sonnet-4-6", true),
        ("claude-*-4-6", "claude-sonnet-4-5", false), ("gpt-?", "gpt-5", true), ("gpt-?", "gpt-55", false),
        ("gpt-[45]", "gpt-4", true), ("gpt-[45]", "gpt-6", false), ("gpt-[!45]", "gpt-6", true),
        ("m[a-c]", "mb", true), ("m[a-c]", "md", false), ("a\\*", "a*", true), ("a\\*", "ab", false),
        ("GPT*", "gpt-5", false), ("*mini", "gpt-5.4-mini", true), ("*mini", "gpt-5.4-mini-2", false),
        ("a*b*c", "aXbYc", true), ("a*b*c", "aXcYb", false),
    ])
    func matches(pattern: String, model: String, expected: Bool) throws {
        #expect(try ModelPattern(pattern).matches(model) == expected)
    }

    @Test func literalness() throws {
        #expect(try ModelPattern("gpt-5.4").isLiteral)
        #expect(try ModelPattern("gpt\\-5").isLiteral)
        #expect(try !ModelPattern("gpt-5.*").isLiteral)
        #expect(try !ModelPattern("gpt-[45]").isLiteral)
    }

    @Test(arguments: [
        ("", ModelPattern.ParseError.empty), ("gpt-[5", .unclosedSet(offset: 4)), ("a[]", .emptySet(offset: 1)),
        ("a\\", .trailingEscape), ("[z-a]", .invalidRange(offset: 1)), ("gpt 5", .nonPrintable(offset: 3)),
    ])
    func rejects(pattern: String, error: ModelPattern.ParseError) {
        #expect(throws: error) { try ModelPattern(pattern) }
    }
}
