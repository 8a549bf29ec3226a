import DFTCore

/// The adapters' two products over a whole activation in bf16, as PyTorch's CPU autocast runs
/// lora_A and lora_B: low = x' A^T in the forward pass and dLow = s dY B in the backward pass.
/// Each reads the bf16 copy of its large operand (x, dY) that the model converts once for it and
/// the frozen projection beside it (`Transformer+Projections`), so the operand is neither
/// converted twice nor, as OpenBLAS does with an fp32 operand of a skinny product, copied into
/// a packed buffer on every call: oneDNN reads it in place, and half the bytes of fp32. The factors are packed again at every forward pass (they
/// change at every optimizer step, and are small: 1.5% of `small`'s weights at r = 8).
///
/// The products over the rank stay fp32 sgemm: dB and dA read their large operand transposed;
/// out += s low B^T and dx += dLow A run on the frozen product's tiles (`LoRAAdapters+Tiles`).
/// With dropout, each factor's input is its own: x' A^T runs per factor in fp32
/// (`LoRAAdapters.lowRank`), and dx per factor under its mask.
final class LoRABF16Factors {
    struct Product {
        /// The product's A factors, [count * r, in] (adjacent in the buffer): low = x A^T.
        let down: PackedMatrix
        /// s B_f^T of every factor f in its rows f * r ..< (f + 1) * r and the columns of its
        /// output block, zero elsewhere: [count * r, outputWidth]. dLow = dY (this)^T gives
        /// every factor's s dY_f B_f in one product over the fused product's whole dY.
        let up: PackedMatrix
    }

    let kind: PackedMatrix.Kind
    private let products: [[Product?]]  // [layer][LoRALayout.Product], nil: no factor there
    private let upScratch: FloatBuffer  // [count * r, outputWidth] of the largest product, before packing
    /// The reference path's rounded copy of x or dY (`.bf16` reads the model's conversion: none).
    private let workspace: MatmulWorkspace

    init(layout: LoRALayout, parameters: UnsafePointer<Float>, kind: PackedMatrix.Kind, maxTokens: Int) {
        self.kind = kind
        let r = layout.rank
        let fused = layout.layers.joined().compactMap { factors in factors.first.map { (factors.count * r, $0) } }
        let upScratch = FloatBuffer(count: fused.map { $0.0 * $0.1.outputWidth }.max() ?? 0)
        self.upScratch = upScratch
        let largestInner = fused.map { max($0.1.inFeatures, $0.1.outputWidth) }.max() ?? 0
        products = layout.layers.map { layer in
            layer.map { factors -> Product? in
                guard let first = factors.first else { return nil }
                let width = factors.count * r
                return Product(down: PackedMatrix(weight: parameters + first.a, outFeatures: width,
                                                  inFeatures: first.inFeatures, kind: kind, pack: false),
                               up: PackedMatrix(weight: upScratch.pointer, outFeatures: width,
                                                inFeatures: first.outputWidth, kind: kind, pack: false))
            }
        }
        workspace = MatmulWorkspace(capacity: kind == .bf16Reference ? max(1, maxTokens * largestInner) : 1)
    }

    var bytes: Int {
        products.joined().compactMap { $0 }.reduce(upScratch.bytes + workspace.capacity * 4) {
            $0 + $1.down.bytes + $1.up.bytes
        }
    }

    /// Packs every product's factors from `parameters` (the adapters' fp32 values).
    func pack(_ parameters: UnsafePointer<Float>, layout: LoRALayout, scaling: Float) {
        let r = layout.rank
        for (l, layer) in layout.layers.enumerated() {
            for (p, factors) in layer.enumerated() {
                guard let product = products[l][p], let first = factors.first else { continue }
                product.down.pack(from: parameters + first.a)
                let outputWidth = first.outputWidth
                let up = upScratch.pointer  // [count * r, outputWidth]
                up.update(repeating: 0, count: factors.count * r * outputWidth)
                for (f, factor) in factors.enumerated() {
                    let b = parameters + factor.b  // [outFeatures, r]
                    for i in 0..<factor.outFeatures {
                        for j in 0..<r { up[(f * r + j) * outputWidth + factor.column + i] = scaling * b[i * r + j] }
                    }
                }
                product.up.pack(from: up)
            }
        }
    }

    /// low [tokens, count * r] = x A^T. x: [tokens, in] in fp32 (`input`), and in bf16
    /// (`converted`, `BF16Linear.convert`; nil on the reference path).
    func down(layer: Int, _ product: LoRALayout.Product, input: UnsafePointer<Float>, converted: UnsafePointer<UInt16>?,
              low: UnsafeMutablePointer<Float>, tokens: Int) {
        multiply(products[layer][product.rawValue]!.down, input, converted, low, tokens)
    }

    /// dLow [tokens, count * r] = s dY B of every factor. dY: [tokens, outputWidth] in fp32
    /// (`dOut`), and in bf16 (`converted`, as for `down`).
    func up(layer: Int, _ product: LoRALayout.Product, dOut: UnsafePointer<Float>, converted: UnsafePointer<UInt16>?,
            dLow: UnsafeMutablePointer<Float>, tokens: Int) {
        multiply(products[layer][product.rawValue]!.up, dOut, converted, dLow, tokens)
    }

    private func multiply(_ matrix: PackedMatrix, _ input: UnsafePointer<Float>, _ converted: UnsafePointer<UInt16>?,
                          _ output: UnsafeMutablePointer<Float>, _ tokens: Int) {
        if kind == .bf16 {
            precondition(converted != nil, "a bf16 adapter product without the model's bf16 copy of its operand")
            matrix.multiply(rows: tokens, bf16Input: converted!, output: output, workspace: workspace)
        } else {
            matrix.multiply(rows: tokens, input: input, output: output, workspace: workspace)
        }
    }
}
