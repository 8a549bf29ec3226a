/// Token embedding lookup, `model.embed_tokens.weight` [vocab, hidden].
public enum Embedding {
    /// out: [tokens, hidden]; ids: [tokens]; table: [vocab, hidden].
    public static func forward(
        out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>,
        table: UnsafePointer<Float>, tokens: Int, hidden: Int
    ) {
        for t in 0..<tokens {
            (out + t * hidden).update(from: table + Int(ids[t]) * hidden, count: hidden)
        }
    }

    /// The same lookup from a bf16 table (a decode-only model's, `PackedDecodeWeights`): each
    /// element widened to fp32 exactly. out: [tokens, hidden]; ids: [tokens]; table: [vocab,
    /// hidden] bf16 bits.
    public static func forward(
        out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>,
        bf16Table table: UnsafePointer<UInt16>, tokens: Int, hidden: Int
    ) {
        for t in 0..<tokens {
            let row = table + Int(ids[t]) * hidden, o = out + t * hidden
            for i in 0..<hidden { o[i] = BFloat16.float(row[i]) }
        }
    }

    /// The same lookup from a table stored in column panels of its transpose (the decoder's
    /// layout of a tied embedding, `Transpose.toPanels`): token v's element i sits in panel
    /// v / panelWidth, a [hidden, w] block, at row i, column v % panelWidth.
    /// out: [tokens, hidden]; ids: [tokens]; table: [vocab, hidden] elements in panels.
    public static func forward(
        out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>,
        panelTable table: UnsafePointer<Float>, vocab: Int, panelWidth: Int, tokens: Int, hidden: Int
    ) {
        let width = min(panelWidth, vocab)
        for t in 0..<tokens {
            let v = Int(ids[t]), p = v / width, j0 = p * width
            let w = min(width, vocab - j0)  // the last panel may be narrower
            let column = table + j0 * hidden + (v - j0)
            let row = out + t * hidden
            for i in 0..<hidden { row[i] = column[i * w] }
        }
    }

    /// dTable[ids[t]] += dOut[t]. Repeated ids accumulate.
    public static func backward(
        dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
        ids: UnsafePointer<Int32>, tokens: Int, hidden: Int
    ) {
        for t in 0..<tokens {
            let row = dTable + Int(ids[t]) * hidden
            let g = dOut + t * hidden
            for i in 0..<hidden { row[i] += g[i] }
        }
    }
}
