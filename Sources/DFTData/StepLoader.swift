import DFTCore

/// Turns a data set into optimizer steps of `globalBatch` rows of `maxLength` slots.
///
/// Step s (0-based, counted across epochs) takes rows [k * globalBatch, (k + 1) * globalBatch)
/// of the row plan of epoch s / stepsPerEpoch, with k = s % stepsPerEpoch. The plan depends
/// only on the seed, the epoch, the data set, `maxLength` and `packing`, so every rank
/// computes the same steps on its own, and which rows of a step a rank or micro-step takes
/// is left to the caller. That is what makes resuming on a different number of ranks exact.
///
/// With packing the number of rows differs a little from epoch to epoch (the greedy packing
/// follows the shuffled order). `stepsPerEpoch` is fixed from epoch 0; a later epoch that
/// packs into more rows drops its surplus like a partial last batch, and one that packs into
/// fewer leaves its missing rows as padding, which carries no trained token.
public final class StepLoader {
    public let dataset: any Dataset
    public let maxLength: Int
    public let packing: Bool
    public let globalBatch: Int
    public let seed: UInt64
    /// Full global batches per epoch: rows of epoch 0 / globalBatch, rounded down.
    public let stepsPerEpoch: Int
    /// Examples cut from the right to `maxLength` tokens, counted once per planned epoch.
    public private(set) var truncatedExamples: Int

    private let sampler: EpochSampler
    private var plan: EpochRowPlan              // of the epoch being served
    private var countedEpochs: Set<Int>         // epochs whose truncations are in the total

    public init(dataset: any Dataset, maxLength: Int, packing: Bool, globalBatch: Int,
                seed: UInt64) throws {
        guard maxLength >= 2 else {
            throw DataError(.invalidSetting,
                            message: "maximum length must be at least 2 tokens (one prediction), got \(maxLength)")
        }
        guard globalBatch >= 1 else {
            throw DataError(.invalidSetting,
                            message: "global batch must be at least 1 row, got \(globalBatch)")
        }
        let sampler = EpochSampler(count: dataset.count, seed: seed)
        let firstPlan = EpochRowPlan(epoch: 0, order: sampler.order(epoch: 0), dataset: dataset,
                                     maxLength: maxLength, packing: packing)
        let steps = firstPlan.rowCount / globalBatch
        guard steps > 0 else {
            throw DataError(.datasetTooSmall,
                            message: "\(dataset.name) has \(dataset.count) examples, which make \(firstPlan.rowCount) rows of \(maxLength) tokens (packing \(packing ? "on" : "off")), fewer than one global batch of \(globalBatch) rows",
                            hint: "lower the global batch size or use a larger data set")
        }
        self.dataset = dataset
        self.maxLength = maxLength
        self.packing = packing
        self.globalBatch = globalBatch
        self.seed = seed
        self.stepsPerEpoch = steps
        self.sampler = sampler
        self.plan = firstPlan
        self.truncatedExamples = firstPlan.truncatedExamples
        self.countedEpochs = [0]
    }

    public func epoch(ofStep step: Int) -> Int {
        precondition(step >= 0, "StepLoader: step must be non-negative, got \(step)")
        return step / stepsPerEpoch
    }

    /// Rows the data set packs into in `epoch` (before dropping to whole global batches).
    public func rowCount(epoch: Int) -> Int {
        preparePlan(epoch: epoch)
        return plan.rowCount
    }

    /// Writes rows [firstRow, firstRow + rowCount) of global optimizer step `step` (0-based,
    /// counted across epochs) into `batch`, after `batch.clear(rows: rowCount, padId:)`.
    /// Allocates nothing except when the step starts a new epoch (the plan is rebuilt).
    public func fill(_ batch: TokenBatch, step: Int, firstRow: Int, rowCount: Int) {
        precondition(batch.rowLength == maxLength,
                     "StepLoader.fill: batch rows have \(batch.rowLength) slots, loader maxLength is \(maxLength)")
        let planRows = planRows(step: step, firstRow: firstRow, rowCount: rowCount)
        batch.clear(rows: rowCount, padId: dataset.padId)
        for (batchRow, planRow) in planRows.enumerated() where planRow < plan.rowCount {
            var slot = batchRow * maxLength
            for (segment, piece) in plan.pieces(ofRow: planRow).enumerated() {
                let length = plan.pieceLength[piece]
                batch.write(dataset.example(at: plan.pieceExample[piece]), length: length,
                            segment: segment, at: slot)
                slot += length
            }
        }
    }

    /// Trained predictions in rows [firstRow, firstRow + rowCount) of step `step`; equals
    /// `responseTokens` of a batch filled with the same arguments, without filling one.
    /// Lets every rank know a step's global token count (the loss normaliser) up front.
    public func responseTokens(step: Int, firstRow: Int, rowCount: Int) -> Int {
        var total = 0
        for planRow in planRows(step: step, firstRow: firstRow, rowCount: rowCount)
        where planRow < plan.rowCount {
            total += plan.rowTrained[planRow]
        }
        return total
    }

    /// Plan rows of the requested step rows, with the plan of their epoch made current.
    private func planRows(step: Int, firstRow: Int, rowCount: Int) -> Range<Int> {
        precondition(firstRow >= 0 && rowCount >= 0 && firstRow + rowCount <= globalBatch,
                     "StepLoader: rows \(firstRow)..<\(firstRow + rowCount) are outside a global batch of \(globalBatch)")
        preparePlan(epoch: epoch(ofStep: step))
        let first = (step % stepsPerEpoch) * globalBatch + firstRow
        return first..<(first + rowCount)
    }

    private func preparePlan(epoch: Int) {
        precondition(epoch >= 0, "StepLoader: epoch must be non-negative, got \(epoch)")
        if plan.epoch == epoch { return }
        plan = EpochRowPlan(epoch: epoch, order: sampler.order(epoch: epoch), dataset: dataset,
                            maxLength: maxLength, packing: packing)
        if countedEpochs.insert(epoch).inserted {
            truncatedExamples += plan.truncatedExamples
        }
    }
}
