import Foundation
import Testing

extension Integration {
    /// What a new user ran into (issue 12): export without the run's tokenizer, a run that
    /// could train nothing, and DFT from random weights without a word.
    @Suite("A new user's first runs")
    struct NewUserTests {
        typealias Prepare = PrepareTests

        func run(_ arguments: [String], ranks: Int = 1) throws -> ProcessResult {
            try Tools.dftMPI(arguments, ranks: ranks, seconds: 120)
        }

        /// Writes the text data and a config.json model (random init) into `scratch`.
        func inputs(_ scratch: Scratch) throws -> (data: String, model: String) {
            let data = scratch.file("data.jsonl")
            try Prepare.lines.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
            let model = scratch.file("config.json")
            try JSONSerialization.data(withJSONObject: Prepare.model).write(to: URL(fileURLWithPath: model))
            return (data, model)
        }

        @Test("export writes the tokenizer the run used, given as a directory or as tokenizer.json",
              arguments: [false, true])
        func exportCarriesTheTokenizer(asFile: Bool) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let (data, model) = try inputs(scratch)
            let tokenizer = asFile ? (Prepare.tokenizer as NSString).appendingPathComponent("tokenizer.json") : Prepare.tokenizer
            let out = scratch.file("run")
            let train = try run([
                "train", "--model", model, "--data", data, "--tokenizer", tokenizer, "--template", "chatml",
                "--skip-invalid", "--global-batch", "2", "--micro-batch", "1", "--steps", "1", "--max-length", "64",
                "--threads", "1", "--out", out,
            ])
            try #require(train.succeeded, "\(train.transcript)")
            let exported = scratch.file("exported")
            let export = try run(["export", out + "/checkpoints/step-00000001.h5", "--out", exported])
            try #require(export.succeeded, "\(export.transcript)")
            for name in ["tokenizer.json", "tokenizer_config.json"] {
                let source = try Data(contentsOf: URL(fileURLWithPath: (Prepare.tokenizer as NSString).appendingPathComponent(name)))
                let copy = try Data(contentsOf: URL(fileURLWithPath: (exported as NSString).appendingPathComponent(name)))
                #expect(copy == source, "\(name) is not the run's")
            }
            #expect(export.output.contains("tokenizer.json"), "\(export.transcript)")
        }

        @Test("no example with a trained token within max_length is an error up front, on 1 and 2 ranks",
              arguments: [1, 2])
        func nothingToTrain(ranks: Int) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let (data, model) = try inputs(scratch)
            // The chatml prompt alone is longer than 8 tokens: every response starts past the cut.
            let result = try run([
                "train", "--model", model, "--data", data, "--tokenizer", Prepare.tokenizer, "--template", "chatml",
                "--skip-invalid", "--global-batch", "2", "--micro-batch", "1", "--steps", "3", "--max-length", "8",
                "--threads", "1", "--out", scratch.file("run"),
            ], ranks: ranks)
            #expect(result.status == 1, "\(result.transcript)")
            #expect(result.output.contains("none of the 6 examples has a trained token within max_length 8"), "\(result.transcript)")
            #expect(!result.output.contains("non-finite"), "\(result.transcript)")
            #expect(!FileManager.default.fileExists(atPath: scratch.file("run/checkpoints")), "\(result.transcript)")
        }

        @Test("the header says that dft from random weights trains next to nothing; sft and a warm-up do not get the note")
        func randomWeightsNote() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let (data, model) = try inputs(scratch)
            func header(_ flags: [String]) throws -> String {
                let result = try run([
                    "train", "--model", model, "--data", data, "--tokenizer", Prepare.tokenizer, "--template", "chatml",
                    "--skip-invalid", "--global-batch", "2", "--micro-batch", "1", "--steps", "1", "--max-length", "64",
                    "--threads", "1", "--out", scratch.file("run-\(flags.joined())"),
                ] + flags)
                try #require(result.succeeded, "\(result.transcript)")
                return result.output
            }
            #expect(try header(["--objective", "dft"]).contains("dft from random weights trains next to nothing"))
            #expect(try !header(["--objective", "sft"]).contains("from random weights"))
            #expect(try !header(["--objective", "dft", "--sft-warmup-steps", "1"]).contains("from random weights"))
        }

        @Test("a preset model (no tokenizer) given text data is told so, with the three ways out")
        func presetWithoutTokenizer() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let result = try run(["train", "--model", "tiny", "--steps", "1", "--threads", "1", "--out", scratch.file("run")])
            #expect(result.status == 1, "\(result.transcript)")
            for words in ["--model tiny is a preset (random weights) with no tokenizer", "arith-cot (built-in)",
                          "--data embedded", "pre-tokenized data", "--tokenizer DIR"] {
                #expect(result.output.contains(words), "missing '\(words)'\(result.transcript)")
            }
            #expect(!FileManager.default.fileExists(atPath: scratch.file("run")), "\(result.transcript)")
        }
    }
}
