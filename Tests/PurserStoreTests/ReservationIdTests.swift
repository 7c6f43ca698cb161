import PurserStore
import Testing

@Suite struct ReservationIdTests {
    /// Ids sort in creation order (so LMDB appends them) and never repeat, even when many are
    /// made within one clock tick.
    @Test func idsAreUniqueAndInCreationOrder() {
        let ids = (0..<10_000).map { _ in StateStore.randomReservationId() }
        #expect(Set(ids).count == ids.count)
        for (earlier, later) in zip(ids, ids.dropFirst()) {
            #expect(earlier.prefix(20) < later.prefix(20), "\(earlier) then \(later)")
        }
        for id in ids.prefix(100) {
            #expect(id.hasPrefix("rsv_") && id.utf8.count == 36)
            #expect(id.dropFirst(4).allSatisfy { $0.isHexDigit && !$0.isUppercase })
        }
    }

    /// The random half differs between consecutive ids: the id cannot be guessed from the last one.
    @Test func randomHalvesDiffer() {
        let ids = (0..<1_000).map { _ in StateStore.randomReservationId() }
        #expect(Set(ids.map { $0.suffix(16) }).count == ids.count)
    }
}
