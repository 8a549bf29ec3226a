import DFTCore

/// A Llama / Qwen2 decoder with Hugging Face semantics, trained in place on flat buffers.
///
/// `forward` runs the layers and keeps what the backward pass needs; `lossAndBackward` runs
/// the fused LM head and objective and then every layer backwards, adding into `gradients`
/// (so micro-batches accumulate until the caller zeroes them). Nothing here allocates after
/// `init`.
public final class Transformer: @unchecked Sendable {
    public let config: ModelConfig
    public let layout: ParameterLayout
    public let parameters: FloatBuffer  // [paddedCount] all weights, HF names via layout; zero tail
    public let gradients: FloatBuffer   // [paddedCount] same layout; empty for a frozen model or base
    /// LoRA factors beside the frozen projections (nil: every weight is trained, or none).
    public let adapters: LoRAAdapters?
    /// The base weights get gradients: trainable and no adapters.
    public var trainsBase: Bool { gradients.count > 0 }
    /// layout.count rounded up to a multiple of `bufferMultiple`, so that ZeRO can cut the
    /// buffers into equal shards; the tail past layout.count stays zero.
    public let paddedCount: Int
    /// Called during the backward pass with an offset from which every gradient in the flat
    /// buffer is final for this pass (it only decreases: the layout runs from the embedding to
    /// the head, the backward pass the other way). Data parallelism starts summing those
    /// gradients across ranks while the earlier layers are still being differentiated.
    public var gradientsReady: ((Int) -> Void)?
    public let maxRows: Int
    public let rowLength: Int
    public let lossHead: LMHeadLoss
    /// Time split by phase (matmuls, attention, other kernels, LM head + loss), when enabled;
    /// a frozen reference shares its trained model's, so the split covers both.
    public let timer: PhaseTimer
    /// What the backward pass recomputes rather than keeps (memory against time).
    public let recompute: Recompute
    /// The bf16 copies of the matrices the products read (oneDNN, or the tests' reference
    /// path), packed from the fp32 weights; nil in fp32 (OpenBLAS on the weights themselves).
    let bf16: BF16Weights?

    let rope: RotaryEmbedding
    let attention: Attention
    /// Attention with its products in bf16, when the model's products are (autocast runs them so too).
    let bf16Attention: BF16Attention?
    let activations: Activations
    let offsets: ParameterOffsets
    /// The offsets of every tensor a layer reads (for code that runs the weights another way).
    public var parameterOffsets: ParameterOffsets { offsets }

