import Foundation
import Testing

extension Integration {
    /// `dft-mpi bench` (docs/PERFORMANCE.md) prints its report on one process and under mpirun.
    /// Rows of 32 tokens keep the debug build's step short; the figures are not checked, only
    /// that every part of the report is there and consistent.
    @Suite("dft-mpi bench")
    struct Bench {
        static let phases = ["matmuls", "attention", "other kernels", "LM head + loss", "optimizer",
                             "communication wait", "data and the rest"]

        func arguments(_ binary: String) -> [String] {
            [binary, "bench", "--shape", "tiny", "--steps", "1", "--threads", "1", "--length", "32", "--recompute", "selective"]
        }

        /// Checks the three report lines of a run on `ranks` ranks.
        func expectReport(_ result: ProcessResult, ranks: Int, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(result.succeeded, "\(result.transcript)", sourceLocation: sourceLocation)
            let lines = result.stdoutLines
            let head = lines.first { $0.hasPrefix("bench tiny: \(ranks) rank(s) x 1 thread(s) | ") }
            let fields = head?.components(separatedBy: " | ") ?? []
            let rate = fields.count > 1 ? Double(fields[1].replacingOccurrences(of: " tokens/s", with: "")) : nil
            #expect((rate ?? 0) > 0, "no positive tokens/s in '\(head ?? "")'\(result.transcript)", sourceLocation: sourceLocation)
            for part in ["GFLOP/s achieved", "sgemm ", "MFU ", "peak RSS ", "comm wait "] {
                #expect(fields.contains { $0.contains(part) }, "no '\(part)' field\(result.transcript)", sourceLocation: sourceLocation)
            }
            #expect(lines.contains { $0.hasPrefix("rows of 32 tokens | recompute selective | activations and backward scratch ") },
                    "no memory line\(result.transcript)", sourceLocation: sourceLocation)
            let split = lines.first { $0.hasPrefix("time per step (rank 0): ") } ?? ""
            var total = 0.0
            for phase in Self.phases {
                let field = split.components(separatedBy: " | ").first { $0.hasSuffix("%") && $0.contains(phase + " ") }
                let share = field.flatMap { Double($0.split(separator: " ").last!.dropLast()) }
                #expect(share != nil, "no '\(phase)' share in '\(split)'", sourceLocation: sourceLocation)
                total += share ?? 0
            }
            #expect(abs(total - 100) < 1, "shares add up to \(total)%: '\(split)'", sourceLocation: sourceLocation)
        }

        @Test("One process: tokens/s, FLOP rates, MFU, memory and the time split")
        func plain() throws {
            let result = try ChildProcess.run(arguments(try Tools.binary()), environment: Tools.environment, seconds: 120)
            expectReport(result, ranks: 1)
        }

        @Test("Under mpirun -n 2")
        func twoRanks() throws {
            let command = [try Tools.mpirun(), "-n", "2", "--oversubscribe", "--bind-to", "none"] + arguments(try Tools.binary())
            expectReport(try ChildProcess.run(command, environment: Tools.environment, seconds: 180), ranks: 2)
        }

        @Test("--decode: prefill and decode tokens/s, bytes per step, the triad, the bound; refused under mpirun")
        func decode() throws {
            let result = try ChildProcess.run([try Tools.binary(), "bench", "--shape", "tiny", "--decode", "--batch", "2",
                                               "--prompt-length", "8", "--new-tokens", "4", "--threads", "1"],
                                              environment: Tools.environment, seconds: 300)
            #expect(result.succeeded, "\(result.transcript)")
            let head = result.stdoutLines.first { $0.hasPrefix("bench tiny --decode: batch 2 | prompt 8 + 4 new") } ?? ""
            for part in ["prefill ", "decode ", "end to end ", "weights ", "KV cache read ", "triad ", "bound ", "peak RSS "] {
                #expect(head.contains(part), "no '\(part)' in '\(head)'\(result.transcript)")
            }
            #expect(result.stdoutLines.contains { $0.hasPrefix("CPU ") && $0.contains("OpenBLAS ") }, "\(result.transcript)")
            let command = [try Tools.mpirun(), "-n", "2", "--oversubscribe", "--bind-to", "none", try Tools.binary(), "bench",
                           "--shape", "tiny", "--decode"]
            let refused = try ChildProcess.run(command, environment: Tools.environment, seconds: 60)
            #expect(!refused.succeeded && refused.output.contains("bench --decode runs in one process"), "\(refused.transcript)")
        }

        @Test("An unknown shape is an error naming the known ones")
        func unknownShape() throws {
            let result = try ChildProcess.run([try Tools.binary(), "bench", "--shape", "huge"], environment: Tools.environment, seconds: 60)
            #expect(!result.succeeded)
            #expect(result.stderr.contains("unknown benchmark shape 'huge'") && result.stderr.contains("qwen05b, small, tiny"),
                    "\(result.transcript)")
        }
    }
}
