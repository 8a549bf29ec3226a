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

        /// The figures are not checked (that is what the benchmark is for), only the report's
        /// shape: every size from 4 KB by x4 to the gradient of `tiny`, bus bandwidth = algorithm
        /// bandwidth x 2(n-1)/n, bytes / time = algorithm bandwidth, and the overlap line.
        @Test("--allreduce under mpirun -n 2: the sweep from 4 KB to the gradient, bus bandwidth, the overlap")
        func allreduce() throws {
            let command = [try Tools.mpirun(), "-n", "2", "--oversubscribe", "--bind-to", "none", try Tools.binary(),
                           "bench", "--allreduce", "--shape", "tiny", "--steps", "1", "--threads", "1", "--length", "32"]
            let result = try ChildProcess.run(command, environment: Tools.environment, seconds: 300)
            #expect(result.succeeded, "\(result.transcript)")
            let lines = result.stdoutLines
            #expect(lines.contains { $0.hasPrefix("2 ranks, 2 per node (1 node) | sizes 4 KB to the gradient of tiny") },
                    "no ranks line\(result.transcript)")
            let rows = lines.filter { $0.contains(" us ") }.compactMap { line -> [Double]? in
                let fields = line.split(separator: " ").filter { $0 != "us" }.compactMap { Double($0) }
                return fields.count == 5 ? fields : nil
            }
            let sizes = rows.map { Int($0[0]) }
            #expect(sizes.first == 4096 && sizes.count >= 5, "sizes \(sizes)\(result.transcript)")
            for (a, b) in zip(sizes, sizes.dropFirst().dropLast()) { #expect(b == 4 * a, "sizes \(sizes) do not grow x4") }
            // tiny's gradient: the parameters of the preset, 4 bytes each, above the last x4 size.
            if let last = sizes.last, sizes.count >= 2 { #expect(last > sizes[sizes.count - 2] && last % 4 == 0, "last size \(last)") }
            for row in rows {
                let (bytes, microseconds, algorithm, bus) = (row[0], row[1], row[2], row[3])
                // busbw = algbw x 2(n-1)/n = algbw for n = 2; both printed to 3 decimals in GB/s.
                #expect(abs(bus - algorithm) <= 0.0015, "row \(row): bus bandwidth is not 2(n-1)/n x algorithm bandwidth")
                // The time is printed to 0.1 us: at 4 KB (a few us on one node) that rounding alone
                // moves bytes / time by a few percent.
                #expect(abs(bytes / (microseconds * 1e-6) / 1e9 - algorithm)
                            <= 0.0015 + algorithm * (0.05 / microseconds + 0.001),
                        "row \(row): bytes / time is not the algorithm bandwidth")
                #expect(row[4] >= 3, "row \(row): fewer than 3 iterations")
            }
            #expect(lines.contains { $0.hasPrefix("overlap, tiny, 1 steps: ") && $0.contains("hidden by the backward pass") },
                    "no overlap line\(result.transcript)")
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

        /// Natively where the CPU has bf16 instructions (MFU then against the same run's bf16
        /// matmul rate), on the tests' reference path elsewhere (`Tools.environment`).
        @Test("--precision bf16: training and decoding report bf16, with half the weight bytes per decode step")
        func bf16() throws {
            let train = try ChildProcess.run(arguments(try Tools.binary()) + ["--precision", "bf16"], environment: Tools.environment,
                                             seconds: 120)
            #expect(train.succeeded, "\(train.transcript)")
            #expect(train.stdoutLines.contains { $0.hasPrefix("compute: bf16") }, "\(train.transcript)")
            let head = train.stdoutLines.first { $0.hasPrefix("bench tiny: 1 rank(s) x 1 thread(s) | ") } ?? ""
            #expect(head.contains(Tools.cpuHasBF16 ? "| bf16 matmul " : "| sgemm "), "\(train.transcript)")
            func weightMB(_ precision: String) throws -> Double? {
                let result = try ChildProcess.run([try Tools.binary(), "bench", "--shape", "tiny", "--decode", "--prompt-length", "4",
                                                   "--new-tokens", "2", "--threads", "1", "--precision", precision],
                                                  environment: Tools.environment, seconds: 300)
                #expect(result.succeeded, "\(result.transcript)")
                let head = result.stdoutLines.first { $0.hasPrefix("bench tiny --decode") } ?? ""
                let field = head.components(separatedBy: " | ").first { $0.hasPrefix("weights ") }
                return field.flatMap { Double($0.replacingOccurrences(of: "weights ", with: "").replacingOccurrences(of: " MB per step", with: "")) }
            }
            let fp32 = try #require(try weightMB("fp32")), bf16 = try #require(try weightMB("bf16"))
            // The matrices' bytes halve (packing pads a little); norms stay fp32.
            #expect(bf16 < 0.56 * fp32 && bf16 > 0.45 * fp32, "bf16 \(bf16) MB against fp32 \(fp32) MB per step")
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
