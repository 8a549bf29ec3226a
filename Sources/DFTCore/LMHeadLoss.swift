import Foundation

/// What one pass of `LMHeadLoss` measured, as sums so that micro-batches and ranks add up.
public struct LossSums: Sendable, Equatable {
    /// Sum over trained tokens of the objective's per-token loss -w(p) log p (unnormalised).
    public var objective: Double = 0
    /// Sum of -log p.
    public var nll: Double = 0
    /// Sum of p.
    public var probability: Double = 0
    /// Trained tokens.
    public var tokens: Int = 0

    public init() {}

    public static func + (a: LossSums, b: LossSums) -> LossSums {
        var s = a
        s.objective += b.objective
        s.nll += b.nll
        s.probability += b.probability
        s.tokens += b.tokens
        return s
    }
}

/// The LM head and the objective, fused and chunked.
///
/// Only trained tokens need logits, so their final hidden states are gathered into chunks of
/// `chunkTokens` rows; each chunk's logits [chunk, vocab] are computed, turned into the loss
/// and, in place, into the gradient of the logits, then pushed back through the head by two
/// sgemms. The [tokens, vocab] logits of the whole batch never exist (Qwen2.5's vocabulary is
/// 151,936: one 512-token row of logits alone would be 311 MB).
public final class LMHeadLoss: @unchecked Sendable {
    public let vocab: Int
    public let hidden: Int
    public let chunkTokens: Int
    public static let histogramBins = 20

    private let logits: FloatBuffer        // [chunkTokens, vocab], then d logits in place
    private let hiddenChunk: FloatBuffer   // [chunkTokens, hidden] gathered final hidden states
    private let dHiddenChunk: FloatBuffer  // [chunkTokens, hidden]
    private var chunkIndex: [Int]          // [chunkTokens] token slot of each gathered row
    private var chunkTarget: [Int32]       // [chunkTokens]
    private let rowLogP: UnsafeMutableBufferPointer<Double>  // [chunkTokens] log p of each gathered row
    private let rowP: UnsafeMutableBufferPointer<Float>      // [chunkTokens] p of each gathered row
    /// Counts of target probabilities in 20 equal bins over [0, 1], added to by every pass
    /// until `resetHistogram()`: the paper's main diagnostic.
    public private(set) var histogram: [Int]

    public init(vocab: Int, hidden: Int, chunkTokens: Int) {
        precondition(chunkTokens > 0, "LMHeadLoss needs a positive chunk size")
        self.vocab = vocab
        self.hidden = hidden
        self.chunkTokens = chunkTokens
        logits = FloatBuffer(count: chunkTokens * vocab)
        hiddenChunk = FloatBuffer(count: chunkTokens * hidden)
        dHiddenChunk = FloatBuffer(count: chunkTokens * hidden)
        chunkIndex = [Int](repeating: 0, count: chunkTokens)
        chunkTarget = [Int32](repeating: 0, count: chunkTokens)
        histogram = [Int](repeating: 0, count: Self.histogramBins)
        rowLogP = .allocate(capacity: chunkTokens)
        rowP = .allocate(capacity: chunkTokens)
    }

    deinit {
        rowLogP.deallocate()
        rowP.deallocate()
    }

    /// A chunk size that keeps the logits chunk near `bytes` (default 64 MB), at least 1.
    public static func chunkTokens(vocab: Int, maxTokens: Int, bytes: Int = 64 << 20) -> Int {
        max(1, min(maxTokens, bytes / (vocab * MemoryLayout<Float>.stride)))
    }

    public func resetHistogram() {
        for i in 0..<histogram.count { histogram[i] = 0 }
    }

