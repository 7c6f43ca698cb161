/// A per-minute rate limit as GCRA (the generic cell rate algorithm), in integer nanoseconds.
///
/// GCRA stores one number per limit, the theoretical arrival time (TAT), instead of a token count
/// and a refill time, and gives the exact moment a denied request would fit. A limit of `L` per
/// minute admits a burst of `L` and then one unit every `60 s / L`. The interval is rounded up to
/// the nanosecond, so rounding never admits more than the limit.
public struct GenericCellRateAlgorithm: Hashable, Sendable {
    public static let windowNanoseconds: Int64 = 60 * 1_000_000_000

    public let limitPerMinute: Int64
    public let intervalNanoseconds: Int64
    /// How far the TAT may run ahead of now: exactly `limitPerMinute` intervals, so the burst is
    /// exactly the limit even when the interval was rounded up (and then spans a hair over 60 s).
    public let burstNanoseconds: Int64

    public init(limitPerMinute: Int64) {
        precondition(limitPerMinute > 0, "a rate limit is positive; the policy parser guarantees it")
        self.limitPerMinute = limitPerMinute
        let (quotient, remainder) = GenericCellRateAlgorithm.windowNanoseconds.quotientAndRemainder(dividingBy: limitPerMinute)
        self.intervalNanoseconds = max(1, remainder > 0 ? quotient + 1 : quotient)
        self.burstNanoseconds = limitPerMinute * intervalNanoseconds
    }

    public enum Outcome: Hashable, Sendable {
        /// `theoreticalArrivalNanoseconds` is the state to store; `remaining` the units still
        /// admitted at `now` after this one.
        case allowed(theoreticalArrivalNanoseconds: Int64, remaining: Int64)
        /// Fits after `retryAfterNanoseconds`; nothing to store.
        case denied(retryAfterNanoseconds: Int64)
        /// `cost` exceeds the whole minute's allowance and can never fit.
        case neverFits
    }

    /// Tries to admit `cost` units at `now` given the stored TAT. A cost of zero always fits.
    public func admit(cost: Int64, storedTheoreticalArrivalNanoseconds stored: Int64, now: Int64) -> Outcome {
        precondition(cost >= 0)
        guard cost <= limitPerMinute else { return .neverFits }
        let start = max(stored, now)
        let next = start + cost * intervalNanoseconds
        let allowedAt = next - burstNanoseconds
        if allowedAt > now {
            return .denied(retryAfterNanoseconds: allowedAt - now)
        }
        return .allowed(theoreticalArrivalNanoseconds: next, remaining: remaining(theoreticalArrivalNanoseconds: next, now: now))
    }

    /// Units admitted at `now` with the given TAT.
    public func remaining(theoreticalArrivalNanoseconds: Int64, now: Int64) -> Int64 {
        let used = max(0, theoreticalArrivalNanoseconds - now)
        return max(0, (burstNanoseconds - used) / intervalNanoseconds)
    }

    /// The TAT after correcting an earlier admission by `delta` units (negative refunds). A refund
    /// never moves the TAT before `now`, so it cannot bank a burst larger than the limit.
    public func corrected(storedTheoreticalArrivalNanoseconds stored: Int64, delta: Int64, now: Int64) -> Int64 {
        let base = max(stored, now)
        let (shift, overflow) = delta.multipliedReportingOverflow(by: intervalNanoseconds)
        // A correction of more than ~36 years cannot matter; saturating keeps the sum in range.
        let saturation: Int64 = 1 << 60
        let boundedShift = overflow ? (delta > 0 ? saturation : -saturation) : min(max(shift, -saturation), saturation)
        return max(now, base + boundedShift)
    }
}
