import Foundation
import Testing

extension Integration {
    /// The README's first command: `dft-mpi train` with no model or data fine-tunes the built-in
    /// base model on the built-in demonstrations and prints its held-out accuracy before and
    /// after; the base model scores what its README says.
    @Suite("The built-in base model and demo")
    struct BuiltinDemoTests {
        func run(_ arguments: [String]) throws -> ProcessResult {
            try Tools.dftMPI(arguments, seconds: 300)
        }

        /// The first `count` problems of the built-in held-out set (the test binary is a debug
        /// build: all 200, generated twice, take minutes).
        func heldOutSubset(_ scratch: Scratch, count: Int) throws -> String {
            let all = try String(contentsOfFile: Self.builtinData("heldout.jsonl"), encoding: .utf8)
            let path = scratch.file("heldout-\(count).jsonl")
            try all.split(separator: "\n").prefix(count).joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        static func builtinData(_ name: String) -> String {
            RepositoryPaths.path("Sources/DFTBuiltin/Resources/arith-data/\(name)")
        }

        @Test("train with no model or data: arith-base-half on arith-cot with DFT, accuracy before and after")
        func demoDefaults() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let out = scratch.file("demo")
            let result = try run(["train", "--steps", "3", "--eval-generate", "1", "--eval-data", try heldOutSubset(scratch, count: 20),
                                  "--threads", "1", "--out", out])
            try #require(result.succeeded, "\(result.transcript)")
            #expect(result.stdoutLines.contains { $0.hasPrefix("model:  ") && $0.contains("arith-base-half (built-in)") && $0.contains("Qwen2ForCausalLM") },
                    "\(result.transcript)")
            #expect(result.stdoutLines.contains { $0.hasPrefix("data:   ") && $0.contains("finetune.jsonl") && $0.contains("4000 examples") },
                    "\(result.transcript)")
            #expect(result.output.contains("20 problems x 1 answers generated and graded (gold: answer)"), "\(result.transcript)")
            #expect(result.stdoutLines.contains { $0.hasPrefix("train:  dft |") }, "no SFT warm-up: \(result.transcript)")
            for when in ["before training", "after step 3/3"] {
                #expect(result.stdoutLines.contains { $0.hasPrefix("eval \(when) | accuracy avg@1 ") }, "\(when)\(result.transcript)")
            }
            let summary = try #require(result.stdoutLines.first { $0.hasPrefix("held-out accuracy (avg@1): ") }, "\(result.transcript)")
            #expect(summary.contains("% before training -> ") && summary.hasSuffix("% after step 3"), "\(summary)")
            let config = try String(contentsOfFile: out + "/config.yaml", encoding: .utf8)
            #expect(config.contains("objective: dft") && config.contains("template: plain") && config.contains("sft_warmup_steps: 0"))
        }

        /// The figure a built-in base model's README gives for greedy accuracy on arith-heldout, in %.
        static func documentedGreedyAccuracy(_ model: String) throws -> Double {
            let readme = RepositoryPaths.root.appendingPathComponent("Sources/DFTBuiltin/Resources/\(model)/README.md")
            let text = try String(contentsOf: readme, encoding: .utf8)
            let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("| arith-heldout | greedy |") },
                                    "no '| arith-heldout | greedy |' row in \(readme.path)")
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            return try #require(Double(cells[2].replacingOccurrences(of: "%", with: "")), "\(line)")
        }

        @Test("eval of each built-in base on arith-heldout (greedy) gives its README's accuracy, within 3 points for another kernel",
              arguments: ["arith-base", "arith-base-half"])
        func baseAccuracyAsDocumented(model: String) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let out = scratch.file("eval")
            let result = try run(["eval", "--model", model, "--data", "arith-heldout", "--template", "plain",
                                  "--samples", "1", "--temperature", "0", "--max-new-tokens", "96", "--threads", "2", "--out", out])
            try #require(result.succeeded, "\(result.transcript)")
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json")))
            let files = try #require((summary as? [String: Any])?["files"] as? [[String: Any]])
            let measured = 100 * (try #require(files.first?["avg_at_n"] as? Double))
            let documented = try Self.documentedGreedyAccuracy(model)
            #expect(abs(measured - documented) <= 3, "measured \(measured)%, the README says \(documented)%")
        }
    }
}