    /// Loss sums over the trained tokens and the gradients of `gradScale * sum of per-token
    /// losses` that are asked for: dHidden is overwritten (zero on untrained tokens), dWeight
    /// accumulated. Either may be nil. `logProbabilities` ([tokens]), when given, receives
    /// log p of every trained token at its slot (other slots are left as they are).
    ///
    /// hidden: [tokens, hidden] final-norm output; weight: [vocab, hidden] (lm_head, or the
    /// embedding when tied); targets, lossMask: [tokens].
    public func run(
        hidden input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        targets: UnsafePointer<Int32>, lossMask: UnsafePointer<Float>, tokens: Int,
        objective: Objective, gradScale: Float,
        dHidden: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
        logProbabilities: UnsafeMutablePointer<Float>? = nil
    ) -> LossSums {
        var sums = LossSums()
        if let dHidden { dHidden.update(repeating: 0, count: tokens * hidden) }
        var next = 0
        while next < tokens {
            // Gather the next chunk of trained tokens.
            var rows = 0
            while next < tokens && rows < chunkTokens {
                if lossMask[next] != 0 {
                    precondition(targets[next] >= 0 && Int(targets[next]) < vocab,
                                 "target id \(targets[next]) outside vocabulary \(vocab)")
                    chunkIndex[rows] = next
                    chunkTarget[rows] = targets[next]
                    (hiddenChunk.pointer + rows * hidden).update(from: input + next * hidden, count: hidden)
                    rows += 1
                }
                next += 1
            }
            if rows == 0 { break }
            let z = logits.pointer
            BLAS.gemm(transB: true, m: rows, n: vocab, k: hidden,
                      a: hiddenChunk.pointer, b: weight, c: z)
            // Each trained token's softmax, loss terms and logit gradient are independent:
            // rows go to the pool's workers; the sums are then added in row order, so the
            // result does not depend on the thread count.
            let wantGradient = dHidden != nil || dWeight != nil
            let logP = rowLogP.baseAddress!, probability = rowP.baseAddress!
            chunkTarget.withUnsafeBufferPointer { chunkTargets in
                Parallel.forRanges(rows, minimum: 4) { range in
                    for r in range {
                        let row = z + r * vocab
                        let target = Int(chunkTargets[r])
                        let maxLogit = VectorMath.maximum(row, count: vocab)
                        let targetLogit = row[target]
                        // One exponential per logit, kept in place for the gradient.
                        let sumExp = VectorMath.exponentiate(row, count: vocab, shift: maxLogit)
                        let lp = Double(targetLogit) - (Double(maxLogit) + log(sumExp))
                        logP[r] = lp
                        let p = Float(exp(lp))
                        probability[r] = p
                        if wantGradient {
                            // d/dz [-sg(w) log p] = w * (softmax - onehot), scaled by the global
                            // normalisation, written over the logits.
                            let scale = gradScale * objective.weight(probability: p)
                            let factor = scale / Float(sumExp)  // row holds exp(z - max)
                            VectorMath.scale(row, count: vocab, by: factor)
                            row[target] -= scale
                        }
                    }
                }
            }
            for r in 0..<rows {
                let lp = logP[r]
                let p = probability[r]
                let w = objective.weight(probability: p)
                sums.objective += -Double(w) * lp
                sums.nll += -lp
                sums.probability += Double(p)
                sums.tokens += 1
                logProbabilities?[chunkIndex[r]] = Float(lp)
                // A non-finite p (diverged weights) is counted nowhere; the step is skipped by
                // the caller, which sees the non-finite loss.
                if p.isFinite {
                    histogram[max(0, min(Self.histogramBins - 1, Int(p * Float(Self.histogramBins))))] += 1
                }
            }
            if let dHidden {
                BLAS.gemm(m: rows, n: hidden, k: vocab, a: z, b: weight, c: dHiddenChunk.pointer)
                for r in 0..<rows {
                    (dHidden + chunkIndex[r] * hidden).update(from: dHiddenChunk.pointer + r * hidden, count: hidden)
                }
            }
            if let dWeight {
                BLAS.gemm(transA: true, m: vocab, n: hidden, k: rows,
                          a: z, b: hiddenChunk.pointer, beta: 1, c: dWeight)
            }
        }
        return sums
    }
}
