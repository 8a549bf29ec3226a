import DFTCore
import DFTModel

/// How a `Decoder` multiplies by its weights.
public enum DecodeWeights: Sendable, CustomStringConvertible {
    /// OpenBLAS on the model's own buffer, rearranged in place (`DecodeLayout`): no second copy.
    case panels
    /// oneDNN on copies packed from the model's weights each time `withTransposedWeights`
    /// opens (`PackedDecodeWeights`): fp32, bf16 (half the bytes a step reads) or the bf16
    /// reference of the tests. For a model that goes on training (an accuracy evaluation).
    case packed(PackedMatrix.Kind)
    /// Copies packed once, shared by every decoder of a job, of a model whose fp32 matrices are
    /// gone (`PackedDecodeWeights.loadDecodeOnly`): what `generate`, `eval` and `bench --decode`
    /// use in bf16.
    case prepacked(PackedDecodeWeights)

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
        case .packed(let kind): return Self.describe(kind)
        case .prepacked(let weights): return Self.describe(weights.kind) + ", fp32 matrices released"
        }
    }

    /// What the products multiply in (panels: fp32).
    public var kind: PackedMatrix.Kind {
        switch self {
        case .panels: return .fp32
        case .packed(let kind): return kind
        case .prepacked(let weights): return weights.kind
        }
    }

    /// The model's fp32 matrices are gone (`prepacked`).
    public var releasesModelMatrices: Bool {
        if case .prepacked = self { return true }
        return false
    }

    private static func describe(_ kind: PackedMatrix.Kind) -> String {
        switch kind {
        case .fp32: return "fp32 (oneDNN \(OneDNN.isa), packed weights)"
        case .bf16: return "bf16 (oneDNN \(OneDNN.isa), packed weights)"
        case .bf16Reference: return "bf16 reference (sgemm on rounded operands)"
        }
    }
}

/// A decoder's weights packed by oneDNN: each projection (q/k/v together, o_proj, gate/up
/// together, down_proj) and the LM head as a `PackedMatrix`, in Hugging Face's [out, in]
/// layout read straight from the model's buffer.
///
/// Two lives: beside a model that goes on training, `withPacked` packs them from the model's
/// current weights at the outermost call (a training run's accuracy evaluation decodes the
/// weights of that step), and the model itself is never rearranged. For a job that only
/// decodes, `loadDecodeOnly` packs each matrix as the loader writes it and gives its fp32
/// pages back, so the weights are held once, in bf16: about half the memory of fp32 weights,
/// at the peak too. Such copies are packed for good and shared by every decoder of the job
/// (`eval`'s files).
public final class PackedDecodeWeights: @unchecked Sendable {
    public let model: Transformer
    public let kind: PackedMatrix.Kind
    let layers: [Projections<PackedMatrix>]
    let head: PackedMatrix
    /// A decode-only model's embedding table in bf16 ([vocab, hidden] bits; its fp32 pages
    /// released), for the lookup; nil: the lookup reads the model's fp32 table.
    private(set) var embeddingTable: FloatBuffer?
    var embeddingBF16: UnsafePointer<UInt16>? {
        embeddingTable.map { UnsafePointer(UnsafeMutableRawPointer($0.pointer).assumingMemoryBound(to: UInt16.self)) }
    }
    /// Packed for good from a model whose matrices were then released: never packed again.
    public private(set) var releasedModelMatrices = false
    private(set) var depth = 0
    var isActive: Bool { depth > 0 || releasedModelMatrices }

    public init(model: Transformer, kind: PackedMatrix.Kind) {
        let c = model.config
        let base = model.parameters.pointer
        func matrix(_ offset: Int, rows: Int, columns: Int) -> PackedMatrix {
            // Packed when `withPacked` opens (or as `loadDecodeOnly` loads), not now.
            PackedMatrix(weight: base + offset, outFeatures: rows, inFeatures: columns, kind: kind, pack: false)
        }
        self.model = model
        self.kind = kind
        layers = model.parameterOffsets.layers.map { o in
            Projections { p in matrix(o.offset(p), rows: p.shape(c).outFeatures, columns: p.shape(c).inFeatures) }
        }
        head = matrix(model.parameterOffsets.lmHead, rows: c.vocabSize, columns: c.hiddenSize)
    }

