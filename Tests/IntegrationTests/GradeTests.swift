import Foundation
import Testing

extension Integration {
    /// `dft-mpi grade` as a user runs it: records written back with their verdicts, the
    /// accuracy printed, and a record without its fields named by file, line and field.
    @Suite("dft-mpi grade")
    struct GradeTests {
        func run(_ arguments: [String]) throws -> ProcessResult {
            try Tools.dftMPI(arguments, seconds: 60)
        }

        @Test("every record comes back as it was plus prediction and correct; the accuracy is printed")
        func grades() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = scratch.file("completions.jsonl")
            let lines = [
                #"{"index": 0, "sample": 0, "completion": "so $\\boxed{\\dfrac{3}{4}}$.", "answer": "0.75"}"#,
                #"{"index": 1, "sample": 0, "completion": "The answer is 5 cm.", "answer": 27.0}"#,
                #"{"index": 2, "sample": 0, "completion": "\\boxed{[1,2)}", "answer": ["$[1, 2)$"]}"#,
                #"{"index": 3, "sample": 0, "completion": "We get 72 clips.", "answer": "48/2 = 24\n#### 72"}"#,
            ]
            try lines.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
            let out = scratch.file("graded.jsonl")
            let result = try run(["grade", "--data", data, "--out", out])
            try #require(result.succeeded, "\(result.transcript)")
            #expect(result.stdout.contains("graded 4 records of \(data): 3 correct, accuracy 75.00% -> \(out)"), "\(result.transcript)")
            let written = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map(String.init)
            try #require(written.count == 4)
            for (line, original) in zip(written, lines) {
                #expect(line.hasPrefix(String(original.dropLast())), "\(line)")
            }
            let verdicts = try written.map { line -> (String, Bool) in
                let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                return (record["prediction"] as? String ?? "?", record["correct"] as? Bool ?? false)
            }
            #expect(verdicts.map(\.0) == ["\\frac{3}{4}", "5", "[1,2)", "72"])
            #expect(verdicts.map(\.1) == [true, false, true, true])
            #expect(!FileManager.default.fileExists(atPath: out + ".partial"))
        }

        @Test("a record without the completion or answer field is an error naming file, line and field")
        func missingFields() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = scratch.file("bad.jsonl")
            try "{\"completion\": \"\\\\boxed{1}\", \"answer\": \"1\"}\n\n{\"completion\": \"2\"}\n"
                .write(toFile: data, atomically: true, encoding: .utf8)
            let out = scratch.file("graded.jsonl")
            let failed = try run(["grade", "--data", data, "--out", out])
            #expect(failed.status != 0, "\(failed.transcript)")
            #expect(failed.stderr.contains("\(data), line 3, field \"answer\": expected the gold answer, but the field is missing"),
                    "\(failed.transcript)")
            #expect(!FileManager.default.fileExists(atPath: out) && !FileManager.default.fileExists(atPath: out + ".partial"))
            let renamed = try run(["grade", "--data", data, "--out", out, "--completion-field", "text"])
            #expect(renamed.stderr.contains("line 1, field \"text\": expected the completion text"), "\(renamed.transcript)")
        }
    }
}
