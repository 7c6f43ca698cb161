import PurserEngine
import PurserSQLite

/// The rollup and scope-total increments of one append batch, summed per row key.
struct BatchTotals {
    struct RollupKey: Hashable {
        var day: String
        var tenant: String
        var keyId: String
        var model: String
    }

    struct TagRollupKey: Hashable {
        var rollup: RollupKey
        var tag: String
    }

    struct ScopeKey: Hashable {
        var scope: String
        var period: String
        var periodKey: String
    }

    struct Measures {
        var requests: Int64 = 0
        var errors: Int64 = 0
        var inputTokens: Int64 = 0
        var outputTokens: Int64 = 0
        var costMicros: Int64 = 0

        var values: [SQLiteValue] { [.integer(requests), .integer(errors), .integer(inputTokens), .integer(outputTokens), .integer(costMicros)] }

        mutating func add(_ event: LedgerEvent) {
            requests += 1
            errors += event.status == .error ? 1 : 0
            inputTokens += event.inputTokens
            outputTokens += event.outputTokens
            costMicros += event.costMicros
        }
    }

    var rollups: [RollupKey: Measures] = [:]
    var tagRollups: [TagRollupKey: Measures] = [:]
    var scopeTotals: [ScopeKey: Int64] = [:]

    /// What an event adds: settles to rollups and to the totals of every scope they charged
    /// (and the prepaid balance); credits to the tenant's credit total; nothing else adds money.
    mutating func add(_ event: LedgerEvent) {
        switch event.kind {
        case .settle:
            let day = LedgerCalendar.dayKey(event.time)
            let month = LedgerCalendar.monthKey(event.time)
            let key = RollupKey(day: day, tenant: event.tenantId, keyId: event.keyId, model: event.model)
            rollups[key, default: Measures()].add(event)
            for tag in event.tags.isEmpty ? [""] : event.tags {
                tagRollups[TagRollupKey(rollup: key, tag: tag), default: Measures()].add(event)
            }
            for scope in event.scopes {
                let name = scope.description
                scopeTotals[ScopeKey(scope: name, period: "total", periodKey: ""), default: 0] += event.costMicros
                scopeTotals[ScopeKey(scope: name, period: "month", periodKey: month), default: 0] += event.costMicros
                scopeTotals[ScopeKey(scope: name, period: "day", periodKey: day), default: 0] += event.costMicros
            }
            if event.drawsBalance {
                scopeTotals[ScopeKey(scope: Scope.balanceDescription(tenant: event.tenantId), period: "total", periodKey: ""), default: 0] += event.costMicros
            }
        case .credit:
            scopeTotals[ScopeKey(scope: LedgerScopes.creditDescription(tenant: event.tenantId), period: "total", periodKey: ""), default: 0] += event.creditMicros
        case .release, .expire, .overdraft:
            break
        }
    }
}
