import Foundation
import Testing

extension Integration {
    /// `dft-mpi offline-rl` on the built-in base model and a few of its problems: two rounds end
    /// to end, a run killed in each stage and run again to the files of an uninterrupted one,
    /// 1 rank = 2 ranks for the kept set, and the errors of bad input.
    @Suite("dft-mpi offline-rl")
    struct OfflineRLTests {
        /// The first `count` records of a built-in file, copied to the scratch directory.
        static func subset(_ builtin: String, count: Int, in scratch: Scratch, name: String) throws -> String {
            let text = try String(contentsOfFile: RepositoryPaths.path("Sources/DFTBuiltin/Resources/arith-data/\(builtin)"),
                                  encoding: .utf8)
            let path = scratch.file(name)
            try (text.split(separator: "\n").prefix(count).joined(separator: "\n") + "\n")
                .write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        /// 12 problems x 2 answers, 2 training steps of 4 rows a round, a greedy evaluation on 16
        /// held-out problems: small enough for the debug build.
        static func arguments(_ scratch: Scratch, out: String, rounds: Int = 2, eval: Bool = true) throws -> [String] {
            let problems = try subset("finetune.jsonl", count: 12, in: scratch, name: "problems.jsonl")
            var arguments = ["offline-rl", "--model", "arith-base", "--problems", problems, "--template", "plain",
                             "--samples", "2", "--max-new-tokens", "48", "--max-batch", "4", "--rounds", "\(rounds)",
                             "--steps", "2", "--global-batch", "4", "--micro-batch", "2", "--max-length", "64",
                             "--lr", "1e-4", "--save-every", "1", "--threads", "1", "--seed", "3", "--out", out]
            if eval {
                let heldOut = try subset("heldout.jsonl", count: 16, in: scratch, name: "heldout.jsonl")
                arguments += ["--eval-data", heldOut, "--eval-generate", "1", "--eval-temperature", "0",
                              "--eval-max-new-tokens", "48"]
            }
            return arguments
        }

        func run(_ arguments: [String], ranks: Int = 1) throws -> ProcessResult {
            try Tools.dftMPI(arguments, ranks: ranks, seconds: 600)
        }

        static func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

        static func jsonLines(_ path: String) throws -> [[String: Any]] {
            try text(path).split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }

        /// The checksum of a checkpoint's weights (its /model group's attribute, read by h5py).
        static func weightsChecksum(_ checkpoint: String) throws -> String? {
            try CheckpointFile(checkpoint).root.group("model").attributes["checksum"]?.string
        }

        static func finalCheckpoint(_ out: String, round: Int) throws -> String {
            let object = try #require(try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: "\(out)/round-\(round)/trained.json"))) as? [String: Any])
            return try #require(object["checkpoint"] as? String)
        }

        /// What a finished run wrote that must not depend on how it got there: the answers with
        /// their verdicts, the kept sets, the counts, the final weights of each round and the
        /// summary (its run directory written as DIR).
        static func outcome(_ out: String, rounds: Int) throws -> [String] {
            var parts: [String] = []
            for round in 1...rounds {
                let directory = "\(out)/round-\(round)"
                for file in ["samples.jsonl", "kept.jsonl", "stats.json"] {
                    parts.append(try text("\(directory)/\(file)").replacingOccurrences(of: out, with: "DIR"))
                }
                parts.append(try weightsChecksum(try finalCheckpoint(out, round: round)) ?? "no checksum")
            }
            parts.append(try text("\(out)/summary.json").replacingOccurrences(of: out, with: "DIR"))
            return parts
        }

        @Test("two rounds: each stage's files agree with each other; a run killed in each stage, run again, ends as an uninterrupted one")
        func roundsAndResume() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let full = scratch.file("full")
            let result = try run(try Self.arguments(scratch, out: full))
            try #require(result.succeeded, "\(result.transcript)")

            for round in 1...2 {
                let directory = "\(full)/round-\(round)"
                let graded = try Self.jsonLines("\(directory)/samples.jsonl")
                let kept = try Self.jsonLines("\(directory)/kept.jsonl")
                let stats = try #require(try JSONSerialization.jsonObject(
                    with: Data(contentsOf: URL(fileURLWithPath: "\(directory)/stats.json"))) as? [String: Any])
                #expect(graded.count == 24 && stats["samples"] as? Int == 24)
                #expect(stats["correct"] as? Int == graded.filter { $0["correct"] as? Bool == true }.count)
                #expect(stats["kept"] as? Int == kept.count && !kept.isEmpty)
                // Every kept answer is a correct, uncut answer of its problem, with its prompt.
                let problems = try Self.jsonLines(scratch.file("problems.jsonl"))
                for record in kept {
                    let index = try #require(record["problem"] as? Int), sample = try #require(record["sample"] as? Int)
                    let answer = try #require(graded.first { $0["index"] as? Int == index && $0["sample"] as? Int == sample })
                    #expect(answer["correct"] as? Bool == true && answer["finish_reason"] as? String != "length")
                    #expect(record["response"] as? String == answer["completion"] as? String)
                    #expect(record["prompt"] as? String == problems[index]["prompt"] as? String)
                }
                let train = try Self.text("\(directory)/train/config.yaml")
                #expect(train.contains("data: \(directory)/kept.jsonl") && train.contains("objective: dft"))
                #expect(FileManager.default.fileExists(atPath: "\(directory)/train/metrics.h5"))
                #expect(FileManager.default.fileExists(atPath: "\(directory)/eval/summary.json"))
            }
            // Round 2 sampled from round 1's model and trained on from it.
            let first = try Self.finalCheckpoint(full, round: 1)
            let stats2 = try Self.text("\(full)/round-2/stats.json")
            #expect(stats2.contains(first), "\(stats2)")
            #expect(try Self.text("\(full)/round-2/train/config.yaml").contains("model: \(first)"))
            let summary = try Self.text("\(full)/summary.md")
            #expect(summary.contains("| 0 (base) |") && summary.contains("| 1 |") && summary.contains("| 2 |"), "\(summary)")
            #expect(result.stdout.contains("round 1 sampling") && result.stdout.contains("done: 2 rounds"), "\(result.transcript)")
            // A round's checkpoint reads text with the tokenizer of the run it came from.
            let scored = try run(["score", "--model", try Self.finalCheckpoint(full, round: 2), "--data",
                                  scratch.file("heldout.jsonl"), "--template", "plain", "--out", scratch.file("scores.h5")])
            #expect(scored.succeeded, "\(scored.transcript)")

