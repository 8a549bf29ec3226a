/// One training sequence: token ids and which of them are trained.
///
/// Follows the Hugging Face "labels" convention: `lossMask[i] == 1` means token i is trained
/// as the prediction made from tokens 0..<i. `lossMask[0]` is therefore ignored (nothing
/// predicts the first token). When written into a `TokenBatch`, slot t gets target
/// `tokens[t + 1]` and loss mask `lossMask[t + 1]`.
///
/// Data sets hand out only valid examples: at least 2 tokens, `lossMask` the same length with
/// values 0 or 1, and every id below the data set's vocabulary size.
public struct Example: Sendable, Equatable {
    public var tokens: [Int32]      // [length] token ids
    public var lossMask: [UInt8]    // [length] 1 = token trained as a prediction, index 0 ignored

    public init(tokens: [Int32], lossMask: [UInt8]) {
        self.tokens = tokens
        self.lossMask = lossMask
    }

    public var count: Int { tokens.count }

    /// Predictions this example trains when its first `length` tokens are kept.
    public func trainedPredictions(keeping length: Int) -> Int {
        let kept = min(length, tokens.count)
        var total = 0
        var i = 1
        while i < kept {
            if lossMask[i] != 0 { total += 1 }
            i += 1
        }
        return total
    }
}
