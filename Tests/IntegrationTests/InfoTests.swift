import Foundation
import Testing

extension Integration {
    /// `dft-mpi info` names what a figure or a bit-identity claim depends on: the CPU, the
    /// OpenBLAS kernel, and the instruction set oneDNN dispatches to.
    @Suite("dft-mpi info")
    struct InfoTests {
        static var cpuHasBF16: Bool { Tools.cpuHasBF16 }

        @Test("oneDNN's version and ISA are printed; bf16 is native exactly when the CPU has it, and not under ONEDNN_MAX_CPU_ISA=AVX2")
        func oneDNN() throws {
            let plain = try Tools.dftMPI(["info"], seconds: 60)
            try #require(plain.succeeded, "\(plain.transcript)")
            let line = plain.stdout.split(separator: "\n").first { $0.hasPrefix("onednn:") }.map(String.init) ?? ""
            #expect(line.contains("2."), "\(plain.transcript)")
            #expect(line.contains(Self.cpuHasBF16 ? "(bf16 native" : "(bf16 not native"), "\(plain.transcript)")
            var environment = Tools.environment
            environment["ONEDNN_MAX_CPU_ISA"] = "AVX2"
            let capped = try ChildProcess.run([try Tools.binary(), "info"], environment: environment, seconds: 60)
            try #require(capped.succeeded, "\(capped.transcript)")
            #expect(capped.stdout.contains("avx2 (bf16 not native, AMX not in use), ONEDNN_MAX_CPU_ISA=AVX2"), "\(capped.transcript)")
        }

        @Test("the instruction set the Swift code was built for is printed (the default build: x86-64-v3)")
        func build() throws {
            let info = try Tools.dftMPI(["info"], seconds: 60)
            try #require(info.succeeded, "\(info.transcript)")
            #expect(info.stdout.contains("build:    Swift code for x86-64-v3 (avx avx2 fma f16c bmi bmi2 popcnt)"),
                    "\(info.transcript)")
        }
    }
}
