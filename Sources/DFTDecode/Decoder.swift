import DFTCore
import DFTModel

/// Runs a trained `Transformer`'s weights forward over `DecodeBatch`es, keeping keys and values
/// in a `KVCache`: prefill (a prompt's tokens as one run, every projection one product over the
/// run) and decode steps (one token per active slot, every projection one product over the
/// slots, so the weights are read once per step for the whole batch). Same semantics as the
/// training forward pass (RMSNorm, RoPE with the model's frequencies, GQA, q/k/v bias, SwiGLU,
/// tied or untied head). How the products read the weights is `weights`: in fp32 (`.panels`)
/// the model's own buffer, not a copy, in the `DecodeLayout` (the matrices transposed to
/// [in, out], in column panels on AVX-512 kernels) that `withTransposedWeights` switches the
/// buffer to and back; in bf16 (`.packed`) copies oneDNN packs when that scope opens. Every
/// `step` runs inside it. The KV cache follows the products: fp32, or bf16 read in place by
/// oneDNN's products in a decode step (`KVCache`, `CachedAttention`); softmax and the logits
/// are fp32 either way.
///
/// Buffers are allocated once for `maxTokens` tokens per step and `slots x context` cached
/// positions; after a step of each row count has run once, `step` allocates nothing.
public final class Decoder: @unchecked Sendable {
    public let model: Transformer
    public let config: ModelConfig
    public let cache: KVCache
    public let maxTokens: Int
    public let context: Int
    let offsets: ParameterOffsets
    let rope: RotaryEmbedding
    let attention: CachedAttention
    /// OpenBLAS on the model's buffer in panels, or oneDNN on packed copies (`weights`).
    let layout: DecodeLayout?
    let packed: PackedDecodeWeights?
    /// The packed products' scratch (nil on the panels).
    let workspace: MatmulWorkspace?
    // Step buffers, [maxTokens, width] each.
    let hidden: FloatBuffer    // [maxTokens, hidden] the residual stream
    let normed: FloatBuffer    // [maxTokens, hidden]
    let rstd: FloatBuffer      // [maxTokens]
    let qkv: FloatBuffer       // [maxTokens, (heads + 2 kvHeads) * headDim]
    let attended: FloatBuffer  // [maxTokens, heads * headDim]
    let gateUp: FloatBuffer    // [maxTokens, 2 * ffn]
    let mlp: FloatBuffer       // [maxTokens, ffn]
    let lastRows: FloatBuffer  // [slots, hidden] the final-norm outputs of each run's last token
    /// [slots, vocab]: after `step`, row r holds the logits of run r's last token (a step has
    /// at most one run per slot).
    public let logits: FloatBuffer

