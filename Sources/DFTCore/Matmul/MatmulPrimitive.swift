import COneDNN
import Foundation

/// One oneDNN matmul primitive: C[rows, width] = A[rows, inner] B (or C += ..., `accumulate`),
/// with B the packed weights of one `PackedMatrix` block, A contiguous rows (bf16 or fp32) and C
/// contiguous fp32 rows. oneDNN 2.6 runs its fast (brgemm) kernels only for a dense C: given
/// rows `ldc` apart, a block of columns of a wider output, it falls back to its reference
/// kernel, a hundred times slower, so `PackedMatrix` hands it dense tiles.
///
/// Creating a primitive costs far more than running it (it generates its kernel), so each
/// shape is made once and kept in a process-wide cache that every matrix of that shape
/// shares: a decoder meets a few dozen row counts over a job, training a handful.
/// Each worker of a product has its own memory objects (a memory object holds the pointer
/// of one call) and its own scratchpad, made when the primitive is first asked for by a
/// product with that many workers, never inside the parallel region.
final class MatmulPrimitive: @unchecked Sendable {
    struct Shape: Hashable {
        let rows: Int, width: Int, inner: Int
        let bf16: Bool
        let accumulate: Bool
        /// B given as a plain [inner, width] matrix (an activation) rather than packed weights.
        var plainB = false
        /// A read transposed: element (i, j) of A [rows, inner] at j * sourceStride + i, a block
        /// of columns of a row-major [inner, sourceStride] matrix (0: A is plain row-major).
        /// oneDNN 2.6 runs these on its gemm kernel (`gemm:jit`), as fast as brgemm on a plain A.
        var transposedSourceStride = 0
        /// B given as its transpose, a plain row-major [width, inner] matrix (keys in attention's
        /// scores: Q K^T); implies a plain B.
        var transposedB = false
        /// B in oneDNN's `BA16a64b2a` layout (`BlockedBF16`), written by its owner rather than
        /// packed by oneDNN and given per call (a bf16 KV cache's keys or values); bf16 only.
        var blockedB = false
    }

    let shape: Shape
    let primitive: dnnl_primitive_t
    /// oneDNN's name for the kernel it picked ("brg:avx512_core_bf16", "gemm:jit"; "ref:any" is
    /// its reference kernel, a hundred times slower: the tests check that no product gets it).
    let implementation: String
    private let sourceDesc: dnnl_memory_desc_t, destinationDesc: dnnl_memory_desc_t, scratchDesc: dnnl_memory_desc_t
    private let plainWeightsDesc: dnnl_memory_desc_t?
    /// Each worker's memory objects, in storage that never moves: a product on another thread
    /// may add workers while this one runs (see `OneDNN.withWorker`). `weights` exists for a
    /// plain B only, which each call points at its own operand.
    private typealias WorkerObjects = (source: dnnl_memory_t, destination: dnnl_memory_t, scratch: dnnl_memory_t,
                                       weights: dnnl_memory_t?)
    private let workers = UnsafeMutablePointer<WorkerObjects>.allocate(capacity: OneDNN.maxWorkers)
    private var workerCount = 0

