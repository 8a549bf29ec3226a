import Foundation
import Testing

extension Integration {
    /// `dft-mpi generate` as a user runs it: the same file from 1, 2 and 4 ranks, greedy output
    /// equal to transformers' greedy generate, a killed run resumed to the uninterrupted file,
    /// and bad input named by file, line and field.
    @Suite("dft-mpi generate")
    struct GenerateTests {
        static let fixtures = RepositoryPaths.root.appendingPathComponent("Tests/DFTDecodeTests/Fixtures")
        static var qwen: String { fixtures.appendingPathComponent("qwen2").path }

        func run(_ arguments: [String], ranks: Int = 1) throws -> ProcessResult {
            try Tools.dftMPI(arguments, ranks: ranks, seconds: 180)
        }

        /// Pre-tokenized prompts of 3 to 40 random ids below 256 (the fixture's vocabulary).
        func prompts(_ scratch: Scratch, count: Int = 13) throws -> String {
            var state: UInt64 = 17
            func next(_ bound: Int) -> Int {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Int((state >> 33) % UInt64(bound))
            }
            let lines = (0..<count).map { _ in
                "{\"input_ids\": [" + (0..<(3 + next(38))).map { _ in String(next(256)) }.joined(separator: ", ") + "]}"
            }
            let path = scratch.file("prompts.jsonl")
            try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        /// Lines of a file that may not exist yet.
        static func lineCount(_ path: String) -> Int {
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count
        }

        /// Waits (at most a minute) until a running generate has saved `lines` samples to `part`.
        static func waitForLines(_ part: String, _ lines: Int) {
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline && lineCount(part) < lines { usleep(20_000) }
        }

        static let sampling = ["--samples", "3", "--max-new-tokens", "24", "--max-batch", "4", "--temperature", "1",
                               "--top-p", "0.95", "--seed", "5", "--threads", "1"]

        @Test("1 process, mpirun -n 2 and -n 4 write the same file; one line per (record, sample), sorted")
        func ranksWriteTheSameFile() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = try prompts(scratch)
            var files: [Data] = []
            for ranks in [1, 2, 4] {
                let out = scratch.file("out-\(ranks).jsonl")
                let result = try run(["generate", "--model", Self.qwen, "--data", data, "--out", out] + Self.sampling, ranks: ranks)
                try #require(result.succeeded, "\(result.transcript)")
                files.append(try Data(contentsOf: URL(fileURLWithPath: out)))
                #expect(!FileManager.default.fileExists(atPath: out + ".rank-0.part"), "part files are merged away")
            }
            #expect(files[0] == files[1] && files[0] == files[2])
            let lines = String(decoding: files[0], as: UTF8.self).split(separator: "\n")
            #expect(lines.count == 13 * 3)
            var previous = (-1, -1)
            for line in lines {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let key = (object["index"] as? Int ?? -1, object["sample"] as? Int ?? -1)
                #expect(key > previous)
                previous = key
                let ids = object["completion_ids"] as? [Int] ?? []
                #expect(object["tokens"] as? Int == ids.count)
                let reason = object["finish_reason"] as? String
                #expect(reason == "length" ? ids.count == 24 : reason == "eos" && ids.last == 2)
            }
        }

