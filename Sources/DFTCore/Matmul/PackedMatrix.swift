import COneDNN

/// A weight matrix W [outFeatures, inFeatures] (Hugging Face's `nn.Linear` layout) packed once
/// by oneDNN for products y[rows, out] = x[rows, in] W^T, in fp32 or bf16; the fp32 input is
/// given as it is and the output is fp32 (bf16 products are accumulated in fp32).
///
/// The matrix is cut into blocks of `blockWidth` outputs, each packed on its own in the layout
/// oneDNN picks for it (`MatmulPrimitive.weightsDesc`), and a product into blocks of at most
/// `rowBlock` rows: the pool's workers share the (row block, column block) units and run
/// single-threaded oneDNN calls on them, as `BLAS.gemm` does with sgemm; each unit's output
/// tile is written dense to the worker's scratch and copied into place. The cut depends on the
/// shape alone, so every output element comes from the same call whatever the thread count:
/// results do not depend on it.
///
/// `bf16Reference` is for tests on hosts without bf16 instructions: it rounds both operands to
/// bf16 and multiplies them with sgemm in fp32. The products are the same exactly (a product of
/// two bf16 values is exact in fp32); only the order of the fp32 sums differs.
/// An addition to one tile of a product's output while the tile is in cache, before it is
/// written to (or added into) the output: tile [rows.count, columns.count], leading dimension
/// `ld`, holding output rows `rows` and columns `columns`. Called on the pool's workers, each
/// tile once; it writes its tile only. A LoRA adapter adds its low-rank term so, rather than in
/// a pass of its own over the whole output.
public typealias TileEpilogue = (_ tile: UnsafeMutablePointer<Float>, _ ld: Int, _ rows: Range<Int>,
                                 _ columns: Range<Int>) -> Void

/// The epilogue that adds nothing.
public func noEpilogue(_ tile: UnsafeMutablePointer<Float>, _ ld: Int, _ rows: Range<Int>, _ columns: Range<Int>) {}

public final class PackedMatrix: @unchecked Sendable {
    public enum Kind: String, Sendable {
        case fp32, bf16, bf16Reference
    }

    /// How the fp32 source is stored: [out, in] (`nn.Linear`'s weight, for y = x W^T) or
    /// [in, out] (the same weight read for the backward product dX = dY W).
    public enum Source: Sendable {
        case outIn, inOut
    }

    public let kind: Kind
    public let source: Source
    public let outFeatures: Int
    public let inFeatures: Int
    public let blockWidth: Int
    /// Rows per oneDNN call: a prefill's or a training micro-batch's tokens are cut into blocks
    /// of this many, which keeps the cached primitives to row counts of at most this.
    public static let rowBlock = 256
    /// Bytes of the packed copy.
    public let bytes: Int

    private var blocks: [dnnl_memory_t] = []       // packed weights of columns j * blockWidth ..< ...
    private var reorders: [dnnl_primitive_t] = []  // fp32 [out, in] rows of a block -> its packing
    private var reorderSources: [dnnl_memory_t] = []
    // The same from a bf16 copy of the weight stored alike (made by the first `pack(fromBF16:)`):
    // oneDNN's reorder from bf16 runs two to four times faster than from fp32.
    private var halfReorders: [dnnl_primitive_t] = []
    private var halfReorderSources: [dnnl_memory_t] = []
    private let rounded: FloatBuffer?              // bf16Reference: W rounded to bf16, stored as the source

