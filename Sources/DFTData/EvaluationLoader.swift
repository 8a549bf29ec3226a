import DFTCore

/// A held-out data set cut into rows the way training cuts its data (same maximum length,
/// same packing), in file order: no shuffling, every example exactly once, so an evaluation
/// is the same on any number of ranks and at every step.
public final class EvaluationLoader {
    public let dataset: any Dataset
    public let maxLength: Int
    private let plan: EpochRowPlan

    public init(dataset: any Dataset, maxLength: Int, packing: Bool) throws {
        guard dataset.count > 0 else {
            throw DataError(.datasetTooSmall, message: "evaluation data \(dataset.name) has no examples")
        }
        self.dataset = dataset
        self.maxLength = maxLength
        plan = EpochRowPlan(epoch: 0, order: Array(0..<dataset.count), dataset: dataset,
                            maxLength: maxLength, packing: packing)
    }

    /// Rows the data set fills.
    public var rowCount: Int { plan.rowCount }

    /// Trained predictions over all rows.
    public var trainedTokens: Int { plan.rowTrained.reduce(0, +) }

    /// Examples cut from the right to `maxLength` tokens.
    public var truncatedExamples: Int { plan.truncatedExamples }

    /// Writes rows [firstRow, firstRow + rowCount) into `batch` (rows past the end are padding).
    public func fill(_ batch: TokenBatch, firstRow: Int, rowCount: Int) {
        precondition(batch.rowLength == maxLength,
                     "EvaluationLoader.fill: batch rows have \(batch.rowLength) slots, loader maxLength is \(maxLength)")
        batch.clear(rows: rowCount, padId: dataset.padId)
        for batchRow in 0..<rowCount where firstRow + batchRow < plan.rowCount {
            var slot = batchRow * maxLength
            for (segment, piece) in plan.pieces(ofRow: firstRow + batchRow).enumerated() {
                let length = plan.pieceLength[piece]
                batch.write(dataset.example(at: plan.pieceExample[piece]), length: length, segment: segment, at: slot)
                slot += length
            }
        }
    }
}