    /// slots: sequences decoded at once; context: the most positions one sequence may reach
    /// (prompt + new tokens); maxTokens: tokens per step (at least slots; a prompt longer than
    /// this is prefilled in chunks). panelWidth: outputs per column panel of the decoding layout,
    /// by default what suits the OpenBLAS kernel in use and each matrix (`DecodeLayout`); tests
    /// set both kinds. weights: panels (OpenBLAS) or packed copies (oneDNN, fp32 or bf16);
    /// jobs pass `DecodeWeights.for(precision)`.
    public init(model: Transformer, slots: Int, context: Int, maxTokens: Int, panelWidth: Int? = nil,
                weights: DecodeWeights = .panels) {
        precondition(maxTokens >= slots && slots >= 1, "a step must fit one token per slot")
        let c = model.config
        self.model = model
        config = c
        self.context = context
        self.maxTokens = maxTokens
        offsets = model.parameterOffsets
        rope = RotaryEmbedding(headDim: c.headDim, maxPositions: context, inverseFrequencies: c.ropeInverseFrequencies)
        // bf16 products keep the cache in bf16 too (half its bytes), read by oneDNN in place.
        let cacheBF16 = weights.kind == .fp32 ? nil : weights.kind
        cache = KVCache(layers: c.numHiddenLayers, slots: slots, kvHeads: c.numKeyValueHeads, capacity: context,
                        headDim: c.headDim, storage: cacheBF16 == nil ? .fp32 : .bf16)
        attention = CachedAttention(heads: c.numAttentionHeads, kvHeads: c.numKeyValueHeads, headDim: c.headDim,
                                    maxQueries: maxTokens, context: context, bf16: cacheBF16)
        switch weights {
        case .panels:
            precondition(!model.matricesReleased, "a model whose matrices were released decodes only on its packed copies")
            layout = DecodeLayout(model: model, slots: slots, panelWidth: panelWidth)
            packed = nil
        case .packed(let kind):
            precondition(!model.matricesReleased, "a model whose matrices were released decodes only on its packed copies")
            layout = nil
            packed = PackedDecodeWeights(model: model, kind: kind)
        case .prepacked(let weights):
            precondition(weights.model === model, "packed copies of another model")
            layout = nil
            packed = weights
        }
        let widestInput = Projection.allCases.map { $0.shape(c).inFeatures }.max()!
        workspace = packed == nil ? nil : MatmulWorkspace(capacity: maxTokens * widestInput)
        let h = c.hiddenSize, f = c.intermediateSize
        hidden = FloatBuffer(count: maxTokens * h)
        normed = FloatBuffer(count: maxTokens * h)
        rstd = FloatBuffer(count: maxTokens)
        qkv = FloatBuffer(count: maxTokens * attention.qkvWidth)
        attended = FloatBuffer(count: maxTokens * attention.outWidth)
        gateUp = FloatBuffer(count: maxTokens * 2 * f)
        mlp = FloatBuffer(count: maxTokens * f)
        lastRows = FloatBuffer(count: slots * h)
        logits = FloatBuffer(count: slots * c.vocabSize)
    }

    /// Bytes held: the cache, the step buffers, the logits and any packed copy of the weights
    /// with its scratch (not the model's own weights, nor the panel of scratch per thread that
    /// switching their layout holds for a moment).
    public var bytes: Int {
        cache.bytes + attention.bytes + (packed?.bytes ?? 0) + (workspace.map { $0.capacity * 4 } ?? 0)
            + [hidden, normed, rstd, qkv, attended, gateUp, mlp, lastRows, logits].reduce(0) { $0 + $1.bytes }
    }

    /// Bytes of weights one decode step reads: every matrix once (the packed copies, or the
    /// model's fp32 matrices) and the fp32 norms and biases. An untied embedding table is only
    /// gathered a row per token, so it is left out.
    public var weightBytesPerStep: Int {
        let untiedEmbedding = config.tieWordEmbeddings ? 0 : config.vocabSize * config.hiddenSize
        let matrixElements = packed?.matrices.reduce(0) { $0 + $1.outFeatures * $1.inFeatures }
            ?? layout!.matrices.reduce(0) { $0 + $1.rows * $1.columns }
        let matrixBytes = packed?.matrices.reduce(0) { $0 + $1.bytes } ?? matrixElements * 4
        return (model.layout.count - untiedEmbedding - matrixElements) * 4 + matrixBytes
    }

    /// Runs `body` with the model's matrices transposed for decoding, and restores them after
    /// (bit for bit, also when `body` throws). Nested calls switch once. While it runs, the model
    /// must not be used for anything but this decoder's steps. The transposition reads and
    /// writes every matrix twice, so callers wrap a whole job (all of `generate`, one accuracy
    /// evaluation), not each step; `GenerationEngine.run` wraps itself for callers that do not.
    ///
    /// With packed weights, the copies are packed from the model's weights at the outermost
    /// call instead, and the model is left as it is.
    public func withTransposedWeights<T>(_ body: () throws -> T) rethrows -> T {
        if let packed { return try packed.withPacked(body) }
        return try layout!.withLayout(body)
    }

