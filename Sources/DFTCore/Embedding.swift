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

    /// The same lookup from a table stored transposed, [hidden, vocab] (the decoder's layout of a
    /// tied embedding, whose columns are the tokens' vectors).
    /// out: [tokens, hidden]; ids: [tokens]; table: [hidden, vocab].
    public static func forward(
        out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>,
        transposedTable table: UnsafePointer<Float>, vocab: Int, tokens: Int, hidden: Int
    ) {
        for t in 0..<tokens {
            let row = out + t * hidden, column = table + Int(ids[t])
            for i in 0..<hidden { row[i] = column[i * vocab] }
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