    var matrices: [PackedMatrix] { layers.flatMap(\.all) + [head] }

    /// Bytes of the packed copies (and of the bf16 embedding table).
    public var bytes: Int { matrices.reduce(embeddingTable?.bytes ?? 0) { $0 + $1.bytes } }

    /// Each matrix with the element range of the model's buffer it is packed from.
    private var sources: [(matrix: PackedMatrix, range: Range<Int>)] {
        let offsets = model.parameterOffsets
        var list: [(PackedMatrix, Range<Int>)] = []
        for (layer, o) in zip(layers, offsets.layers) {
            for p in Projection.allCases {
                let m = layer[p]
                list.append((m, o.offset(p)..<o.offset(p) + m.outFeatures * m.inFeatures))
            }
        }
        list.append((head, offsets.lmHead..<offsets.lmHead + head.outFeatures * head.inFeatures))
        return list
    }

    /// Runs `body` with the copies packed from the model's weights as they are now (or as they
    /// were loaded, for copies packed for good).
    func withPacked<T>(_ body: () throws -> T) rethrows -> T {
        if depth == 0 && !releasedModelMatrices {
            let base = model.parameters.pointer
            for (matrix, range) in sources { matrix.pack(from: base + range.lowerBound) }
        }
        depth += 1
        defer { depth -= 1 }
        return try body()
    }

    /// Loads `source` into a new forward-only model and packs its matrices in `kind` as the
    /// loader finishes each (q/k/v and gate/up are one matrix each: packed when their last
    /// tensor is in), releasing each matrix's fp32 pages once packed. In bf16 the embedding
    /// table is kept in bf16 too (as a bf16 checkpoint holds it; a tied head's matrix is packed
    /// from it first) and its fp32 pages released, so the model's buffer holds real values
    /// only for the norms and biases, and is marked so that nothing but these copies reads it
    /// (`Transformer.matricesReleased`). Resident at the peak: the bf16 copies, the norms and
    /// biases, and one matrix in fp32 (a model's file pages are dropped as they are read).
    public static func loadDecodeOnly(source: any ModelSource, kind: PackedMatrix.Kind) throws -> PackedDecodeWeights {
        let model = try Transformer(config: try source.config(), maxRows: 1, rowLength: 1, trainable: false)
        let weights = PackedDecodeWeights(model: model, kind: kind)
        let c = model.config, embedding = model.parameterOffsets.embedding
        let sources = weights.sources
        // Elements of each matrix not yet written, and which matrix each layout entry is in.
        var missing = sources.map(\.range.count)
        var matrixOf: [Int: Int] = [:]  // entry offset -> index in sources
        for entry in model.layout.entries {
            if let i = sources.firstIndex(where: { $0.range.contains(entry.offset) }) { matrixOf[entry.offset] = i }
        }
        let base = model.parameters.pointer
        let tableCount = c.vocabSize * c.hiddenSize
        let table = kind == .fp32 ? nil : FloatBuffer(count: (tableCount + 1) / 2)  // [vocab, hidden] bf16
        weights.embeddingTable = table
        try source.loadParameters(into: model.parameters, layout: model.layout) { entry in
            if let i = matrixOf[entry.offset] {  // a tied head's matrix is the embedding table
                missing[i] -= entry.count
                if missing[i] == 0 {
                    let (matrix, range) = sources[i]
                    matrix.pack(from: base + range.lowerBound)
                    if range.lowerBound != embedding { model.releaseMatrix(range) }
                }
            }
            if entry.offset == embedding, let bits = weights.embeddingBF16 {
                BFloat16.convert(base + embedding, to: UnsafeMutablePointer(mutating: bits), count: tableCount)
                model.releaseMatrix(embedding..<embedding + tableCount)
            }
        }
        precondition(missing.allSatisfy { $0 == 0 }, "the loader left a matrix unwritten")
        weights.releasedModelMatrices = true
        return weights
    }
}
