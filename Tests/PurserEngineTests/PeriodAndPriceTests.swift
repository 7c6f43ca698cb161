import PurserEngine
import PurserPolicy
import Testing

@Suite struct PeriodAndPriceTests {
    @Test(arguments: [
        // (seconds since epoch, expected day index, expected month index)
        (Int64(0), Int64(0), Int64(0)),
        (Int64(1_795_391_999), Int64(20_779), Int64(682)),  // 2026-11-22T23:59:59Z
        (Int64(1_795_392_000), Int64(20_780), Int64(682)),  // 2026-11-23T00:00:00Z
        (Int64(1_796_083_199), Int64(20_787), Int64(682)),  // 2026-11-30T23:59:59Z
        (Int64(1_796_083_200), Int64(20_788), Int64(683)),  // 2026-12-01T00:00:00Z
        (Int64(1_709_164_800), Int64(19_782), Int64(649)),  // 2024-02-29T00:00:00Z, a leap day
    ])
    func periodIndexesFollowTheUTCCalendar(seconds: Int64, day: Int64, month: Int64) {
        let indexes = PeriodIndexes(at: Timestamp(secondsSinceEpoch: seconds))
        #expect(indexes == PeriodIndexes(day: day, month: month))
        #expect(indexes.index(of: .total) == 0)
    }

    @Test func civilDatesRoundTripAcrossCenturies() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let date = CivilDate(daysSinceEpoch: days)
            #expect(date.daysSinceEpoch == days)
            #expect((1...12).contains(date.month))
            #expect((1...CivilDate.daysInMonth(year: date.year, month: date.month)).contains(date.day))
        }
        #expect(Timestamp(secondsSinceEpoch: 1_795_348_800).description == "2026-11-22T12:00:00Z")
    }

    @Test func tokenPricesRoundUpOnceOverTheWholeSum() {
        let price = ModelPrice(inputMicrosPerMillionTokens: 1_250_000, outputMicrosPerMillionTokens: 10_000_000)
        #expect(price.costMicros(inputTokens: 1_000, outputTokens: 500) == 6_250)
        // 1 input token costs 1.25 micros: rounded up to 2, never down to 1.
        #expect(price.costMicros(inputTokens: 1, outputTokens: 0) == 2)
        #expect(price.costMicros(inputTokens: 0, outputTokens: 0) == 0)
        // Two half-micro amounts add up to exactly 1 micro; rounding each one up separately would charge 2.
        let half = ModelPrice(inputMicrosPerMillionTokens: 500_000, outputMicrosPerMillionTokens: 500_000)
        #expect(half.costMicros(inputTokens: 1, outputTokens: 1) == 1)
        #expect(price.costMicros(inputTokens: Int64.max / 2, outputTokens: 0) == nil)
        #expect(price.costMicros(inputTokens: -1, outputTokens: 0) == nil)
    }

    @Test func estimatesOutsideTheLimitsAreBadRequests() {
        #expect(TokenOrMicrosAmount.micros(-1).micros(price: nil) == .failure(BadRequest("micros must be between 0 and \(EngineLimits.costMicrosMax)")))
        #expect(TokenOrMicrosAmount.micros(5).micros(price: nil) == .success(5))
        guard case .failure = TokenOrMicrosAmount.tokens(inputTokens: 5, outputTokens: 5).micros(price: nil) else {
            Issue.record("tokens without a price must be refused")
            return
        }
        guard case .failure = TokenOrMicrosAmount.tokens(inputTokens: EngineLimits.tokensPerRequestMax + 1, outputTokens: 0)
            .micros(price: ModelPrice(inputMicrosPerMillionTokens: 1, outputMicrosPerMillionTokens: 1)) else {
            Issue.record("tokens past the limit must be refused")
            return
        }
    }
}