    /// trainable: the backward pass runs (false: a forward-only reference). lora: train these
    /// low-rank adapters instead of the weights, which stay frozen (no gradient buffer, no
    /// weight-gradient products). sharing: use another model's weight buffer rather than own
    /// one (the asft / iw-sft reference of a LoRA run is the frozen base itself). bf16: run the
    /// products in bf16 (`.bf16`, which needs `OneDNN.nativeBF16`, or `.bf16Reference`).
    public init(config: ModelConfig, maxRows: Int, rowLength: Int, lossChunkTokens: Int? = nil,
                bufferMultiple: Int = 1, recompute: Recompute = .none, trainable: Bool = true,
                lora: LoRASettings? = nil, sharing: FloatBuffer? = nil,
                timer: PhaseTimer = PhaseTimer(), bf16: PackedMatrix.Kind? = nil) throws {
        precondition(bf16 != .fp32, "bf16: .bf16 or .bf16Reference (nil is fp32)")
        try config.validate()
        self.timer = timer
        self.config = config
        self.recompute = recompute
        self.maxRows = maxRows
        self.rowLength = rowLength
        layout = ParameterLayout(config: config)
        // ZeRO shards what is trained: the adapters of a LoRA run, not the frozen weights.
        let multiple = lora == nil ? bufferMultiple : 1
        paddedCount = (layout.count + multiple - 1) / multiple * multiple
        if let sharing {
            precondition(sharing.count >= layout.count, "a shared weight buffer must hold the whole model")
            parameters = sharing
        } else {
            parameters = FloatBuffer(count: paddedCount)
        }
        // A frozen model (a reference for asft / iw-sft) or base (LoRA) has no gradients to hold.
        gradients = FloatBuffer(count: trainable && lora == nil ? paddedCount : 0)
        adapters = lora.map { LoRAAdapters(config: config, settings: $0, maxTokens: maxRows * rowLength,
                                           bufferMultiple: bufferMultiple, bf16: bf16) }
        offsets = ParameterOffsets(layout: layout, config: config)
        rope = RotaryEmbedding(headDim: config.headDim, maxPositions: rowLength,
                               inverseFrequencies: config.ropeInverseFrequencies)
        let attention = Attention(heads: config.numAttentionHeads, kvHeads: config.numKeyValueHeads,
                                  headDim: config.headDim)
        self.attention = attention
        bf16Attention = bf16.map { BF16Attention(attention: attention, kind: $0, rowLength: rowLength) }
        activations = Activations(config: config, maxRows: maxRows, rowLength: rowLength, recompute: recompute,
                                  backward: trainable)
        let chunk = lossChunkTokens
            ?? LMHeadLoss.chunkTokens(vocab: config.vocabSize, maxTokens: maxRows * rowLength)
        lossHead = LMHeadLoss(vocab: config.vocabSize, hidden: config.hiddenSize, chunkTokens: chunk)
        let (offsets, parameters) = (offsets, parameters)
        self.bf16 = bf16.map {
            BF16Weights(config: config, offsets: offsets, parameters: parameters.pointer, maxTokens: maxRows * rowLength,
                        headChunkTokens: chunk, kind: $0, backward: trainable, repacked: trainable && lora == nil)
        }
    }

    /// Set once a matrix's fp32 pages were given back (`releaseMatrix`): its elements read as
    /// zero, so nothing may run this model but the packed copies made before (a decode-only
    /// job's `PackedDecodeWeights`).
    public private(set) var matricesReleased = false

    /// Gives the pages of `range` (elements of `parameters`) back to the system, after the
    /// caller packed the matrix there elsewhere. Returns the bytes released.
    @discardableResult
    public func releaseMatrix(_ range: Range<Int>) -> Int {
        matricesReleased = true
        return parameters.releasePages(offset: range.lowerBound, count: range.count)
    }

    /// Bytes of the bf16 copies of the matrices and their workspaces (0 in fp32).
    public var bf16Bytes: Int { (bf16?.bytes ?? 0) + (bf16Attention?.bytes ?? 0) }

    /// Says that `parameters` were written (an optimizer step, a ZeRO allgather, a restore):
    /// the bf16 copies are packed again at the next forward pass. A no-op in fp32.
    public func parametersChanged() {
        bf16Stale = true
        parameterChanges += 1
    }
    /// How many times `parametersChanged()` was called: a LoRA trainer's frozen base keeps 0
    /// over its steps (its bf16 copies are packed once), a full fine-tune's counts its steps.
    public private(set) var parameterChanges = 0
    private var bf16Stale = true

    /// Packs the bf16 copies from the fp32 weights when they are stale: at the first forward
    /// pass and at the first after `parametersChanged()`, so a step of many micro-batches packs
    /// once (packing `qwen05b`'s two copies takes about 0.4 s on 2 threads).
    func packBF16IfNeeded() {
        guard let bf16, bf16Stale || !bf16.packed else { return }
        timer.measure(.otherKernels) { bf16.pack(parameters.pointer, offsets: offsets) }
        bf16Stale = false
    }

    /// Bytes of activations and backward scratch (the LM head's logits chunks included).
    public var activationBytes: Int { activations.bytes + lossHead.bytes }

    /// The gradient of a weight at `offset`, or nil when the weights are frozen (LoRA).
    @inline(__always) func gw(_ offset: Int) -> UnsafeMutablePointer<Float>? { trainsBase ? g(offset) : nil }