    /// Packs `weight` ([outFeatures, inFeatures], or [inFeatures, outFeatures] for `.inOut`);
    /// with `pack` false only allocates, for an owner that packs before every use (a model's
    /// copies, packed at its first forward pass). `.bf16` needs `OneDNN.nativeBF16`.
    public init(weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int, kind: Kind, source: Source = .outIn,
                pack: Bool = true) {
        precondition(kind != .bf16 || OneDNN.nativeBF16, "bf16 products on a CPU without native bf16 (\(OneDNN.isa))")
        self.kind = kind
        self.source = source
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        blockWidth = Self.blockWidth(outFeatures: outFeatures)
        if kind == .bf16Reference {
            rounded = FloatBuffer(count: outFeatures * inFeatures)
            bytes = outFeatures * inFeatures * 2  // what the bf16 copy it stands for holds
        } else {
            rounded = nil
            var total = 0
            for j0 in stride(from: 0, to: outFeatures, by: blockWidth) {
                let width = min(blockWidth, outFeatures - j0)
                var packed = MatmulPrimitive.weightsDescLocked(width: width, inner: inFeatures, bf16: kind == .bf16)
                var block: dnnl_memory_t?
                OneDNN.check(dnnl_memory_create(&block, &packed, OneDNN.engine, UnsafeMutableRawPointer(bitPattern: -1)),
                             "packed weights")
                let (memory, reorder) = Self.reorder(source, outFeatures: outFeatures, inFeatures: inFeatures, width: width,
                                                     type: dnnl_f32, to: &packed)
                blocks.append(block!)
                reorderSources.append(memory)
                reorders.append(reorder)
                total += dnnl_memory_desc_get_size(&packed)
            }
            bytes = total
        }
        if pack { self.pack(from: weight) }
    }

    /// A reorder from `width` outputs of the weight, stored as `source` says in `type`, to the
    /// layout `packed`, and the memory object whose pointer each packing sets to the block's first
    /// element. The outputs as an [in, width] matrix: from [out, in], element (i, j) at j * in + i;
    /// from [in, out], at i * out + j.
    private static func reorder(_ source: Source, outFeatures: Int, inFeatures: Int, width: Int, type: dnnl_data_type_t,
                                to packed: inout dnnl_memory_desc_t) -> (dnnl_memory_t, dnnl_primitive_t) {
        var user = source == .outIn ? matrixDesc(inFeatures, width, type, rowStride: 1, columnStride: inFeatures)
                                    : matrixDesc(inFeatures, width, type, rowStride: outFeatures, columnStride: 1)
        var memory: dnnl_memory_t?, descriptor: dnnl_primitive_desc_t?, reorder: dnnl_primitive_t?
        OneDNN.check(dnnl_memory_create(&memory, &user, OneDNN.engine, nil), "a weights memory")
        OneDNN.check(dnnl_reorder_primitive_desc_create(&descriptor, &user, OneDNN.engine, &packed, OneDNN.engine, nil),
                     "a reorder to the packed layout")
        defer { dnnl_primitive_desc_destroy(descriptor) }
        OneDNN.check(dnnl_primitive_create(&reorder, descriptor), "a reorder primitive")
        return (memory!, reorder!)
    }
    deinit {
        for block in blocks { dnnl_memory_destroy(block) }
        for source in reorderSources { dnnl_memory_destroy(source) }
        for reorder in reorders { dnnl_primitive_destroy(reorder) }
        for source in halfReorderSources { dnnl_memory_destroy(source) }
        for reorder in halfReorders { dnnl_primitive_destroy(reorder) }
    }

    /// Outputs per block: at most 16 blocks, each a multiple of 64 outputs (oneDNN's bf16
    /// packing is 64 columns wide) and at least 128. A decode step of one sequence is bound
    /// by memory and a call costs a few microseconds: blocks this small keep two or four
    /// workers evenly loaded (`small`'s q/k/v, 768 outputs, in 6 blocks rather than 3).
    /// A matrix of at most 128 outputs is one block.
    public static func blockWidth(outFeatures: Int) -> Int {
        min(outFeatures, max(128, (outFeatures + 16 * 64 - 1) / (16 * 64) * 64))
    }

    /// Packs `weight` (stored as at `init`) again into the same memory (after an optimizer
    /// step): no allocation. The blocks are shared out over the pool.
    public func pack(from weight: UnsafePointer<Float>) {
        if let rounded {
            let count = outFeatures * inFeatures
            BFloat16.roundInParallel(weight, to: rounded.pointer, count: count, minimum: 1 << 16)
            return
        }
        runReorders(reorders, reorderSources, from: UnsafeRawPointer(weight), elementBytes: 4)
    }

