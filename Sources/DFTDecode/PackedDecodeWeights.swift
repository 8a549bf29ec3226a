import DFTCore
import DFTModel

/// How a `Decoder` multiplies by its weights.
public enum DecodeWeights: Sendable, Equatable, CustomStringConvertible {
    /// OpenBLAS on the model's own buffer, rearranged in place (`DecodeLayout`): no second copy.
    case panels
    /// oneDNN on copies packed once per job (`PackedDecodeWeights`): fp32, bf16 (half the
    /// bytes a step reads) or the bf16 reference of the tests.
    case packed(PackedMatrix.Kind)

    /// What a job decoding in `precision` (resolved: fp32 or bf16) uses: bf16 packed by oneDNN;
    /// fp32 on OpenBLAS's panels. Chosen by measurement (docs/PERFORMANCE.md, Zen 4, 2 threads,
    /// `small`): oneDNN's packed fp32 decodes batch 1 at 0.75x the panels' tokens/s (its kernel
    /// for one row reads about 16 GB/s a core against sgemv's 23) and batches of 16 and 32 at
    /// 1.02-1.07x, while holding a second fp32 copy of the weights.
    public static func `for`(_ precision: Precision) -> DecodeWeights {
        precision == .bf16 ? .packed(Precision.bf16Kind) : .panels
    }

    public var description: String {
        switch self {
        case .panels: return "fp32 (OpenBLAS \(BLAS.coreName), weights in panels)"
        case .packed(.fp32): return "fp32 (oneDNN \(OneDNN.isa), packed weights)"
        case .packed(.bf16): return "bf16 (oneDNN \(OneDNN.isa), packed weights)"
        case .packed(.bf16Reference): return "bf16 reference (sgemm on rounded operands)"
        }
    }
}

/// A decoder's weights packed by oneDNN: each projection (q/k/v together, o_proj, gate/up
/// together, down_proj) and the LM head as a `PackedMatrix`, in Hugging Face's [out, in]
/// layout read straight from the model's buffer. `withPacked` packs them from the model's
/// current weights at the outermost call (a training run's accuracy evaluation decodes the
/// weights of that step), so the model itself is never rearranged.
final class PackedDecodeWeights {
    let model: Transformer
    let layers: [Projections<PackedMatrix>]
    let head: PackedMatrix
    let workspace: MatmulWorkspace
    private(set) var depth = 0
    var isActive: Bool { depth > 0 }

    /// maxTokens: the most rows a product has (the decoder's tokens per step).
    init(model: Transformer, maxTokens: Int, kind: PackedMatrix.Kind) {
        let c = model.config
        let base = model.parameters.pointer
        func matrix(_ offset: Int, rows: Int, columns: Int) -> PackedMatrix {
            // Packed when `withPacked` opens, from the weights of that moment.
            PackedMatrix(weight: base + offset, outFeatures: rows, inFeatures: columns, kind: kind, pack: false)
        }
        self.model = model
        layers = model.parameterOffsets.layers.map { o in
            Projections { p in matrix(o.offset(p), rows: p.shape(c).outFeatures, columns: p.shape(c).inFeatures) }
        }
        head = matrix(model.parameterOffsets.lmHead, rows: c.vocabSize, columns: c.hiddenSize)
        let widestInput = Projection.allCases.map { $0.shape(c).inFeatures }.max()!
        workspace = MatmulWorkspace(capacity: maxTokens * widestInput)
    }

    var matrices: [PackedMatrix] { layers.flatMap(\.all) + [head] }

    /// Bytes of the packed copies and the workspace.
    var bytes: Int { matrices.reduce(workspace.capacity * 4) { $0 + $1.bytes } }

    /// Runs `body` with the copies packed from the model's weights as they are now.
    func withPacked<T>(_ body: () throws -> T) rethrows -> T {
        if depth == 0 {
            let base = model.parameters.pointer, offsets = model.parameterOffsets
            for (layer, o) in zip(layers, offsets.layers) {
                for p in Projection.allCases { layer[p].pack(from: base + o.offset(p)) }
            }
            head.pack(from: base + offsets.lmHead)
        }
        depth += 1
        defer { depth -= 1 }
        return try body()
    }
}
