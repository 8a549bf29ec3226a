import Foundation
import Testing

extension Integration {
    /// `dft-mpi prepare`: 1 rank and 2 ranks write the same file, a bad line stops it with the
    /// file and the line, and training on the prepared file is training on the JSONL.
    @Suite("dft-mpi prepare")
    struct PrepareTests {
        static let tokenizer = RepositoryPaths.path("Tests/DFTDataTests/Fixtures/tokenizers/qwen2")

        static let lines = [
            #"{"prompt": "What is 2+3?", "response": "2+3 = 5. \\boxed{5}"}"#,
            #"{"prompt": "Hi", "response": "Hello there, how can I help?"}"#,
            #"{"prompt": "bad", "answer": "no response field"}"#,
            #"{"prompt": "Name a colour", "response": "Blue."}"#,
            "",
            #"{"prompt": "Say something long", "response": "Something longer than the others, with numbers 12345."}"#,
            #"{"prompt": "Count", "response": "one two three four"}"#,
            #"{"prompt": "Last", "response": "The end."}"#,
        ]

        static var model: [String: Any] { [
            "architectures": ["Qwen2ForCausalLM"], "hidden_size": 32, "intermediate_size": 48,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 4000,
            "tie_word_embeddings": true,
        ] }

        func run(_ arguments: [String], ranks: Int = 1) throws -> ProcessResult {
            try Tools.dftMPI(arguments, ranks: ranks, seconds: 120)
        }

        func prepare(_ data: String, _ out: String, ranks: Int, skipInvalid: Bool = true) throws -> ProcessResult {
            try run(["prepare", "--data", data, "--tokenizer", Self.tokenizer, "--template", "chatml", "--out", out]
                    + (skipInvalid ? ["--skip-invalid"] : []), ranks: ranks)
        }

        @Test("1 rank and 2 ranks write identical files; the bad line is counted")
        func oneAndTwoRanks() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = scratch.file("data.jsonl")
            try Self.lines.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
            let one = try prepare(data, scratch.file("one.h5"), ranks: 1)
            try #require(one.succeeded, "\(one.transcript)")
            let two = try prepare(data, scratch.file("two.h5"), ranks: 2)
            try #require(two.succeeded, "\(two.transcript)")
            let a = try H5Py.dump(scratch.file("one.h5")), b = try H5Py.dump(scratch.file("two.h5"))
            #expect(a.attributes["examples"]?.int == 6 && a.attributes["skipped"]?.int == 1)
            #expect(a.attributes["format"]?.string == "dft-mpi-prepared" && a.attributes["format_version"]?.int == 1)
            #expect(a.attributes["skipped_reasons"]?.string?.contains("first at line 3") == true)
            for name in ["input_ids", "loss_mask", "offsets"] {
                let x = try a.dataset(name), y = try b.dataset(name)
                #expect(x.ints == y.ints && x.dtype == y.dtype, "\(name)")
            }
            #expect(try a.dataset("offsets").ints?.count == 7)
            for key in a.attributes.keys.sorted() {
                #expect(a.attributes[key]?.string == b.attributes[key]?.string && a.attributes[key]?.int == b.attributes[key]?.int,
                        "attribute \(key)")
            }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
            #expect(leftovers == ["data.jsonl", "one.h5", "two.h5"])
        }

        @Test("A bad line without --skip-invalid fails on 1 and 2 ranks, naming the file and the line")
        func badLine() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = scratch.file("data.jsonl")
            try Self.lines.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
            for ranks in [1, 2] {
                let result = try prepare(data, scratch.file("out.h5"), ranks: ranks, skipInvalid: false)
                #expect(!result.succeeded)
                #expect(result.transcript.contains("\(data), line 3, field \"response\""), "\(result.transcript)")
                #expect(!FileManager.default.fileExists(atPath: scratch.file("out.h5")))
            }
        }

        @Test("Two training steps on the prepared file give the JSONL's losses exactly")
        func trainOnPrepared() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = scratch.file("data.jsonl")
            try Self.lines.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
            let model = scratch.file("config.json")
            try JSONSerialization.data(withJSONObject: Self.model).write(to: URL(fileURLWithPath: model))
            try #require(try prepare(data, scratch.file("data.h5"), ranks: 1).succeeded)
            func train(_ data: String, _ name: String) throws -> DebugDump {
                let dump = scratch.file("\(name).json")
                let result = try run([
                    "train", "--model", model, "--data", data, "--tokenizer", Self.tokenizer, "--template", "chatml",
                    "--skip-invalid", "--objective", "dft", "--global-batch", "2", "--micro-batch", "1", "--steps", "2",
                    "--max-length", "64", "--lr", "0.01", "--warmup-ratio", "0", "--seed", "7", "--threads", "1",
                    "--out", scratch.file(name), "--debug-dump", dump,
                ])
                try #require(result.succeeded, "\(result.transcript)")
                return try DebugDump(path: dump)
            }
            let jsonl = try train(data, "jsonl")
            let prepared = try train(scratch.file("data.h5"), "prepared")
            #expect(jsonl.steps == 2)
            #expect(prepared.objective == jsonl.objective)
            #expect(prepared.tokens == jsonl.tokens)
            #expect(prepared.parameters == jsonl.parameters)
        }
    }
}