    @inline(__always) func p(_ offset: Int) -> UnsafeMutablePointer<Float> { parameters.pointer + offset }
    @inline(__always) func g(_ offset: Int) -> UnsafeMutablePointer<Float> { gradients.pointer + offset }

    func layerOutput(_ l: Int) -> FloatBuffer {
        l + 1 < activations.layers.count ? activations.layers[l + 1].input : activations.output
    }

    /// Runs the decoder up to the final norm for the rows in use of `batch`.
    public func forward(_ batch: TokenBatch) {
        precondition(!matricesReleased, "the model's matrices were released after packing them for decoding")
        precondition(batch.rowLength == rowLength && batch.rows <= maxRows,
                     "batch \(batch.rows)x\(batch.rowLength) does not fit the model's \(maxRows)x\(rowLength)")
        let c = config, a = activations
        let n = batch.tokens, h = c.hiddenSize
        let eps = Float(c.rmsNormEps)
        packBF16IfNeeded()
        timer.measure(.adapters) { adapters?.packBF16() }
        batch.inputIds.withUnsafeBufferPointer { ids in
            for t in 0..<n {
                precondition(ids[t] >= 0 && Int(ids[t]) < c.vocabSize,
                             "token id \(ids[t]) outside the model's vocabulary (\(c.vocabSize))")
            }
            timer.measure(.otherKernels) {
                Embedding.forward(out: a.layers[0].input.pointer, ids: ids.baseAddress!,
                                  table: p(offsets.embedding), tokens: n, hidden: h)
            }
        }
        for l in a.layers.indices {
            layerForward(l, batch, throughGateUp: false)
        }
        timer.measure(.otherKernels) {
            RMSNorm.forward(out: a.finalNorm.pointer, rstd: a.finalRstd.pointer, input: a.output.pointer,
                            weight: p(offsets.finalNorm), tokens: n, hidden: h, eps: eps)
        }
    }

    /// Layer l's forward pass from its kept input; with `throughGateUp` it stops after the
    /// gate/up projection (what the backward pass needs when recomputing the layer).
    func layerForward(_ l: Int, _ batch: TokenBatch, throughGateUp: Bool) {
        let c = config, a = activations, layer = a.layers[l]
        let n = batch.tokens, h = c.hiddenSize, f = c.intermediateSize
        let eps = Float(c.rmsNormEps)
        let o = offsets.layers[l]
        let w = bf16?.layers[l]
        // Attention block.
        timer.measure(.otherKernels) {
            RMSNorm.forward(out: a.normed.pointer, rstd: layer.rstd1.pointer, input: layer.input.pointer,
                            weight: p(o.inputNorm), tokens: n, hidden: h, eps: eps)
        }
        timer.measure(.matmul) {
            projectForward(l, .qkv, out: layer.qkv.pointer, input: a.normed.pointer, tokens: n)
        }
        timer.measure(.otherKernels) {
            batch.positions.withUnsafeBufferPointer { pos in
                rope.forward(layer.qkv.pointer, rowStride: attention.qkvWidth,
                             heads: c.numAttentionHeads + c.numKeyValueHeads,
                             positions: pos.baseAddress!, tokens: n)
            }
        }
        timer.measure(.attention) {
            batch.segments.withUnsafeBufferPointer { seg in
                if let bf16Attention {
                    bf16Attention.forward(out: layer.attention.pointer, softmax: layer.softmax, qkv: layer.qkv.pointer,
                                          segments: seg.baseAddress!, rows: batch.rows, rowLength: rowLength)
                    return
                }
                attention.forward(out: layer.attention.pointer, softmax: layer.softmax,
                                  scratch: a.attentionScratch.pointer, scratchCount: a.attentionScratch.count,
                                  qkv: layer.qkv.pointer, segments: seg.baseAddress!,
                                  rows: batch.rows, rowLength: rowLength)
            }
        }
        timer.measure(.matmul) {
            layer.middle.pointer.update(from: layer.input.pointer, count: n * h)
            projectForward(l, .oProj, out: layer.middle.pointer, input: layer.attention.pointer, tokens: n, accumulate: true)
        }
        // MLP block.
        timer.measure(.otherKernels) {
            RMSNorm.forward(out: a.normed.pointer, rstd: layer.rstd2.pointer, input: layer.middle.pointer,
                            weight: p(o.postNorm), tokens: n, hidden: h, eps: eps)
        }
        timer.measure(.matmul) {
            projectForward(l, .gateUp, out: layer.gateUp.pointer, input: a.normed.pointer, tokens: n)
        }
        // The backward pass recomputes the SwiGLU output itself and needs nothing after it.
        if throughGateUp { return }
        let out = layerOutput(l)
        timer.measure(.otherKernels) {
            SwiGLU.forward(out: a.mlp.pointer, gateUp: layer.gateUp.pointer, tokens: n, ffn: f)
        }
        timer.measure(.matmul) {
            out.pointer.update(from: layer.middle.pointer, count: n * h)
            projectForward(l, .down, out: out.pointer, input: a.mlp.pointer, tokens: n, accumulate: true)
        }
    }