    /// Packs again from a bf16 copy of the weight (`BFloat16.convert` of it, stored as at
    /// `init`): the same packed bits as `pack(from:)` (both round to nearest even), in less
    /// time, and one conversion serves both of a weight's copies (`BF16Linear.pack`).
    public func pack(fromBF16 weight: UnsafePointer<UInt16>) {
        precondition(kind == .bf16, "a bf16 source for a \(kind) matrix")
        if halfReorders.isEmpty {
            for j in blocks.indices {
                var packed = MatmulPrimitive.weightsDescLocked(width: min(blockWidth, outFeatures - j * blockWidth),
                                                               inner: inFeatures, bf16: true)
                let (memory, reorder) = Self.reorder(source, outFeatures: outFeatures, inFeatures: inFeatures,
                                                     width: min(blockWidth, outFeatures - j * blockWidth), type: dnnl_bf16,
                                                     to: &packed)
                halfReorderSources.append(memory)
                halfReorders.append(reorder)
            }
        }
        runReorders(halfReorders, halfReorderSources, from: UnsafeRawPointer(weight), elementBytes: 2)
    }

    /// Runs each block's reorder from `weight` (its type's `elementBytes`), the blocks shared
    /// out over the pool.
    private func runReorders(_ reorders: [dnnl_primitive_t], _ sources: [dnnl_memory_t], from weight: UnsafeRawPointer,
                             elementBytes: Int) {
        let workers = min(Parallel.threads, blocks.count)
        OneDNN.prepareWorkers(workers)
        let firstElement = source == .outIn ? blockWidth * inFeatures : blockWidth  // of block 1
        Parallel.forEach(workers) { w in
            for j in (blocks.count * w / workers)..<(blocks.count * (w + 1) / workers) {
                dnnl_memory_set_data_handle(sources[j], UnsafeMutableRawPointer(mutating: weight + j * firstElement * elementBytes))
                OneDNN.withWorker(w) { stream in
                    withUnsafeTemporaryAllocation(of: dnnl_exec_arg_t.self, capacity: 2) { args in
                        args[0] = dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: sources[j])
                        args[1] = dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: blocks[j])
                        OneDNN.check(dnnl_primitive_execute(reorders[j], stream, 2, args.baseAddress), "packing weights")
                    }
                }
            }
        }
    }

    /// output[rows, outFeatures] = input[rows, inFeatures] W^T, or += with `accumulate`.
    /// `workspace` holds the bf16 copy of the input (at least rows * inFeatures elements).
    /// `epilogue` adds to each tile of the product before it reaches the output.
    public func multiply(rows: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                         accumulate: Bool = false, workspace: MatmulWorkspace, epilogue: TileEpilogue = noEpilogue) {
        if rows == 0 { return }
        let n = outFeatures, k = inFeatures
        precondition(rows * k <= workspace.capacity, "a product of \(rows) x \(k) inputs in a workspace of \(workspace.capacity)")
        let source: UnsafeRawPointer
        switch kind {
        case .bf16Reference:
            let copy = workspace.floats
            BFloat16.roundInParallel(input, to: copy, count: rows * k)
            BLAS.gemm(transB: self.source == .outIn, m: rows, n: n, k: k, a: copy, b: rounded!.pointer, beta: accumulate ? 1 : 0,
                      c: output)
            epilogue(output, n, 0..<rows, 0..<n)
            return
        case .bf16:
            let copy = workspace.halves
            BFloat16.convertInParallel(input, to: copy, count: rows * k)
            source = UnsafeRawPointer(copy)
        case .fp32:
            source = UnsafeRawPointer(input)
        }
        run(rows: rows, source: source, output: output, accumulate: accumulate, workspace: workspace, epilogue: epilogue)
    }

    /// output[rows, outFeatures] (+)= input W^T with the input already in bf16 (a `.bf16`
    /// matrix): a caller that feeds the same operand to two products converts it once.
    public func multiply(rows: Int, bf16Input input: UnsafePointer<UInt16>, output: UnsafeMutablePointer<Float>,
                         accumulate: Bool = false, workspace: MatmulWorkspace, epilogue: TileEpilogue = noEpilogue) {
        precondition(kind == .bf16, "a bf16 input to a \(kind) matrix")
        if rows == 0 { return }
        run(rows: rows, source: UnsafeRawPointer(input), output: output, accumulate: accumulate, workspace: workspace,
            epilogue: epilogue)
    }

    /// The product on `source` ([rows, inFeatures] in the matrix's type).
    private func run(rows: Int, source: UnsafeRawPointer, output: UnsafeMutablePointer<Float>, accumulate: Bool,
                     workspace: MatmulWorkspace, epilogue: TileEpilogue) {
        let n = outFeatures, k = inFeatures
        let elementBytes = kind == .bf16 ? 2 : 4
        let rowBlock = Self.rowBlock, blockWidth = blockWidth
        let rowBlocks = (rows + rowBlock - 1) / rowBlock, columnBlocks = blocks.count
        let units = rowBlocks * columnBlocks
        let workers = min(Parallel.threads, units)
        let fullRows = min(rows, rowBlock), lastRows = rows - (rowBlocks - 1) * rowBlock
        let lastWidth = n - (columnBlocks - 1) * blockWidth
        // One block of columns: oneDNN writes (or adds to) the output's rows directly. Several:
        // each unit's tile is written dense to the worker's scratch and copied (or added) into
        // its columns of the output (see `MatmulPrimitive`).
        let direct = columnBlocks == 1
        if !direct { workspace.reserveTiles(workers, elements: min(rows, rowBlock) * blockWidth) }
        func primitive(_ r: Int, _ width: Int) -> MatmulPrimitive {
            MatmulPrimitive.of(.init(rows: r, width: width, inner: k, bf16: kind == .bf16, accumulate: accumulate && direct),
                               workers: workers)
        }
        // The (at most four) shapes of this product, made or found before the workers start.
        let full = primitive(fullRows, blockWidth)
        let lastColumn = lastWidth == blockWidth ? full : primitive(fullRows, lastWidth)
        let lastRow = lastRows == fullRows ? full : primitive(lastRows, blockWidth)
        let corner = lastRows == fullRows ? lastColumn : (lastWidth == blockWidth ? lastRow : primitive(lastRows, lastWidth))
        OneDNN.prepareWorkers(workers)
        Parallel.forEach(workers) { w in
            // Column-major units: a worker's run keeps one block of weights over its row blocks.
            for unit in (units * w / workers)..<(units * (w + 1) / workers) {
                let j = unit / rowBlocks, i = unit % rowBlocks
                let lastI = i == rowBlocks - 1, lastJ = j == columnBlocks - 1
                let p = lastI ? (lastJ ? corner : lastRow) : (lastJ ? lastColumn : full)
                let a = source + i * rowBlock * k * elementBytes
                let c = output + i * rowBlock * n + j * blockWidth
                let (r, width) = (p.shape.rows, p.shape.width)
                let rowRange = i * rowBlock..<(i * rowBlock + r), columnRange = j * blockWidth..<(j * blockWidth + width)
                if direct {
                    p.run(worker: w, a: a, weights: blocks[j], c: c)
                    epilogue(c, n, rowRange, columnRange)
                    continue
                }
                let tile = workspace.tile(w)  // [r, width]
                p.run(worker: w, a: a, weights: blocks[j], c: tile)
                epilogue(tile, width, rowRange, columnRange)
                for row in 0..<r {
                    let from = tile + row * width, to = c + row * n
                    if accumulate {
                        for x in 0..<width { to[x] += from[x] }
                    } else {
                        to.update(from: from, count: width)
                    }
                }
            }
        }
    }
}