        @Test("greedy generate equals transformers' greedy generate token for token")
        func greedyMatchesTransformers() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures
                .appendingPathComponent("qwen2/expected.json"))) as? [String: Any] ?? [:]
            let prompts = expected["prompts"] as? [[Int]] ?? []
            let greedy = expected["greedy"] as? [[Int]] ?? []
            try #require(prompts.count == 5 && greedy.count == 5)
            let data = scratch.file("prompts.jsonl")
            try prompts.map { "{\"input_ids\": \($0)}" }.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
            let out = scratch.file("greedy.jsonl")
            // The fixture's greedy paths run through EOS (id 2), as transformers did with EOS off:
            // compare up to the first EOS, which ends ours.
            let result = try run(["generate", "--model", Self.qwen, "--data", data, "--out", out, "--temperature", "0",
                                  "--max-new-tokens", "32", "--max-batch", "3", "--threads", "2"])
            try #require(result.succeeded, "\(result.transcript)")
            let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
            try #require(lines.count == 5)
            for (i, line) in lines.enumerated() {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let ours = object["completion_ids"] as? [Int] ?? []
                let theirs = Array(greedy[i].prefix { $0 != 2 }) + (greedy[i].contains(2) ? [2] : [])
                #expect(ours == Array(theirs.prefix(32)), "prompt \(i)")
            }
        }

        @Test("a killed generate, run again, writes the file of an uninterrupted run")
        func killedAndResumed() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = try prompts(scratch)
            let settings = ["--samples", "8", "--max-new-tokens", "160", "--max-batch", "4", "--threads", "1", "--seed", "9"]
            let full = scratch.file("full.jsonl"), cut = scratch.file("cut.jsonl")
            try #require(try run(["generate", "--model", Self.qwen, "--data", data, "--out", full] + settings).succeeded)
            // Kill -9 once some samples are saved, well before the end.
            let child = try ChildProcess([try Tools.binary(), "generate", "--model", Self.qwen, "--data", data, "--out", cut]
                                         + settings, environment: Tools.environment)
            let part = cut + ".rank-0.part"
            Self.waitForLines(part, 5)
            kill(child.pid, SIGKILL)
            _ = child.wait(seconds: 30)
            let saved = Self.lineCount(part)
            #expect(saved >= 5 && saved < 13 * 8, "the kill came at \(saved) saved samples")
            let again = try run(["generate", "--model", Self.qwen, "--data", data, "--out", cut] + settings)
            try #require(again.succeeded, "\(again.transcript)")
            #expect(again.output.contains("samples already in"), "\(again.transcript)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: cut)) == Data(contentsOf: URL(fileURLWithPath: full)))
        }

        @Test("SIGTERM (1 process) or SIGUSR1 to mpirun (2 ranks) stops generate after the current sample with exit 75; the same command finishes the file",
              arguments: [1, 2])
        func stoppedBySignal(ranks: Int) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = try prompts(scratch)
            let settings = ["--samples", "8", "--max-new-tokens", "160", "--max-batch", "4", "--threads", "1", "--seed", "3"]
            let full = scratch.file("full.jsonl"), cut = scratch.file("cut.jsonl")
            try #require(try run(["generate", "--model", Self.qwen, "--data", data, "--out", full] + settings).succeeded)
            var command = [try Tools.binary(), "generate", "--model", Self.qwen, "--data", data, "--out", cut] + settings
            if ranks > 1 { command = [try Tools.mpirun(), "-n", "\(ranks)", "--oversubscribe", "--bind-to", "none"] + command }
            let child = try ChildProcess(command, environment: Tools.environment)
            let part = cut + ".rank-0.part"
            Self.waitForLines(part, 3)
            // mpirun passes SIGUSR1 on to the ranks (SIGTERM would make it end them at once).
            kill(child.pid, ranks > 1 ? SIGUSR1 : SIGTERM)
            let stopped = child.wait(seconds: 60)
            #expect(stopped.status == 75, "\(stopped.transcript)")
            #expect(stopped.output.contains("run the same command to continue"), "\(stopped.transcript)")
            #expect(!FileManager.default.fileExists(atPath: part), "the parts are merged into the output on a stop")
            let saved = try String(contentsOfFile: cut, encoding: .utf8).split(separator: "\n").count
            #expect(saved >= 3 && saved < 13 * 8, "\(saved) samples saved at the stop")
            let again = try run(["generate", "--model", Self.qwen, "--data", data, "--out", cut] + settings)
            try #require(again.succeeded, "\(again.transcript)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: cut)) == Data(contentsOf: URL(fileURLWithPath: full)))
        }

        @Test("bad input: a record without a prompt (file, line, field; or skipped and counted), too long for the model, an empty file")
        func badInput() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = scratch.file("bad.jsonl")
            try "{\"input_ids\": [1, 2, 3]}\n\n{\"answer\": \"4\"}\n{\"input_ids\": [5]}\n"
                .write(toFile: data, atomically: true, encoding: .utf8)
            let out = scratch.file("out.jsonl")
            let failed = try run(["generate", "--model", Self.qwen, "--data", data, "--out", out, "--max-new-tokens", "4"])
            #expect(failed.status == 1, "\(failed.transcript)")
            #expect(failed.output.contains("\(data), line 3, field \"prompt/problem/question\": the record has no prompt"),
                    "\(failed.transcript)")
            let skipped = try run(["generate", "--model", Self.qwen, "--data", data, "--out", out, "--max-new-tokens", "4",
                                   "--skip-invalid"])
            #expect(skipped.succeeded, "\(skipped.transcript)")
            #expect(skipped.output.contains("2 prompts (1 records skipped)"), "\(skipped.transcript)")
            #expect(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count == 2)

            let long = try run(["generate", "--model", Self.qwen, "--data", data, "--out", scratch.file("long.jsonl"),
                                "--max-new-tokens", "510", "--skip-invalid"])
            #expect(long.status == 1, "\(long.transcript)")
            #expect(long.output.contains("the prompt has 3 tokens; with max_new_tokens 510 that is 513 positions, more than "
                                         + "the model's max_position_embeddings 512"), "\(long.transcript)")
            let empty = scratch.file("empty.jsonl")
            try "\n\n".write(toFile: empty, atomically: true, encoding: .utf8)
            let none = try run(["generate", "--model", Self.qwen, "--data", empty, "--out", scratch.file("e.jsonl")])
            #expect(none.status == 1 && none.output.contains("\(empty): holds no records"), "\(none.transcript)")
        }
    }
}
