import COneDNN
import Foundation

/// oneDNN, the second matrix-product library (bf16 on CPUs with native bf16 instructions, and
/// fp32 with weights packed once): which version is linked, which instruction set it
/// dispatches to on this CPU, and the engine, streams and thread rule every call shares.
/// `ONEDNN_MAX_CPU_ISA` (e.g. AVX2) caps the set, as on a CPU without AVX-512.
///
/// Threads: oneDNN runs on GNU OpenMP teams of its own. dft-mpi's threads are owned by one
/// place, `Parallel`'s pool, so oneDNN is kept at one OpenMP thread on every thread that calls
/// it (`singleThreaded`) and the pool's workers share the blocks of a product, as they do with
/// OpenBLAS. No OpenMP team is ever started, so none spins beside the pool.
public enum OneDNN {
    /// "2.6.3".
    public static var version: String {
        guard let v = dnnl_version()?.pointee else { return "?" }
        return "\(v.major).\(v.minor).\(v.patch)"
    }

    /// The instruction set oneDNN's CPU kernels use here, by oneDNN's name for it.
    public static var isa: String {
        _ = amxEnabled
        let isa = dnnl_get_effective_cpu_isa()
        let names: [(dnnl_cpu_isa_t, String)] = [
            (dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"), (dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"),
            (dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"), (dnnl_cpu_isa_avx512_core, "avx512_core"),
            (dnnl_cpu_isa_avx2_vnni, "avx2_vnni"), (dnnl_cpu_isa_avx2, "avx2"), (dnnl_cpu_isa_avx, "avx"),
            (dnnl_cpu_isa_sse41, "sse41"),
        ]
        return names.first { $0.0 == isa }?.1 ?? "isa 0x\(String(isa.rawValue, radix: 16))"
    }

    /// oneDNN multiplies bf16 natively (AVX512-BF16 or AMX); elsewhere it would emulate bf16
    /// products at a small fraction of the fp32 rate, or refuse them.
    public static var nativeBF16: Bool { hasISA(dnnl_cpu_isa_avx512_core_bf16) }

    /// AMX tiles (Sapphire Rapids and later): oneDNN 2.6 uses them for bf16 where the CPU and
    /// the kernel allow it; `isa` then names avx512_core_amx.
    public static var amx: Bool { hasISA(dnnl_cpu_isa_avx512_core_amx) }

    static func hasISA(_ wanted: dnnl_cpu_isa_t) -> Bool {
        _ = amxEnabled
        return dnnl_get_effective_cpu_isa().rawValue & wanted.rawValue == wanted.rawValue
    }

    /// oneDNN 2.6 counts AMX among the instruction sets with initial support, which it uses
    /// only when allowed up to them: on a CPU whose flags list amx_bf16 and amx_tile, and unless
    /// ONEDNN_MAX_CPU_ISA says otherwise, the cap is raised to AVX512_CORE_AMX once, before any
    /// kernel is generated. `dft-mpi info` then names avx512_core_amx, and ONEDNN_VERBOSE=1
    /// names the kernels (brg:avx512_core_amx). Not seen run here: this machine class has no AMX.
    static let amxEnabled: Bool = {
        guard getenv("ONEDNN_MAX_CPU_ISA") == nil && getenv("DNNL_MAX_CPU_ISA") == nil,
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })?.split(separator: " "),
              flags.contains("amx_bf16") && flags.contains("amx_tile")
        else { return false }
        return dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx512_core_amx) == dnnl_success
    }()

    /// The kernels oneDNN picked for the matmul shapes made so far in this process, each with
    /// its count of shapes, most used first: e.g. [("brg:avx512_core_bf16", 14), ("gemm:jit", 5)].
    /// `bench` prints them; a "ref" kernel would mean a product fell back to oneDNN's slow path.
    public static var matmulKernels: [(name: String, shapes: Int)] {
        Dictionary(grouping: MatmulPrimitive.made, by: \.implementation)
            .map { (name: $0.key, shapes: $0.value.count) }
            .sorted { ($0.shapes, $1.name) > ($1.shapes, $0.name) }
    }

    /// Traps with oneDNN's status and what was being done: every call here is given
    /// descriptors that this file built, so a failure is a programming error, not bad input.
    @inline(__always)
    static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
        if status != dnnl_success { fatalError("oneDNN: \(what()) failed with status \(status.rawValue)") }
    }

    /// The CPU engine, made once.
    nonisolated(unsafe) static let engine: dnnl_engine_t = {
        _ = amxEnabled
        singleThreaded()
        var engine: dnnl_engine_t?
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        return engine!
    }()

    // MARK: threads

    private typealias GetThreads = @convention(c) () -> Int32
    private typealias SetThreads = @convention(c) (Int32) -> Void
    // libgomp is loaded with libdnnl (its dependency); looked up rather than linked, as
    // Debian puts no libgomp.so where the linker searches.
    private static let ompGetMaxThreads: GetThreads? =
        dlsym(nil, "omp_get_max_threads").map { unsafeBitCast($0, to: GetThreads.self) }
    private static let ompSetNumThreads: SetThreads? =
        dlsym(nil, "omp_set_num_threads").map { unsafeBitCast($0, to: SetThreads.self) }

    /// Makes oneDNN calls from this thread run on this thread alone. OpenMP keeps the setting
    /// per thread, so it is checked (one read) before every primitive is created or run.
    @inline(__always)
    static func singleThreaded() {
        if let get = ompGetMaxThreads, let set = ompSetNumThreads, get() != 1 { set(1) }
    }

    // MARK: workers

    /// The most workers one product is cut for.
    static let maxWorkers = 256

    private static let streamsLock = NSLock()
    /// Worker w's stream once made; storage that never moves (read without the lock).
    nonisolated(unsafe) private static let streams: UnsafeMutablePointer<dnnl_stream_t?> = {
        let streams = UnsafeMutablePointer<dnnl_stream_t?>.allocate(capacity: maxWorkers)
        streams.initialize(repeating: nil, count: maxWorkers)
        return streams
    }()
    nonisolated(unsafe) private static let workerLocks: UnsafeMutablePointer<pthread_mutex_t> = {
        let locks = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: maxWorkers)
        for w in 0..<maxWorkers { pthread_mutex_init(locks + w, nil) }
        return locks
    }()

    /// Makes sure workers 0..<count have their streams (before a product's workers start).
    static func prepareWorkers(_ count: Int) {
        precondition(count <= maxWorkers, "\(count) workers for one product (at most \(maxWorkers))")
        streamsLock.lock()
        defer { streamsLock.unlock() }
        for w in 0..<count where streams[w] == nil {
            var stream: dnnl_stream_t?
            check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "creating a stream")
            streams[w] = stream
        }
    }

    /// Runs `body` as worker `worker` of a product: on that worker's stream, holding its lock, on
    /// one OpenMP thread. Worker w's stream and memory objects (`MatmulPrimitive`) are used by
    /// one call at a time: a process runs one product at a time, but tests run suites side by
    /// side, and two products on other threads would otherwise share them (the lock, uncontended,
    /// costs tens of nanoseconds against calls of microseconds).
    @inline(__always)
    static func withWorker(_ worker: Int, _ body: (dnnl_stream_t) -> Void) {
        singleThreaded()
        pthread_mutex_lock(workerLocks + worker)
        defer { pthread_mutex_unlock(workerLocks + worker) }
        body(streams[worker]!)
    }
}
