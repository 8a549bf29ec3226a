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
