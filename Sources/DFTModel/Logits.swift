import DFTCore

extension Transformer {
    /// The logits of some token slots after `forward`: their final-norm outputs through the
    /// LM head (one product, in the model's precision). Returns [slots.count, vocab], row r for `slots[r]`.
    ///
    /// For evaluation, parity checks and sampling; training never forms logits outside
    /// `LMHeadLoss`. Allocates its result.
    public func logits(slots: [Int]) -> [Float] {
        let h = config.hiddenSize, vocab = config.vocabSize
        var gathered = [Float](repeating: 0, count: slots.count * h)  // [slots, hidden]
        gathered.withUnsafeMutableBufferPointer { rows in
            for (r, slot) in slots.enumerated() {
                precondition(slot >= 0 && slot < maxRows * rowLength, "slot \(slot) outside the batch")
                (rows.baseAddress! + r * h).update(from: activations.finalNorm.pointer + slot * h, count: h)
            }
        }
        var out = [Float](repeating: 0, count: slots.count * vocab)  // [slots, vocab]
        gathered.withUnsafeBufferPointer { a in
            out.withUnsafeMutableBufferPointer { c in
                Linear.forward(out: c.baseAddress!, input: a.baseAddress!, weight: p(offsets.lmHead), bias: nil,
                               tokens: slots.count, inFeatures: h, outFeatures: vocab, bf16: bf16?.head)
            }
        }
        return out
    }
}
