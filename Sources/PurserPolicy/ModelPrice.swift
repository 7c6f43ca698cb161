/// A catalog price in integer micros per 1,000,000 tokens.
public struct ModelPrice: Hashable, Sendable {
    public var inputMicrosPerMillionTokens: Int64
    public var outputMicrosPerMillionTokens: Int64

    public init(inputMicrosPerMillionTokens: Int64, outputMicrosPerMillionTokens: Int64) {
        self.inputMicrosPerMillionTokens = inputMicrosPerMillionTokens
        self.outputMicrosPerMillionTokens = outputMicrosPerMillionTokens
    }

    /// The cost of a request in micros: `ceil((input * inputPrice + output * outputPrice) / 1e6)`.
    ///
    /// One rounding over the whole sum, upward, so that a request is never priced below what the
    /// catalog says and two requests of the same size always cost the same. Returns `nil` if the
    /// product overflows 64 bits, which the caller reports as a bad request.
    public func costMicros(inputTokens: Int64, outputTokens: Int64) -> Int64? {
        guard inputTokens >= 0, outputTokens >= 0 else { return nil }
        let (inputProduct, inputOverflow) = inputTokens.multipliedReportingOverflow(by: inputMicrosPerMillionTokens)
        let (outputProduct, outputOverflow) = outputTokens.multipliedReportingOverflow(by: outputMicrosPerMillionTokens)
        guard !inputOverflow, !outputOverflow else { return nil }
        let (sum, sumOverflow) = inputProduct.addingReportingOverflow(outputProduct)
        guard !sumOverflow else { return nil }
        let (quotient, remainder) = sum.quotientAndRemainder(dividingBy: 1_000_000)
        return remainder > 0 ? quotient + 1 : quotient
    }
}
