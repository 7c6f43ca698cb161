import PurserEngine
import Testing

@Suite struct GenericCellRateAlgorithmTests {
    let second: Int64 = 1_000_000_000

    @Test func admitsABurstOfTheLimitThenOnePerInterval() {
        let limiter = GenericCellRateAlgorithm(limitPerMinute: 60)
        var tat: Int64 = 0
        let now = 1_000 * second
        for index in 0..<60 {
            guard case .allowed(let next, let remaining) = limiter.admit(cost: 1, storedTheoreticalArrivalNanoseconds: tat, now: now) else {
                Issue.record("request \(index) of the burst was denied")
                return
            }
            #expect(remaining == Int64(59 - index))
            tat = next
        }
        #expect(limiter.admit(cost: 1, storedTheoreticalArrivalNanoseconds: tat, now: now) == .denied(retryAfterNanoseconds: second))
        #expect(limiter.admit(cost: 1, storedTheoreticalArrivalNanoseconds: tat, now: now + second - 1) == .denied(retryAfterNanoseconds: 1))
        guard case .allowed = limiter.admit(cost: 1, storedTheoreticalArrivalNanoseconds: tat, now: now + second) else {
            Issue.record("the request one interval later was denied")
            return
        }
    }

    @Test func intervalRoundsUpSoTheLimitIsNeverExceeded() {
        let limiter = GenericCellRateAlgorithm(limitPerMinute: 7)
        #expect(limiter.intervalNanoseconds == 8_571_428_572)
        // 7 admitted, the 8th not, within the same instant.
        var tat: Int64 = 0
        for _ in 0..<7 {
            guard case .allowed(let next, _) = limiter.admit(cost: 1, storedTheoreticalArrivalNanoseconds: tat, now: 0) else {
                Issue.record("denied inside the limit")
                return
            }
            tat = next
        }
        guard case .denied = limiter.admit(cost: 1, storedTheoreticalArrivalNanoseconds: tat, now: 0) else {
            Issue.record("admitted beyond the limit")
            return
        }
    }

    @Test func costLargerThanTheLimitNeverFits() {
        let limiter = GenericCellRateAlgorithm(limitPerMinute: 1_000)
        #expect(limiter.admit(cost: 1_001, storedTheoreticalArrivalNanoseconds: 0, now: 0) == .neverFits)
        guard case .allowed(_, 0) = limiter.admit(cost: 1_000, storedTheoreticalArrivalNanoseconds: 0, now: 0) else {
            Issue.record("a cost equal to the limit must fit into an idle limiter")
            return
        }
    }

    @Test func correctionsRefundAndChargeButNeverBankBeforeNow() {
        let limiter = GenericCellRateAlgorithm(limitPerMinute: 60_000)  // 1 ms per token
        let now = 10 * second
        #expect(limiter.corrected(storedTheoreticalArrivalNanoseconds: now + 500_000_000, delta: -200, now: now) == now + 300_000_000)
        #expect(limiter.corrected(storedTheoreticalArrivalNanoseconds: now + 500_000_000, delta: -900, now: now) == now)
        #expect(limiter.corrected(storedTheoreticalArrivalNanoseconds: 0, delta: 100, now: now) == now + 100_000_000)
        #expect(limiter.corrected(storedTheoreticalArrivalNanoseconds: now, delta: Int64.max / 2, now: now) == now + (1 << 60))
    }
}
