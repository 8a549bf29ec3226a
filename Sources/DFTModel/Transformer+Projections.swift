import DFTCore

extension LoRALayout.Product {
    /// The adapters' product beside a projection (the same four fused products).
    init(_ projection: Projection) {
        switch projection {
        case .qkv: self = .qkv
        case .oProj: self = .oProj
        case .gateUp: self = .gateUp
        case .down: self = .down
        }
    }
}

/// One projection of a layer, forward and backward, with the LoRA adapters beside it. In fp32
/// the adapters run after the frozen product, in passes of their own (`LoRAAdapters.forward`,
/// `backward`). In bf16 the operand (x, dY) is converted once for both products, and the
/// adapters' term over the whole output is added to the frozen product's tiles
/// (`LoRAAdapters+Tiles`): timed as matmuls; the adapters' own products as adapters.
extension Transformer {
    /// out (+)= input W^T (+ q/k/v's bias) + the adapters' term. input: [tokens, in];
    /// out: [tokens, out] (`accumulate`: added to, a residual).
    func projectForward(_ l: Int, _ projection: Projection, out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                        tokens n: Int, accumulate: Bool = false) {
        let o = offsets.layers[l], w = bf16?.layers[l][projection], (outFeatures, inFeatures) = projection.shape(config)
        let weight = p(o.offset(projection)), bias = projection == .qkv ? o.qkvBias.map { p($0) } : nil
        let product = LoRALayout.Product(projection)
        let adapters = adapters.flatMap { $0.adapts(layer: l, product) ? $0 : nil }
        guard let adapters, let w else {
            Linear.forward(out: out, input: input, weight: weight, bias: bias, tokens: n, inFeatures: inFeatures,
                           outFeatures: outFeatures, accumulate: accumulate, bf16: w)
            if let adapters { timer.measure(.adapters) { adapters.forward(layer: l, product, input: input, out: out, tokens: n) } }
            return
        }
        let converted = w.convert(input, tokens: n, columns: inFeatures)
        timer.measure(.adapters) { adapters.lowRank(layer: l, product, input: input, convertedInput: converted, tokens: n) }
        Linear.forward(out: out, input: input, weight: weight, bias: bias, tokens: n, inFeatures: inFeatures,
                       outFeatures: outFeatures, accumulate: accumulate, bf16: w, convertedInput: converted) { tile, ld, rows, columns in
            adapters.addExpansion(layer: l, product, tile: tile, ld: ld, rows: rows, columns: columns)
        }
    }

    /// dInput = dOut W (nil: not wanted) plus the adapters' share, and the gradients of the
    /// weight and bias (full fine-tuning) or of the adapters (LoRA). dOut: [tokens, out];
    /// input: the forward product's, [tokens, in].
    func projectBackward(_ l: Int, _ projection: Projection, dInput: UnsafeMutablePointer<Float>?,
                         dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, tokens n: Int) {
        let o = offsets.layers[l], w = bf16?.layers[l][projection], (outFeatures, inFeatures) = projection.shape(config)
        let offset = o.offset(projection), dBias = projection == .qkv ? o.qkvBias.flatMap { gw($0) } : nil
        let product = LoRALayout.Product(projection)
        let adapters = adapters.flatMap { $0.adapts(layer: l, product) ? $0 : nil }
        // With adapters the weights are frozen: gw gives nil, and the product is dX alone.
        guard let adapters, let w else {
            Linear.backward(dInput: dInput, dWeight: gw(offset), dBias: dBias, dOut: dOut, input: input, weight: p(offset),
                            tokens: n, inFeatures: inFeatures, outFeatures: outFeatures, bf16: w)
            if let adapters {
                timer.measure(.adapters) { adapters.backward(layer: l, product, input: input, dOut: dOut, dInput: dInput, tokens: n) }
            }
            return
        }
        let converted = w.convert(dOut, tokens: n, columns: outFeatures)
        timer.measure(.adapters) {
            adapters.lowRankGradient(layer: l, product, dOut: dOut, convertedGradient: converted, tokens: n)
        }
        let fused = adapters.fusesInputGradient && dInput != nil
        Linear.backward(dInput: dInput, dWeight: nil, dBias: nil, dOut: dOut, input: input, weight: p(offset),
                        tokens: n, inFeatures: inFeatures, outFeatures: outFeatures, bf16: w,
                        convertedGradient: converted) { tile, ld, rows, columns in
            if fused { adapters.addInputGradient(layer: l, product, tile: tile, ld: ld, rows: rows, columns: columns) }
        }
        timer.measure(.adapters) {
            adapters.factorGradients(layer: l, product, input: input, dInput: dInput, inputGradientAdded: fused, tokens: n)
        }
    }
}
