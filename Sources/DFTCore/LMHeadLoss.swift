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
    /// Sum of KL(pi_ref || pi_theta) over the vocabulary, for objectives with a reference
    /// model (0 otherwise).
    public var kl: Double = 0

    public init() {}

    /// Doubles `pack` writes: objective, nll, probability, tokens, kl (so that the sums travel
    /// in one allreduce with whatever else a caller adds after them).
    public static let packedCount = 5

    public func pack(into buffer: inout [Double], at offset: Int = 0) {
        buffer[offset] = objective
        buffer[offset + 1] = nll
        buffer[offset + 2] = probability
        buffer[offset + 3] = Double(tokens)
        buffer[offset + 4] = kl
    }

    public init(unpacking buffer: [Double], at offset: Int = 0) {
        objective = buffer[offset]
        nll = buffer[offset + 1]
        probability = buffer[offset + 2]
        tokens = Int(buffer[offset + 3])
        kl = buffer[offset + 4]
    }

    public static func + (a: LossSums, b: LossSums) -> LossSums {
        var s = a
        s.objective += b.objective
        s.nll += b.nll
        s.probability += b.probability
        s.tokens += b.tokens
        s.kl += b.kl
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
    private let rowKL: UnsafeMutableBufferPointer<Double>    // [chunkTokens] KL(ref || theta) of each row
    private let rowReferenceP: UnsafeMutableBufferPointer<Float>  // [chunkTokens] p_ref of each row
    // The reference model's side, allocated by `enableReference()`.
    private var referenceLogits: FloatBuffer?       // [chunkTokens, vocab], then p_ref * sum in place
    private var referenceHiddenChunk: FloatBuffer?  // [chunkTokens, hidden]
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
        rowKL = .allocate(capacity: chunkTokens)
        rowReferenceP = .allocate(capacity: chunkTokens)
    }

    deinit {
        rowLogP.deallocate()
        rowP.deallocate()
        rowKL.deallocate()
        rowReferenceP.deallocate()
    }

    /// Allocates the buffers a reference model's logits need (one more logits chunk); call
    /// once before training with an objective that `needsReference`.
    public func enableReference() {
        if referenceLogits != nil { return }
        referenceLogits = FloatBuffer(count: chunkTokens * vocab)
        referenceHiddenChunk = FloatBuffer(count: chunkTokens * hidden)
    }

    /// The frozen reference model's side of the head: its final-norm output and head weight.
    public struct Reference {
        public var hidden: UnsafePointer<Float>  // [tokens, hidden]
        public var weight: UnsafePointer<Float>  // [vocab, hidden]
        /// The reference head's bf16 copy, when it runs in bf16.
        public var bf16: BF16Linear?
        public init(hidden: UnsafePointer<Float>, weight: UnsafePointer<Float>, bf16: BF16Linear? = nil) {
            self.hidden = hidden
            self.weight = weight
            self.bf16 = bf16
        }
    }

    /// Bytes held (both logits chunks when a reference is enabled).
    public var bytes: Int {
        logits.bytes + hiddenChunk.bytes + dHiddenChunk.bytes
            + (referenceLogits?.bytes ?? 0) + (referenceHiddenChunk?.bytes ?? 0)
    }

    /// A chunk size that keeps the logits chunk near `bytes` (default 64 MB), at least 1.
    public static func chunkTokens(vocab: Int, maxTokens: Int, bytes: Int = 64 << 20) -> Int {
        max(1, min(maxTokens, bytes / (vocab * MemoryLayout<Float>.stride)))
    }

    /// Exchanges the histogram's counts with `counts` (same length): a held-out evaluation
    /// counts into a histogram of its own and hands the training one back untouched.
    public func exchangeHistogram(_ counts: inout [Int]) {
        precondition(counts.count == histogram.count, "histograms have \(histogram.count) bins, got \(counts.count)")
        swap(&histogram, &counts)
    }

    public func resetHistogram() {
        for i in 0..<histogram.count { histogram[i] = 0 }
    }

    /// Loss sums over the trained tokens and the gradients of `gradScale * sum of per-token
    /// losses` that are asked for: dHidden is overwritten (zero on untrained tokens), dWeight
    /// accumulated. Either may be nil. `logProbabilities` ([tokens]), when given, receives
    /// log p of every trained token at its slot (other slots are left as they are).
    /// `reference` is required by (and only read for) objectives that `needsReference`.
    /// `bf16`: the head's three products run on its bf16 copy (logits and the softmax, loss and
    /// DFT weight after them stay fp32).
    ///
    /// hidden: [tokens, hidden] final-norm output; weight: [vocab, hidden] (lm_head, or the
    /// embedding when tied); targets, lossMask: [tokens].
    public func run(
        hidden input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        targets: UnsafePointer<Int32>, lossMask: UnsafePointer<Float>, tokens: Int,
        objective: Objective, gradScale: Float,
        dHidden: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
        logProbabilities: UnsafeMutablePointer<Float>? = nil, reference: Reference? = nil, bf16: BF16Linear? = nil
    ) -> LossSums {
        let reference = objective.needsReference ? reference : nil
        precondition(!objective.needsReference || reference != nil, "objective \(objective) needs a reference model")
        precondition(reference == nil || referenceLogits != nil, "LMHeadLoss.enableReference() was not called")
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
                    if let reference, let refChunk = referenceHiddenChunk {
                        (refChunk.pointer + rows * hidden).update(from: reference.hidden + next * hidden, count: hidden)
                    }
                    rows += 1
                }
                next += 1
            }
            if rows == 0 { break }
            let z = logits.pointer
            Linear.forward(out: z, input: hiddenChunk.pointer, weight: weight, bias: nil, tokens: rows, inFeatures: hidden,
                           outFeatures: vocab, bf16: bf16)
            if let reference, let refLogits = referenceLogits, let refChunk = referenceHiddenChunk {
                Linear.forward(out: refLogits.pointer, input: refChunk.pointer, weight: reference.weight, bias: nil, tokens: rows,
                               inFeatures: hidden, outFeatures: vocab, bf16: reference.bf16)
            }
            // Each trained token's softmax, loss terms and logit gradient are independent:
            // rows go to the pool's workers; the sums are then added in row order, so the
            // result does not depend on the thread count.
            let wantGradient = dHidden != nil || dWeight != nil
            // bf16 products: each row of the logit gradient is converted while it is in cache,
            // straight into the operand both backward products read (not in a pass over the
            // chunk after it).
            // A frozen head (LoRA) gets the same for its one product, dHidden.
            let gradientHalves = wantGradient && bf16?.forward.kind == .bf16 && bf16?.backward != nil
                && (dWeight != nil || dHidden != nil) ? bf16!.gradientOperand : nil
            let logP = rowLogP.baseAddress!, probability = rowP.baseAddress!
            let rowKLs = rowKL.baseAddress!, referenceProbability = rowReferenceP.baseAddress!
            chunkTarget.withUnsafeBufferPointer { chunkTargets in
                Parallel.forRanges(rows, minimum: 4) { range in
                    for r in range {
                        let row = z + r * vocab
                        let target = Int(chunkTargets[r])
                        let maxLogit = VectorMath.maximum(row, count: vocab)
                        let targetLogit = row[target]
                        // The reference row first, while the trained row still holds logits:
                        // KL(ref || theta) = E_ref[z_ref - z] - (max_ref + log S_ref) + (max + log S).
                        var referenceRow: UnsafeMutablePointer<Float>? = nil
                        var referenceSum = 1.0, referenceP: Float = .nan, kl = 0.0
                        if let refLogits = referenceLogits, reference != nil {
                            let refRow = refLogits.pointer + r * vocab
                            let refMax = VectorMath.maximum(refRow, count: vocab)
                            let refTargetLogit = refRow[target]
                            let (sum, dot) = VectorMath.exponentiate(refRow, count: vocab, shift: refMax,
                                                                     weightingDifferenceFrom: row)
                            referenceRow = refRow
                            referenceSum = sum
                            referenceP = Float(exp(Double(refTargetLogit) - (Double(refMax) + log(sum))))
                            kl = dot / sum - (Double(refMax) + log(sum)) + Double(maxLogit)  // + log S below
                        }
                        // One exponential per logit, kept in place for the gradient.
                        let sumExp = VectorMath.exponentiate(row, count: vocab, shift: maxLogit)
                        let lp = Double(targetLogit) - (Double(maxLogit) + log(sumExp))
                        logP[r] = lp
                        let p = Float(exp(lp))
                        probability[r] = p
                        referenceProbability[r] = referenceP
                        rowKLs[r] = referenceRow == nil ? 0 : kl + log(sumExp)
                        if wantGradient {
                            // d/dz [-sg(w) log p] = w * (softmax - onehot), scaled by the global
                            // normalisation, written over the logits; asft adds
                            // lambda * (softmax - p_ref).
                            let scale = gradScale * objective.weight(probability: p, reference: referenceP)
                            let lambda = objective.klCoefficient
                            if let referenceRow, lambda != 0 {
                                // row holds exp(z - max), referenceRow exp(z_ref - max_ref).
                                VectorMath.scaleSubtract(row, count: vocab, a: (scale + gradScale * lambda) / Float(sumExp),
                                                         referenceRow, b: gradScale * lambda / Float(referenceSum))
                            } else {
                                VectorMath.scale(row, count: vocab, by: scale / Float(sumExp))
                            }
                            row[target] -= scale
                            if let gradientHalves { BFloat16.convert(row, to: gradientHalves + r * vocab, count: vocab) }
                        }
                    }
                }
            }
            for r in 0..<rows {
                let lp = logP[r]
                let p = probability[r]
                let w = objective.weight(probability: p, reference: referenceProbability[r])
                sums.objective += -Double(w) * lp + Double(objective.klCoefficient) * rowKLs[r]
                sums.kl += rowKLs[r]
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
            // z now holds d(loss)/d(logits): dHidden = z W, dWeight += z^T hidden.
            if let gradientHalves, let bf16 {
                if let dWeight {
                    let padded = WeightGradient.paddedTokens(rows)
                    (gradientHalves + rows * vocab).update(repeating: 0, count: (padded - rows) * vocab)
                    bf16.backward(dInput: dHidden == nil ? nil : dHiddenChunk.pointer, dWeight: dWeight,
                                  dOutHalves: gradientHalves, input: hiddenChunk.pointer, tokens: rows)
                } else {
                    bf16.backward!.multiply(rows: rows, bf16Input: gradientHalves, output: dHiddenChunk.pointer,
                                            workspace: bf16.workspace)
                }
            } else {
                Linear.backward(dInput: dHidden == nil ? nil : dHiddenChunk.pointer, dWeight: dWeight, dBias: nil, dOut: z,
                                input: hiddenChunk.pointer, weight: weight, tokens: rows, inFeatures: hidden, outFeatures: vocab,
                                bf16: bf16)
            }
            if let dHidden {
                for r in 0..<rows {
                    (dHidden + chunkIndex[r] * hidden).update(from: dHiddenChunk.pointer + r * hidden, count: hidden)
                }
            }
        }
        return sums
    }
}