    /// The objective's sums over the batch's trained tokens, without gradients. Call after
    /// `forward`; for an objective that needs a reference model, after `reference.forward` on
    /// the same batch too.
    public func loss(_ batch: TokenBatch, objective: Objective,
                     logProbabilities: UnsafeMutablePointer<Float>? = nil, reference: Transformer? = nil) -> LossSums {
        runHead(batch, objective: objective, gradScale: 0, withGradients: false,
                logProbabilities: logProbabilities, reference: reference)
    }

    /// The objective's sums, and the gradients of `gradScale * sum of per-token losses` added
    /// into `gradients`. Call after `forward` (and `reference.forward`) on the same batch.
    /// gradScale is 1 / (trained tokens of the whole optimizer step), so that micro-batches and
    /// ranks simply add.
    public func lossAndBackward(_ batch: TokenBatch, objective: Objective, gradScale: Float,
                                reference: Transformer? = nil) -> LossSums {
        precondition(trainsBase || adapters != nil, "a frozen model has no gradients")
        let sums = runHead(batch, objective: objective, gradScale: gradScale, withGradients: true, reference: reference)
        backward(batch)
        return sums
    }

    private func runHead(_ batch: TokenBatch, objective: Objective, gradScale: Float, withGradients: Bool,
                         logProbabilities: UnsafeMutablePointer<Float>? = nil, reference: Transformer?) -> LossSums {
        let a = activations
        let headWeight = offsets.lmHead
        if let reference {
            precondition(reference.config.vocabSize == config.vocabSize && reference.config.hiddenSize == config.hiddenSize
                         && reference.rowLength == rowLength, "the reference model's shape differs from the trained model's")
        }
        let referenceHead = reference.map {
            LMHeadLoss.Reference(hidden: $0.activations.finalNorm.pointer, weight: $0.p($0.offsets.lmHead), bf16: $0.bf16?.head)
        }
        return timer.measure(.lmHeadAndLoss) { batch.targets.withUnsafeBufferPointer { targets in
            batch.lossMask.withUnsafeBufferPointer { mask in
                lossHead.run(hidden: a.finalNorm.pointer, weight: p(headWeight),
                             targets: targets.baseAddress!, lossMask: mask.baseAddress!,
                             tokens: batch.tokens, objective: objective, gradScale: gradScale,
                             dHidden: withGradients ? a.dNorm.pointer : nil,
                             dWeight: withGradients ? gw(headWeight) : nil, logProbabilities: logProbabilities,
                             reference: referenceHead, bf16: bf16?.head)
            }
        } }
    }