            // The same command killed in each stage of round 1 and run again, then to the end.
            let cut = scratch.file("cut")
            let arguments = try Self.arguments(scratch, out: cut)
            let stages: [(name: String, reached: () -> Bool, notDone: String)] = [
                ("sampling", { GenerateTests.lineCount("\(cut)/round-1/generations.jsonl.rank-0.part") >= 3 },
                 "\(cut)/round-1/kept.jsonl"),
                ("training", { FileManager.default.fileExists(atPath: "\(cut)/round-1/train/checkpoints/\(checkpointName(step: 1))") },
                 "\(cut)/round-1/trained.json"),
                ("evaluation", { GenerateTests.lineCount("\(cut)/round-1/eval/generations/heldout.jsonl.rank-0.part") >= 2 },
                 "\(cut)/round-1/eval/summary.json"),
            ]
            var transcripts: [String] = []
            for stage in stages {
                let child = try ChildProcess([try Tools.binary()] + arguments, environment: Tools.environment)
                let deadline = Date().addingTimeInterval(300)
                while Date() < deadline && !stage.reached() { usleep(20_000) }
                kill(child.pid, SIGKILL)
                let killed = child.wait(seconds: 30)
                transcripts.append(killed.stdout)
                #expect(killed.signalled, "the \(stage.name) stage's run ended before the kill: \(killed.transcript)")
                #expect(!FileManager.default.fileExists(atPath: stage.notDone), "the kill came after the \(stage.name) stage")
            }
            let again = try run(arguments)
            try #require(again.succeeded, "\(again.transcript)")
            // The run after the training stage's kill went on from its checkpoint.
            #expect(transcripts[2].contains("resumed from \(cut)/round-1/train/checkpoints/"), "\(transcripts[2])")
            #expect(try Self.outcome(cut, rounds: 2) == Self.outcome(full, rounds: 2))
        }

        @Test("1 process and mpirun -n 2 sample, grade and keep the same answers")
        func ranks() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            var kept: [[String]] = []
            for ranks in [1, 2] {
                let out = scratch.file("ranks-\(ranks)")
                let result = try run(try Self.arguments(scratch, out: out, rounds: 1, eval: false), ranks: ranks)
                try #require(result.succeeded, "\(result.transcript)")
                kept.append(try ["samples.jsonl", "kept.jsonl", "stats.json"].map {
                    try Self.text("\(out)/round-1/\($0)").replacingOccurrences(of: out, with: "DIR")
                })
            }
            #expect(kept[0] == kept[1])
        }

        @Test("bad input: a problem without a gold answer (named; --skip-invalid counts it), no tokenizer, a round that keeps nothing")
        func errors() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            var arguments = try Self.arguments(scratch, out: scratch.file("a"), rounds: 1, eval: false)
            let problems = scratch.file("problems.jsonl")
            var lines = try Self.text(problems).split(separator: "\n").map(String.init)
            lines[4] = #"{"prompt": "Question: What is 1 + 1?\nAnswer:"}"#
            try (lines.joined(separator: "\n") + "\n").write(toFile: problems, atomically: true, encoding: .utf8)
            let failed = try run(arguments)
            #expect(failed.status == 1 && failed.output.contains("\(problems), line 5, field \"answer\""), "\(failed.transcript)")
            #expect(!FileManager.default.fileExists(atPath: scratch.file("a") + "/round-1/train"))

            arguments += ["--skip-invalid"]
            let skipped = try run(arguments.map { $0 == scratch.file("a") ? scratch.file("b") : $0 })
            try #require(skipped.succeeded, "\(skipped.transcript)")
            #expect(skipped.stdout.contains("11 problems") && skipped.stdout.contains("(1 records skipped)"), "\(skipped.transcript)")
            let stats = try Self.text(scratch.file("b") + "/round-1/stats.json")
            #expect(stats.contains("\"skipped_records\" : 1") && stats.contains("\"problems\" : 11"), "\(stats)")

            // A model without a tokenizer: the answers cannot be graded.
            let untokenized = try run(["offline-rl", "--model", "demo", "--problems", problems, "--out", scratch.file("c")])
            #expect(untokenized.status == 1 && untokenized.output.contains("needs a tokenizer"), "\(untokenized.transcript)")

            // One token per answer: nothing is right, nothing is kept, nothing is trained.
            let nothing = try run(arguments.map { $0 == scratch.file("a") ? scratch.file("d") : $0 == "48" ? "1" : $0 })
            #expect(nothing.status == 1 && nothing.output.contains("round 1 kept no answer")
                    && nothing.output.contains("--samples"), "\(nothing.transcript)")
            #expect(!FileManager.default.fileExists(atPath: scratch.file("d") + "/round-1/train"))
        }
    }
}