    private init(shape: Shape) {
        self.shape = shape
        OneDNN.singleThreaded()
        let type = shape.bf16 ? dnnl_bf16 : dnnl_f32
        var source = shape.transposedSourceStride > 0
            ? matrixDesc(shape.rows, shape.inner, type, rowStride: 1, columnStride: shape.transposedSourceStride)
            : matrixDesc(shape.rows, shape.inner, type, dnnl_ab)
        var destination = matrixDesc(shape.rows, shape.width, dnnl_f32, dnnl_ab)
        var weights = shape.transposedB ? matrixDesc(shape.inner, shape.width, type, rowStride: 1, columnStride: shape.inner)
            : shape.blockedB ? matrixDesc(shape.inner, shape.width, type, dnnl_BA16a64b2a)
            : shape.plainB ? matrixDesc(shape.inner, shape.width, type, dnnl_ab)
            : Self.weightsDesc(width: shape.width, inner: shape.inner, bf16: shape.bf16)
        plainWeightsDesc = shape.plainB || shape.transposedB || shape.blockedB ? weights : nil
        var operation = dnnl_matmul_desc_t()
        OneDNN.check(dnnl_matmul_desc_init(&operation, &source, &weights, nil, &destination), "a matmul desc")
        var attributes: dnnl_primitive_attr_t?
        OneDNN.check(dnnl_primitive_attr_create(&attributes), "matmul attributes")
        defer { dnnl_primitive_attr_destroy(attributes) }
        // The caller's scratchpad: one per worker, made once, so no call allocates.
        OneDNN.check(dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user), "the scratchpad mode")
        if shape.accumulate {
            var postOps: dnnl_post_ops_t?
            OneDNN.check(dnnl_post_ops_create(&postOps), "post-ops")
            defer { dnnl_post_ops_destroy(postOps) }
            OneDNN.check(dnnl_post_ops_append_sum(postOps, 1), "a sum post-op")
            OneDNN.check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "setting post-ops")
        }
        var descriptor: dnnl_primitive_desc_t?
        OneDNN.check(dnnl_primitive_desc_create(&descriptor, &operation, attributes, OneDNN.engine, nil),
                     "a matmul of \(shape)")
        defer { dnnl_primitive_desc_destroy(descriptor) }
        scratchDesc = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0)!.pointee
        var name: UnsafePointer<CChar>?
        OneDNN.check(dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name), "the kernel's name")
        implementation = String(cString: name!)
        var primitive: dnnl_primitive_t?
        OneDNN.check(dnnl_primitive_create(&primitive, descriptor), "a matmul primitive")
        self.primitive = primitive!
        sourceDesc = source
        destinationDesc = destination
    }

    /// Runs C (+)= A B on worker `worker`'s memory objects: `a` [rows, inner] bf16 or fp32 (or
    /// its transposed storage, see `transposedSourceStride`), `c` [rows, width] fp32.
    @inline(__always)
    func run(worker: Int, a: UnsafeRawPointer, weights: dnnl_memory_t, c: UnsafeMutablePointer<Float>) {
        OneDNN.withWorker(worker) { stream in execute(worker: worker, stream: stream, a: a, weights: weights, c: c) }
    }

    /// Runs C (+)= A B with a B given per call (`plainB`, `transposedB`, `blockedB`) at `b`, on worker `worker`'s
    /// memory objects.
    @inline(__always)
    func run(worker: Int, a: UnsafeRawPointer, b: UnsafeRawPointer, c: UnsafeMutablePointer<Float>) {
        OneDNN.withWorker(worker) { stream in
            let weights = workers[worker].weights!
            dnnl_memory_set_data_handle(weights, UnsafeMutableRawPointer(mutating: b))
            execute(worker: worker, stream: stream, a: a, weights: weights, c: c)
        }
    }

    @inline(__always)
    private func execute(worker: Int, stream: dnnl_stream_t, a: UnsafeRawPointer, weights: dnnl_memory_t,
                         c: UnsafeMutablePointer<Float>) {
        let objects = workers[worker]
        dnnl_memory_set_data_handle(objects.source, UnsafeMutableRawPointer(mutating: a))
        dnnl_memory_set_data_handle(objects.destination, UnsafeMutableRawPointer(c))
        withUnsafeTemporaryAllocation(of: dnnl_exec_arg_t.self, capacity: 4) { args in
            args[0] = dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: objects.source)
            args[1] = dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: weights)
            args[2] = dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: objects.destination)
            args[3] = dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: objects.scratch)
            OneDNN.check(dnnl_primitive_execute(primitive, stream, 4, args.baseAddress), "running a matmul of \(shape)")
        }
    }

    private func ensureWorkers(_ count: Int) {
        precondition(count <= OneDNN.maxWorkers, "\(count) workers for one product (at most \(OneDNN.maxWorkers))")
        while workerCount < count {
            var source: dnnl_memory_t?, destination: dnnl_memory_t?, scratch: dnnl_memory_t?
            var sourceDesc = sourceDesc, destinationDesc = destinationDesc, scratchDesc = scratchDesc
            OneDNN.check(dnnl_memory_create(&source, &sourceDesc, OneDNN.engine, nil), "a source memory")
            OneDNN.check(dnnl_memory_create(&destination, &destinationDesc, OneDNN.engine, nil), "a destination memory")
            OneDNN.check(dnnl_memory_create(&scratch, &scratchDesc, OneDNN.engine, UnsafeMutableRawPointer(bitPattern: -1)),
                         "a scratchpad")
            var weights: dnnl_memory_t?
            if var desc = plainWeightsDesc {
                OneDNN.check(dnnl_memory_create(&weights, &desc, OneDNN.engine, nil), "a plain weights memory")
            }
            (workers + workerCount).initialize(to: (source!, destination!, scratch!, weights))
            workerCount += 1
        }
    }

    // MARK: the caches

    nonisolated(unsafe) private static var primitives: [Shape: MatmulPrimitive] = [:]
    nonisolated(unsafe) private static var packedDescs: [Shape: dnnl_memory_desc_t] = [:]
    private static let lock = NSLock()

    /// Every primitive made so far: its shape and its kernel's name.
    static var made: [(shape: Shape, implementation: String)] {
        lock.lock()
        defer { lock.unlock() }
        return primitives.map { ($0.key, $0.value.implementation) }
    }

    /// The primitive of `shape`, with memory objects for `workers` workers.
    static func of(_ shape: Shape, workers: Int) -> MatmulPrimitive {
        lock.lock()
        defer { lock.unlock() }
        let primitive: MatmulPrimitive
        if let cached = primitives[shape] {
            primitive = cached
        } else {
            primitive = MatmulPrimitive(shape: shape)
            primitives[shape] = primitive
        }
        primitive.ensureWorkers(workers)
        return primitive
    }

    /// The layout oneDNN packs a [inner, width] block of weights in (asked with
    /// `format_tag_any`). It depends on the block's shape and type, not on the rows of the
    /// products it serves (checked for 1 to 1024 rows), so every row count shares one packing.
    static func weightsDesc(width: Int, inner: Int, bf16: Bool) -> dnnl_memory_desc_t {
        let key = Shape(rows: 0, width: width, inner: inner, bf16: bf16, accumulate: false)
        if let cached = packedDescs[key] { return cached }
        OneDNN.singleThreaded()
        let type = bf16 ? dnnl_bf16 : dnnl_f32
        var source = matrixDesc(32, inner, type, dnnl_ab)
        var weights = matrixDesc(inner, width, type, dnnl_format_tag_any)
        var destination = matrixDesc(32, width, dnnl_f32, dnnl_ab)
        var operation = dnnl_matmul_desc_t()
        OneDNN.check(dnnl_matmul_desc_init(&operation, &source, &weights, nil, &destination), "a matmul desc")
        var descriptor: dnnl_primitive_desc_t?
        let status = dnnl_primitive_desc_create(&descriptor, &operation, nil, OneDNN.engine, nil)
        OneDNN.check(status, "a \(bf16 ? "bf16" : "fp32") matmul on \(OneDNN.isa) (a caller must check `OneDNN.nativeBF16` first)")
        defer { dnnl_primitive_desc_destroy(descriptor) }
        let packed = dnnl_primitive_desc_query_md(descriptor, dnnl_query_weights_md, 0)!.pointee
        packedDescs[key] = packed
        return packed
    }

    static func weightsDescLocked(width: Int, inner: Int, bf16: Bool) -> dnnl_memory_desc_t {
        lock.lock()
        defer { lock.unlock() }
        return weightsDesc(width: width, inner: inner, bf16: bf16)
    }
}

