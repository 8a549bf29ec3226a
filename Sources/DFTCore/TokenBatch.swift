/// The inputs of one forward pass: `rows` rows of `rowLength` token slots, flat and row-major.
///
/// Preallocated once for the largest micro-batch and refilled in place every step, so the
/// step loop never allocates. A row holds one example followed by padding, or several packed
/// examples; `segments` keeps attention inside each example and `positions` restart at 0 at
/// every example start, so a packed row computes exactly what its examples compute alone.
///
/// Target convention: slot t predicts `targets[t]`, the token at t + 1 of the same example.
/// `lossMask[t]` is 1 when that prediction is trained (a response token of the example).
public final class TokenBatch: @unchecked Sendable {
    public let maxRows: Int
    public let rowLength: Int
    /// Rows in use, at most `maxRows`.
    public var rows: Int

    public var inputIds: [Int32]    // [maxRows, rowLength] token ids; padding slots hold `padId`
    public var targets: [Int32]     // [maxRows, rowLength] next-token ids; 0 where lossMask is 0
    public var lossMask: [Float]    // [maxRows, rowLength] 1 = trained prediction, else 0
    public var positions: [Int32]   // [maxRows, rowLength] RoPE position within the example
    public var segments: [Int32]    // [maxRows, rowLength] example index within the row, -1 = padding

    public init(maxRows: Int, rowLength: Int) {
        precondition(maxRows > 0 && rowLength > 0, "TokenBatch needs at least one row and one slot")
        self.maxRows = maxRows
        self.rowLength = rowLength
        self.rows = maxRows
        let n = maxRows * rowLength
        inputIds = [Int32](repeating: 0, count: n)
        targets = [Int32](repeating: 0, count: n)
        lossMask = [Float](repeating: 0, count: n)
        positions = [Int32](repeating: 0, count: n)
        segments = [Int32](repeating: -1, count: n)
    }

    /// Token slots in use: rows * rowLength.
    public var tokens: Int { rows * rowLength }

    /// Marks every slot of the rows in use as padding.
    public func clear(rows: Int, padId: Int32) {
        precondition(rows <= maxRows, "TokenBatch.clear: \(rows) rows > capacity \(maxRows)")
        self.rows = rows
        let n = rows * rowLength
        for i in 0..<n {
            inputIds[i] = padId
            targets[i] = 0
            lossMask[i] = 0
            positions[i] = 0
            segments[i] = -1
        }
    }

    /// Number of trained predictions in the rows in use.
    public var responseTokens: Int {
        var total = 0
        for i in 0..<tokens where lossMask[i] != 0 { total += 1 }
        return total
    }
}