    /// Backward from d(final norm output), which `runHead` left in `dNorm`.
    private func backward(_ batch: TokenBatch) {
        let c = config, a = activations
        let n = batch.tokens, h = c.hiddenSize, f = c.intermediateSize
        let dRes = a.dResidual.pointer
        timer.measure(.otherKernels) {
            RMSNorm.backward(dInput: dRes, dWeight: gw(offsets.finalNorm), dOut: a.dNorm.pointer,
                             input: a.output.pointer, weight: p(offsets.finalNorm),
                             rstd: a.finalRstd.pointer, tokens: n, hidden: h, partials: a.normPartials.pointer)
        }
        // The final norm and an untied lm_head sit at the end of the layout: final now.
        gradientsReady?(offsets.finalNorm)
        for l in stride(from: a.layers.count - 1, through: 0, by: -1) {
            let layer = a.layers[l]
            let o = offsets.layers[l]
            let w = bf16?.layers[l]
            // Shared buffers still hold the last layer's forward state: recompute from the one
            // before it (nothing runs between `forward` and this backward pass but the head).
            let recomputing = l < a.layers.count - 1
            if recompute == .full && recomputing { layerForward(l, batch, throughGateUp: true) }
            // MLP block: dRes is d(layer output); afterwards it is d(middle). The SwiGLU output
            // and the norm output are recomputed here rather than kept for every layer.
            let eps = Float(c.rmsNormEps)
            timer.measure(.otherKernels) {
                SwiGLU.forward(out: a.mlp.pointer, gateUp: layer.gateUp.pointer, tokens: n, ffn: f)
                RMSNorm.forward(out: a.normed.pointer, rstd: layer.rstd2.pointer, input: layer.middle.pointer,
                                weight: p(o.postNorm), tokens: n, hidden: h, eps: eps)
            }
            timer.measure(.matmul) {
                projectBackward(l, .down, dInput: a.dMLP.pointer, dOut: dRes, input: a.mlp.pointer, tokens: n)
            }
            timer.measure(.otherKernels) {
                SwiGLU.backward(dGateUp: a.dGateUp.pointer, dOut: a.dMLP.pointer,
                                gateUp: layer.gateUp.pointer, tokens: n, ffn: f)
            }
            timer.measure(.matmul) {
                projectBackward(l, .gateUp, dInput: a.dNorm.pointer, dOut: a.dGateUp.pointer, input: a.normed.pointer, tokens: n)
            }
            timer.measure(.otherKernels) {
                RMSNorm.backward(dInput: dRes, dWeight: gw(o.postNorm), dOut: a.dNorm.pointer,
                                 input: layer.middle.pointer, weight: p(o.postNorm),
                                 rstd: layer.rstd2.pointer, tokens: n, hidden: h, accumulateInput: true,
                                 partials: a.normPartials.pointer)
            }
            // Attention block: dRes is d(middle); afterwards it is d(layer input).
            timer.measure(.matmul) {
                projectBackward(l, .oProj, dInput: a.dAttention.pointer, dOut: dRes, input: layer.attention.pointer, tokens: n)
            }
            timer.measure(.attention) {
                batch.segments.withUnsafeBufferPointer { seg in
                    if let bf16Attention {
                        bf16Attention.backward(dQKV: a.dQKV.pointer, dOut: a.dAttention.pointer, qkv: layer.qkv.pointer,
                                               softmax: layer.softmax, segments: seg.baseAddress!, rows: batch.rows,
                                               rowLength: rowLength)
                        return
                    }
                    attention.backward(dQKV: a.dQKV.pointer, scratch: a.attentionScratch.pointer,
                                       scratchCount: a.attentionScratch.count,
                                       dOut: a.dAttention.pointer, qkv: layer.qkv.pointer,
                                       softmax: layer.softmax, segments: seg.baseAddress!,
                                       rows: batch.rows, rowLength: rowLength)
                }
            }
            timer.measure(.otherKernels) {
                batch.positions.withUnsafeBufferPointer { pos in
                    rope.backward(a.dQKV.pointer, rowStride: attention.qkvWidth,
                                  heads: c.numAttentionHeads + c.numKeyValueHeads,
                                  positions: pos.baseAddress!, tokens: n)
                }
            }
            timer.measure(.otherKernels) {
                RMSNorm.forward(out: a.normed.pointer, rstd: layer.rstd1.pointer, input: layer.input.pointer,
                                weight: p(o.inputNorm), tokens: n, hidden: h, eps: eps)
            }
            // With frozen weights nothing below layer 0's q/k/v needs a gradient: no input
            // gradient there (its product, the norm's backward pass, the embedding's).
            let inputGradient = trainsBase || l > 0
            timer.measure(.matmul) {
                projectBackward(l, .qkv, dInput: inputGradient ? a.dNorm.pointer : nil, dOut: a.dQKV.pointer,
                                input: a.normed.pointer, tokens: n)
            }
            if inputGradient { timer.measure(.otherKernels) {
                RMSNorm.backward(dInput: dRes, dWeight: gw(o.inputNorm), dOut: a.dNorm.pointer,
                                 input: layer.input.pointer, weight: p(o.inputNorm),
                                 rstd: layer.rstd1.pointer, tokens: n, hidden: h, accumulateInput: true,
                                 partials: a.normPartials.pointer)
            } }
            gradientsReady?(o.inputNorm)  // the first tensor of layer l in the layout
        }
        if trainsBase { timer.measure(.otherKernels) {
            batch.inputIds.withUnsafeBufferPointer { ids in
                Embedding.backward(dTable: g(offsets.embedding), dOut: dRes, ids: ids.baseAddress!,
                                   tokens: n, hidden: h)
            }
        } }
        gradientsReady?(0)
    }
}