/// A two-dimensional memory desc of `type` in the layout `tag` (`dnnl_format_tag_any`: oneDNN's choice).
func matrixDesc(_ rows: Int, _ columns: Int, _ type: dnnl_data_type_t, _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
    var desc = dnnl_memory_desc_t()
    var d = dims(rows, columns)
    let status = withUnsafeBytes(of: &d) { dnnl_memory_desc_init_by_tag(&desc, 2, $0.baseAddress!.assumingMemoryBound(to: Int64.self), type, tag) }
    OneDNN.check(status, "a \(rows) x \(columns) memory desc")
    return desc
}

/// A two-dimensional memory desc of `type` whose rows are `rowStride` elements apart and columns `columnStride`.
func matrixDesc(_ rows: Int, _ columns: Int, _ type: dnnl_data_type_t = dnnl_f32, rowStride: Int, columnStride: Int)
    -> dnnl_memory_desc_t {
    var desc = dnnl_memory_desc_t()
    var d = dims(rows, columns), strides = dims(rowStride, columnStride)
    let status = withUnsafeBytes(of: &d) { d in
        withUnsafeBytes(of: &strides) { s in
            dnnl_memory_desc_init_by_strides(&desc, 2, d.baseAddress!.assumingMemoryBound(to: Int64.self), type,
                                             s.baseAddress!.assumingMemoryBound(to: Int64.self))
        }
    }
    OneDNN.check(status, "a \(rows) x \(columns) strided memory desc")
    return desc
}

/// oneDNN's dimensions type (twelve slots) holding two.
private func dims(_ first: Int, _ second: Int) -> dnnl_dims_t {
    var d: dnnl_dims_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    d.0 = Int64(first)
    d.1 = Int64(second)
    return d
}
