import DFTCore
import DFTData
import DFTModel
import DFTRuntime

/// Held-out evaluation (`eval_data`): the whole set, every example once, split over the ranks.
extension Trainer {
    /// One evaluation of the held-out set: the objective's sums and the target-probability
    /// histogram of its tokens, over all ranks.
    public struct HeldOutEvaluation: Sendable {
        public var sums: LossSums
        public var histogram: [Int]
    }

    /// Evaluates the whole held-out set with the objective of the next step (collective: every
    /// rank evaluates its share of the rows, in passes of `micro_batch` rows, and the results
    /// are added across ranks). Changes no parameter and leaves the training histogram alone.
    public func evaluateHeldOut() -> HeldOutEvaluation? {
        guard let evaluation else { return nil }
        let objective = objective(at: step)
        let frozen = objective.needsReference ? reference : nil
        let rows = config.microBatch, ranks = communicator.size
        let passes = (evaluation.rowCount + rows - 1) / rows
        var counts = [Int](repeating: 0, count: LMHeadLoss.histogramBins)
        model.lossHead.exchangeHistogram(&counts)  // the head now counts held-out tokens from 0
        var sums = LossSums()
        for pass in stride(from: communicator.rank, to: passes, by: ranks) {
            let first = pass * rows
            evaluation.fill(batch, firstRow: first, rowCount: min(rows, evaluation.rowCount - first))
            model.forward(batch)
            frozen?.forward(batch)
            sums = sums + model.loss(batch, objective: objective, reference: frozen)
        }
        model.lossHead.exchangeHistogram(&counts)  // training counts back; `counts` the held-out ones
        var buffer = [Double](repeating: 0, count: LossSums.packedCount + counts.count)
        sums.pack(into: &buffer)
        for (bin, count) in counts.enumerated() { buffer[LossSums.packedCount + bin] = Double(count) }
        communicator.allreduceSum(&buffer)
        return HeldOutEvaluation(sums: LossSums(unpacking: buffer),
                                 histogram: buffer[LossSums.packedCount...].map { Int($0) })
    }
}
