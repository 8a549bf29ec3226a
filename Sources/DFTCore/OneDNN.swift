import COneDNN

/// oneDNN, the second matrix-product library (bf16 on CPUs with native bf16 instructions):
/// which version is linked and which instruction set it dispatches to on this CPU.
/// `ONEDNN_MAX_CPU_ISA` (e.g. AVX2) caps the set, as on a CPU without AVX-512.
public enum OneDNN {
    /// "2.6.3".
    public static var version: String {
        guard let v = dnnl_version()?.pointee else { return "?" }
        return "\(v.major).\(v.minor).\(v.patch)"
    }

    /// The instruction set oneDNN's CPU kernels use here, by oneDNN's name for it.
    public static var isa: String {
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
    public static var nativeBF16: Bool {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        let bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        return isa & bf16 == bf16
    }
}