/// Offsets of the tensors each kernel call needs, looked up by name once.
/// Where each tensor a layer reads starts in the flat parameter buffer (the fused q/k/v and
/// gate/up operands by their first tensor). Also the decoder's map of the weights.
public struct ParameterOffsets: Sendable {
    public struct Layer: Sendable {
        public let inputNorm: Int
        public let qkvWeight: Int   // q_proj, k_proj, v_proj weights, adjacent
        public let qkvBias: Int?    // q_proj, k_proj, v_proj biases, adjacent (Qwen2)
        public let oProj: Int
        public let postNorm: Int
        public let gateUp: Int      // gate_proj then up_proj weights, adjacent
        public let down: Int
    }
    public let embedding: Int
    public let layers: [Layer]
    public let finalNorm: Int
    public let lmHead: Int          // the embedding when tie_word_embeddings

    init(layout: ParameterLayout, config: ModelConfig) {
        embedding = layout.offset("model.embed_tokens.weight")
        layers = (0..<config.numHiddenLayers).map { l in
            let p = "model.layers.\(l)."
            let q = layout.offset(p + "self_attn.q_proj.weight")
            let k = layout.offset(p + "self_attn.k_proj.weight")
            let v = layout.offset(p + "self_attn.v_proj.weight")
            let d = config.headDim, h = config.hiddenSize
            precondition(k == q + config.numAttentionHeads * d * h && v == k + config.numKeyValueHeads * d * h,
                         "q/k/v weights must be adjacent")
            let gate = layout.offset(p + "mlp.gate_proj.weight")
            precondition(layout.offset(p + "mlp.up_proj.weight") == gate + config.intermediateSize * h,
                         "gate/up weights must be adjacent")
            precondition(layout.offset(p + "input_layernorm.weight") < q, "input_layernorm must open its layer")
            return Layer(inputNorm: layout.offset(p + "input_layernorm.weight"), qkvWeight: q,
                         qkvBias: config.attentionBias ? layout.offset(p + "self_attn.q_proj.bias") : nil,
                         oProj: layout.offset(p + "self_attn.o_proj.weight"),
                         postNorm: layout.offset(p + "post_attention_layernorm.weight"),
                         gateUp: gate, down: layout.offset(p + "mlp.down_proj.weight"))
        }
        finalNorm = layout.offset("model.norm.weight")
        lmHead = config.tieWordEmbeddings ? embedding : layout.offset("lm_head.weight")
    }
}
