import CPUBaseline
import DFTCore
import Foundation

/// What a figure or a bit-identity claim depends on: the CPU, its vector extensions and the
/// OpenBLAS kernel that runs (OpenBLAS picks it from the CPU unless OPENBLAS_CORETYPE forces
/// one; kernels round differently and run at other speeds). Printed by `dft-mpi info`, the
/// `bench` report and the `train` header.
public enum MachineDescription {
    /// The CPU's model name and the extensions that decide OpenBLAS's kernel, from
    /// /proc/cpuinfo, e.g. "AMD EPYC (avx2 avx512f avx512_bf16)"; "unknown CPU" elsewhere.
    public static var cpu: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        func field(_ name: String) -> String? {
            for line in text.split(separator: "\n") where line.hasPrefix(name) {
                if let colon = line.firstIndex(of: ":") {
                    return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
        let flags = Set((field("flags") ?? "").split(separator: " ").map(String.init))
        let shown = ["avx2", "fma", "avx512f", "avx512_bf16"].filter(flags.contains)
        return "\(field("model name") ?? "unknown CPU") (\(shown.isEmpty ? "no AVX2" : shown.joined(separator: " ")))"
    }

    /// The OpenBLAS kernel and how it was chosen, e.g. "Cooperlake (detected)" or
    /// "Haswell (OPENBLAS_CORETYPE=Haswell)".
    public static var openBLAS: String {
        let forced = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].flatMap { $0.isEmpty ? nil : $0 }
        return "\(BLAS.coreName) (\(forced.map { "OPENBLAS_CORETYPE=\($0)" } ?? "detected"))"
    }

    /// oneDNN's version and the instruction set it dispatches to, e.g. "2.6.3, avx512_core_bf16
    /// (bf16 native, AMX not in use)"; `ONEDNN_MAX_CPU_ISA` caps the set when it is set.
    public static var oneDNN: String {
        let capped = ProcessInfo.processInfo.environment["ONEDNN_MAX_CPU_ISA"].flatMap { $0.isEmpty ? nil : $0 }
        return "\(OneDNN.version), \(OneDNN.isa) (bf16 \(OneDNN.nativeBF16 ? "native" : "not native"), AMX \(OneDNN.amx ? "in use" : "not in use"))"
            + (capped.map { ", ONEDNN_MAX_CPU_ISA=\($0)" } ?? "")
    }

    /// What the Swift code was compiled for (Package.swift; `CPUBaseline` refuses to start on a
    /// CPU without it), e.g. "x86-64-v3 (avx avx2 fma f16c bmi bmi2 popcnt)".
    public static var build: String {
        let required = String(cString: dft_cpu_baseline_required())
        return required.isEmpty ? "the generic baseline (DFT_MPI_TARGET_CPU=generic)" : "x86-64-v3 (\(required))"
    }

    /// One line for reports: "CPU ... | OpenBLAS ... | oneDNN ...".
    public static var line: String { "CPU \(cpu) | OpenBLAS \(openBLAS) | oneDNN \(oneDNN)" }
}