    /// output[rows, out] = input[rows, in] W^T (+= with `accumulate`) for one of layer l's
    /// projections, or the head (`projection` nil), on the panels or the packed copy.
    @inline(__always)
    func product(_ projection: Projection?, layer l: Int = 0, rows: Int, input: UnsafePointer<Float>,
                 output: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        if let packed {
            let matrix = projection.map { packed.layers[l][$0] } ?? packed.head
            matrix.multiply(rows: rows, input: input, output: output, accumulate: accumulate, workspace: workspace!)
            return
        }
        let m = projection.map { layout!.layers[l][$0] } ?? layout!.head
        BLAS.gemmPanels(m: rows, n: m.rows, k: m.columns, a: input, panels: p(m.offset), panelWidth: m.panelWidth,
                        beta: accumulate ? 1 : 0, c: output)
    }

    @inline(__always) func p(_ offset: Int) -> UnsafeMutablePointer<Float> { model.parameters.pointer + offset }

    /// Tokens per step that jobs give a decoder of `slots` sequences: a step of new prompts packs
    /// several of them (`prefill`), and a few hundred rows per product run sgemm near its best
    /// (`small` on the AVX2 kernels: 64 rows a step prefill 1320 tokens/s, 256 rows 2881), while
    /// the step buffers stay small beside the cache (73 KB a token for `qwen05b`).
    public static func stepTokens(slots: Int) -> Int { max(slots, 256) }

    /// Prefills each prompt into its slot (emptied first; the slots distinct), several prompts
    /// per step: their tokens are packed in order, up to `maxTokens` a step, and a prompt that
    /// does not fit in what is left of a step goes on in the next. `finished(i, logits)` gets
    /// prompt i's logits after its last token ([vocab], valid until the next step), in order.
    /// A prompt's keys, values and logits do not depend on which prompts share its steps but
    /// through OpenBLAS's blocking of a product by its row count (the last bits, as for decode
    /// steps of other batches). Only inside `withTransposedWeights`.
    public func prefill(_ prompts: [(slot: Int, ids: [Int32])], using batch: DecodeBatch,
                        finished: (Int, UnsafePointer<Float>) -> Void) {
        precondition(batch.maxTokens <= maxTokens, "a batch of \(batch.maxTokens) tokens for a decoder of \(maxTokens)")
        for prompt in prompts {
            precondition(!prompt.ids.isEmpty, "an empty prompt")
            cache.reset(slot: prompt.slot)
        }
        var next = 0, done = 0  // the next prompt to place, and how many of its tokens are placed
        while next < prompts.count {
            batch.removeAll()
            let first = next  // the step's runs are prompts first, first + 1, ...
            while next < prompts.count && batch.tokens < batch.maxTokens && batch.runs.count < batch.maxRuns {
                let ids = prompts[next].ids
                let count = min(batch.maxTokens - batch.tokens, ids.count - done)
                ids.withUnsafeBufferPointer { ids in
                    batch.append(slot: prompts[next].slot, start: done, ids: UnsafeBufferPointer(rebasing: ids[done..<done + count]))
                }
                done += count
                if done < ids.count { break }  // the step is full; the prompt goes on in the next
                next += 1
                done = 0
            }
            step(batch)
            for (r, run) in batch.runs.enumerated() where run.start + run.count == prompts[first + r].ids.count {
                finished(first + r, UnsafePointer(logits.pointer + r * config.vocabSize))
            }
        }
    }

