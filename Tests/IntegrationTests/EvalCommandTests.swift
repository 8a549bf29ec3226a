import Foundation
import Testing

extension Integration {
    /// `dft-mpi eval`: generate + grade over benchmark files; 1 rank = 2 ranks; a killed run
    /// resumed gives the same samples.jsonl and summary.json; bad input named.
    @Suite("dft-mpi eval")
    struct EvalCommandTests {
        /// summary.json without its `timing` part (tokens/s differ from run to run).
        static func scores(_ data: Data) throws -> NSDictionary {
            var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
            #expect(object["timing"] != nil)
            object["timing"] = nil
            return object as NSDictionary
        }

        func run(_ arguments: [String], ranks: Int = 1) throws -> ProcessResult {
            try Tools.dftMPI(arguments, ranks: ranks, seconds: 240)
        }

        /// Two small benchmark files of the MATH500 and GSM8K shapes.
        func benchmarks(_ scratch: Scratch) throws -> String {
            let math = (1...7).map { i in "{\"problem\": \"What is \(i) + \(i)?\", \"answer\": \"\(2 * i)\"}" }
            let gsm = (1...5).map { i in "{\"question\": \"Tom has \(i) apples and gets 3. How many?\", \"answer\": \"He has \(i) + 3 = \(i + 3).\\n#### \(i + 3)\"}" }
            let a = scratch.file("math.jsonl"), b = scratch.file("gsm8k.jsonl")
            try math.joined(separator: "\n").write(toFile: a, atomically: true, encoding: .utf8)
            try gsm.joined(separator: "\n").write(toFile: b, atomically: true, encoding: .utf8)
            return a + "," + b
        }

        /// The built-in byte-level demo model (random weights) writes text, so every completion
        /// is graded (mostly wrong; the point is the bookkeeping).
        static let model = ["--model", "demo", "--tokenizer", "byte", "--template", "plain", "--samples", "3",
                            "--max-new-tokens", "24", "--max-batch", "4", "--threads", "1", "--seed", "11"]

        @Test("1 process and mpirun -n 2 write the same samples.jsonl and summary.json; the summary holds every score")
        func ranks() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = try benchmarks(scratch)
            var outputs: [(Data, Data)] = []
            for ranks in [1, 2] {
                let out = scratch.file("eval-\(ranks)")
                let result = try run(["eval", "--data", data, "--out", out] + Self.model, ranks: ranks)
                try #require(result.succeeded, "\(result.transcript)")
                #expect(result.output.contains("avg@3") && result.output.contains("average"), "\(result.transcript)")
                outputs.append((try Data(contentsOf: URL(fileURLWithPath: out + "/samples.jsonl")),
                                try Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))))
            }
            #expect(outputs[0].0 == outputs[1].0)
            #expect(try Self.scores(outputs[0].1) == Self.scores(outputs[1].1))
            let summary = try #require(try JSONSerialization.jsonObject(with: outputs[0].1) as? [String: Any])
            let files = summary["files"] as? [[String: Any]] ?? []
            #expect(files.count == 2)
            #expect(files.map { $0["gold"] as? String } == ["answer", "answer after ####"])
            for file in files {
                for key in ["avg_at_n", "pass_at_n", "maj_at_n", "mean_completion_tokens", "length_limited_fraction"] {
                    #expect(file[key] is Double || file[key] is Int, "no \(key) in \(file)")
                }
                #expect((file["column_accuracy"] as? [Any])?.count == 3)
            }
            let samples = String(decoding: outputs[0].0, as: UTF8.self).split(separator: "\n")
            #expect(samples.count == (7 + 5) * 3)
            let first = try #require(try JSONSerialization.jsonObject(with: Data(samples[0].utf8)) as? [String: Any])
            for key in ["file", "gold", "prediction", "correct", "completion", "completion_ids", "finish_reason", "index", "sample"] {
                #expect(first[key] != nil, "samples.jsonl lacks \(key)")
            }
        }

        @Test("a killed eval, run again, writes the files of an uninterrupted one")
        func killedAndResumed() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = try benchmarks(scratch)
            let settings = Self.model.map { $0 == "24" ? "120" : $0 }
            let full = scratch.file("full"), cut = scratch.file("cut")
            try #require(try run(["eval", "--data", data, "--out", full] + settings).succeeded)
            let child = try ChildProcess([try Tools.binary(), "eval", "--data", data, "--out", cut] + settings,
                                         environment: Tools.environment)
            let part = cut + "/generations/math.jsonl.rank-0.part"
            GenerateTests.waitForLines(part, 4)
            kill(child.pid, SIGKILL)
            _ = child.wait(seconds: 30)
            let again = try run(["eval", "--data", data, "--out", cut] + settings)
            try #require(again.succeeded, "\(again.transcript)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: cut + "/samples.jsonl"))
                    == Data(contentsOf: URL(fileURLWithPath: full + "/samples.jsonl")))
            #expect(try Self.scores(Data(contentsOf: URL(fileURLWithPath: cut + "/summary.json")))
                    == Self.scores(Data(contentsOf: URL(fileURLWithPath: full + "/summary.json"))))
        }

        @Test("a record without a gold answer names the file, line and field; --skip-invalid counts it")
        func missingGold() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = scratch.file("bad.jsonl")
            try "{\"problem\": \"1+1?\", \"answer\": \"2\"}\n{\"problem\": \"2+2?\"}\n".write(toFile: data, atomically: true, encoding: .utf8)
            let failed = try run(["eval", "--data", data, "--out", scratch.file("e")] + Self.model)
            #expect(failed.status == 1 && failed.output.contains("\(data), line 2, field \"answer\": the record has no gold answer"),
                    "\(failed.transcript)")
            let skipped = try run(["eval", "--data", data, "--out", scratch.file("s"), "--skip-invalid"] + Self.model)
            #expect(skipped.succeeded && skipped.output.contains("1 problems (1 records skipped)"), "\(skipped.transcript)")
        }
    }
}
