import Foundation
import Testing

extension Integration {
    /// `--precision` on the decoding commands: bf16 where the CPU multiplies it natively, the
    /// same file from any number of ranks, and the refusal (or `auto`'s fallback) where it does
    /// not, shown on any host with ONEDNN_MAX_CPU_ISA=AVX2.
    @Suite("--precision")
    struct PrecisionCommandTests {
        /// As on a CPU without bf16 instructions, with the tests' reference path off.
        static let capped = ["ONEDNN_MAX_CPU_ISA": "AVX2", "DFT_MPI_BF16_REFERENCE": "0"]
        static var qwen: String { GenerateTests.qwen }
        static let sampling = ["--samples", "2", "--max-new-tokens", "16", "--max-batch", "3", "--temperature", "0.8",
                               "--seed", "3", "--threads", "1"]

        func prompts(_ scratch: Scratch) throws -> String {
            let lines = (0..<5).map { i in "{\"input_ids\": [" + (0..<(4 + 3 * i)).map { String(($0 * 37 + i * 11) % 256) }
                .joined(separator: ", ") + "]}" }
            let path = scratch.file("prompts.jsonl")
            try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        /// Natively where the CPU has bf16 instructions, on the reference path elsewhere (`Tools.environment`).
        @Test("generate --precision bf16: header names oneDNN's bf16 kernel; 1 process and mpirun -n 2 write the same file")
        func bf16Generate() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = try prompts(scratch)
            var files: [Data] = []
            for ranks in [1, 2] {
                let out = scratch.file("out-\(ranks).jsonl")
                let result = try Tools.dftMPI(["generate", "--model", Self.qwen, "--data", data, "--out", out,
                                               "--precision", "bf16"] + Self.sampling, ranks: ranks, seconds: 180)
                try #require(result.succeeded, "\(result.transcript)")
                #expect(result.stdout.contains(Tools.cpuHasBF16 ? "compute: bf16 (oneDNN avx512_core" : "compute: bf16 reference"),
                        "\(result.transcript)")
                files.append(try Data(contentsOf: URL(fileURLWithPath: out)))
            }
            #expect(files[0] == files[1])
            let fp32 = scratch.file("fp32.jsonl")
            let result = try Tools.dftMPI(["generate", "--model", Self.qwen, "--data", data, "--out", fp32] + Self.sampling,
                                          seconds: 120)
            try #require(result.succeeded, "\(result.transcript)")
            #expect(result.stdout.contains("compute: fp32 (OpenBLAS"), "\(result.transcript)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: fp32)) != files[0], "bf16 must change some sample, or it ran fp32")
        }

        @Test("without native bf16 (ONEDNN_MAX_CPU_ISA=AVX2): --precision bf16 is an error naming the feature and the alternatives; auto runs fp32 and says so",
              arguments: ["generate", "eval", "bench"])
        func refusal(command: String) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = try prompts(scratch)
            func arguments(_ precision: String) -> [String] {
                switch command {
                case "generate":
                    return ["generate", "--model", Self.qwen, "--data", data, "--out", scratch.file("out-\(precision).jsonl"),
                            "--precision", precision] + Self.sampling
                case "eval":
                    return ["eval", "--model", "arith-base", "--data", "arith-heldout", "--template", "plain", "--out", scratch.file("eval-\(precision)"),
                            "--samples", "1", "--max-new-tokens", "8", "--temperature", "0", "--threads", "1", "--precision", precision]
                default:
                    return ["bench", "--decode", "--shape", "tiny", "--new-tokens", "4", "--prompt-length", "4", "--threads", "1",
                            "--precision", precision]
                }
            }
            let refused = try Tools.dftMPI(arguments("bf16"), seconds: 120, extra: Self.capped)
            #expect(!refused.succeeded, "\(refused.transcript)")
            #expect(refused.stderr.contains("needs a CPU with native bf16 instructions (AVX512-BF16 or AMX)")
                    && refused.stderr.contains("ONEDNN_MAX_CPU_ISA=AVX2") && refused.stderr.contains("--precision auto"),
                    "\(refused.transcript)")
            let auto = try Tools.dftMPI(arguments("auto"), seconds: 180, extra: Self.capped)
            try #require(auto.succeeded, "\(auto.transcript)")
            #expect(auto.stdout.contains("compute: fp32 (OpenBLAS") && auto.stdout.contains("chosen by --precision auto"),
                    "\(auto.transcript)")
        }
    }
}