    /// Runs the batch's tokens through every layer, appending their keys and values to their
    /// slots' caches, and writes the logits of each run's last token to `logits` rows 0..<runs.
    /// Each run must start at its slot's cached length. Only inside `withTransposedWeights`.
    public func step(_ batch: DecodeBatch) {
        let c = config, n = batch.tokens, h = c.hiddenSize, f = c.intermediateSize
        precondition(layout?.isActive ?? packed!.isActive,
                     "Decoder.step outside withTransposedWeights: the weights are not laid out (or packed) for decoding")
        precondition(n > 0 && n <= maxTokens, "a step of \(n) tokens (at most \(maxTokens))")
        precondition(batch.runs.count <= cache.slots, "a step of \(batch.runs.count) runs for \(cache.slots) slots")
        var seen = 0 as UInt64  // slots of this step, when there are at most 64 (else checked pairwise below)
        for (r, run) in batch.runs.enumerated() {
            if cache.slots <= 64 {
                precondition(seen & (1 << UInt64(run.slot)) == 0, "two runs of slot \(run.slot) in one step")
                seen |= 1 << UInt64(run.slot)
            } else {
                precondition(!batch.runs[..<r].contains { $0.slot == run.slot }, "two runs of slot \(run.slot) in one step")
            }
            precondition(run.start == cache.lengths[run.slot], "run of slot \(run.slot) starts at \(run.start), "
                         + "its cache holds \(cache.lengths[run.slot])")
            precondition(run.start + run.count <= context, "slot \(run.slot) would pass the context of \(context)")
        }
        let eps = Float(c.rmsNormEps)
        batch.ids.withUnsafeBufferPointer { ids in
            for t in 0..<n {
                precondition(ids[t] >= 0 && Int(ids[t]) < c.vocabSize, "token id \(ids[t]) outside the vocabulary")
            }
            if let table = packed?.embeddingBF16 {  // a decode-only model's table, in bf16
                Embedding.forward(out: hidden.pointer, ids: ids.baseAddress!, bf16Table: table, tokens: n, hidden: h)
            } else if c.tieWordEmbeddings, let layout {  // the table is the head, in the decoding layout's panels
                Embedding.forward(out: hidden.pointer, ids: ids.baseAddress!, panelTable: p(offsets.embedding),
                                  vocab: c.vocabSize, panelWidth: layout.head.panelWidth, tokens: n, hidden: h)
            } else {
                Embedding.forward(out: hidden.pointer, ids: ids.baseAddress!, table: p(offsets.embedding), tokens: n, hidden: h)
            }
        }
        for l in 0..<c.numHiddenLayers {
            let o = offsets.layers[l]
            RMSNorm.forward(out: normed.pointer, rstd: rstd.pointer, input: hidden.pointer, weight: p(o.inputNorm),
                            tokens: n, hidden: h, eps: eps)
            // qkv = normed qkv_proj^T + bias
            if let bias = o.qkvBias {
                for t in 0..<n { (qkv.pointer + t * attention.qkvWidth).update(from: p(bias), count: attention.qkvWidth) }
            }
            product(.qkv, layer: l, rows: n, input: normed.pointer, output: qkv.pointer, accumulate: o.qkvBias != nil)
            batch.positions.withUnsafeBufferPointer { pos in
                rope.forward(qkv.pointer, rowStride: attention.qkvWidth, heads: c.numAttentionHeads + c.numKeyValueHeads,
                             positions: pos.baseAddress!, tokens: n)
            }
            attention.forward(out: attended.pointer, qkv: qkv.pointer, runs: batch.runs, cache: cache, layer: l)
            // hidden += attended o_proj^T
            product(.oProj, layer: l, rows: n, input: attended.pointer, output: hidden.pointer, accumulate: true)
            RMSNorm.forward(out: normed.pointer, rstd: rstd.pointer, input: hidden.pointer, weight: p(o.postNorm),
                            tokens: n, hidden: h, eps: eps)
            // gate and up stored together, [2 ffn, hidden]: each row of the product is [gate | up]
            product(.gateUp, layer: l, rows: n, input: normed.pointer, output: gateUp.pointer)
            SwiGLU.forward(out: mlp.pointer, gateUp: gateUp.pointer, tokens: n, ffn: f)
            // hidden += mlp down_proj^T
            product(.down, layer: l, rows: n, input: mlp.pointer, output: hidden.pointer, accumulate: true)
        }
        for run in batch.runs { cache.setLength(run.start + run.count, slot: run.slot) }
        // Only each run's last token needs logits: gather those rows, normalise, one head sgemm.
        let rows = batch.runs.count
        for (r, run) in batch.runs.enumerated() {
            (normed.pointer + r * h).update(from: hidden.pointer + (run.offset + run.count - 1) * h, count: h)
        }
        RMSNorm.forward(out: lastRows.pointer, rstd: rstd.pointer, input: normed.pointer, weight: p(offsets.finalNorm),
                        tokens: rows, hidden: h, eps: eps)
        product(nil, rows: rows, input: lastRows.pointer, output: logits.pointer)  // the head
    }
}
