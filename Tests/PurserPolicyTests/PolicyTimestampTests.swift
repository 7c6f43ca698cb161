import Testing
@testable import PurserPolicy

@Suite struct PolicyTimestampTests {
    // Expected values computed independently with `date -u -d TEXT +%s`.
    @Test(arguments: [
        ("2027-06-30T00:00:00Z", Int64(1_814_313_600), Int64(0)),
        ("2026-12-01T00:00:00Z", 1_796_083_200, 0),
        ("2027-06-30T02:00:00+02:00", 1_814_313_600, 0),
        ("2026-12-31T23:30:00-05:00", 1_798_777_800, 0),
        ("2000-02-29T12:34:56Z", 951_827_696, 0),
        ("1970-01-01T00:00:00Z", 0, 0),
        ("2199-12-31T23:59:59Z", 7_258_118_399, 0),
        ("2027-06-30t00:00:00z", 1_814_313_600, 0),
        ("2027-06-30T00:00:00.5Z", 1_814_313_600, 500_000_000),
        ("2027-06-30T00:00:00.123456789Z", 1_814_313_600, 123_456_789),
        ("2027-06-30T00:00:00.1234567891Z", 1_814_313_600, 123_456_789),
        ("2027-06-30T00:00:00.000001+00:00", 1_814_313_600, 1_000),
    ])
    func parsesValidTimestamps(text: String, seconds: Int64, nanoseconds: Int64) {
        let expected = Timestamp(nanosecondsSinceEpoch: seconds * 1_000_000_000 + nanoseconds)
        #expect(PolicyTimestamp.parse(text) == expected)
    }

    @Test(arguments: [
        "", "2027-06-30", "2027-06-30T00:00:00", "2027-06-30 00:00:00Z", "2027-02-29T00:00:00Z",
        "2027-13-01T00:00:00Z", "2027-00-10T00:00:00Z", "2027-06-31T00:00:00Z", "2027-06-30T24:00:00Z",
        "2027-06-30T00:60:00Z", "2027-06-30T00:00:60Z", "2027-06-30T00:00:00.Z", "2027-06-30T00:00:00+0200",
        "2027-06-30T00:00:00+24:00", "2027-6-30T00:00:00Z", "27-06-30T00:00:00Z", "2027-06-30T00:00:00Zjunk",
        "2027-06-30T00:00Z", " 2027-06-30T00:00:00Z", "2027-06-30T00:00:00+02", "２０２７-06-30T00:00:00Z",
    ])
    func rejectsInvalidTimestamps(text: String) {
        #expect(PolicyTimestamp.parse(text) == nil)
    }

    @Test func leapYears() {
        #expect(PolicyTimestamp.parse("2028-02-29T00:00:00Z") != nil)
        #expect(PolicyTimestamp.parse("2100-02-29T00:00:00Z") == nil)
        #expect(PolicyTimestamp.parse("2000-02-29T00:00:00Z") != nil)
    }

    @Test func roundTripsThroughDescription() {
        for text in ["2027-06-30T00:00:00Z", "1999-12-31T23:59:59Z", "2199-12-31T23:59:59Z", "2024-02-29T08:09:10Z"] {
            #expect(PolicyTimestamp.parse(text)?.description == text)
        }
    }
}
