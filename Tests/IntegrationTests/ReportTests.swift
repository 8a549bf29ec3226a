import Foundation
import Testing

extension Integration {
    /// scripts/report.py: the pictures of SFT beside DFT from their metrics.h5 files.
    @Suite("Report pictures")
    struct Report {
        static let script = RepositoryPaths.path("scripts/report.py")

        @Test("two runs with held-out evaluations give curves, held-out and before/after histogram PNGs and a page showing them")
        func sftBesideDFT() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let heldOut = scratch.file("held-out.jsonl")
            try (1...6).map { i in
                "{\"prompt\": \"Question: What is \(i) + \(i + 1)?\\nAnswer: \", \"response\": \"\(i) + \(i + 1) = \(2 * i + 1). \\\\boxed{\(2 * i + 1)}\", \"answer\": \"\(2 * i + 1)\"}"
            }.joined(separator: "\n").write(toFile: heldOut, atomically: true, encoding: .utf8)
            var runs: [String] = []
            for objective in ["sft", "dft"] {
                let out = scratch.file(objective)
                let result = try ChildProcess.run([try Tools.binary(), "train", "--model", "demo", "--data", "embedded", "--steps", "4",
                                                   "--global-batch", "4", "--micro-batch", "4", "--max-length", "128",
                                                   "--sft-warmup-steps", "0", "--objective", objective, "--threads", "1",
                                                   "--log-every", "2", "--tokenizer", "byte", "--template", "plain",
                                                   "--eval-data", heldOut, "--eval-every", "2", "--eval-generate", "1",
                                                   "--eval-max-new-tokens", "8", "--out", out],
                                                  environment: Tools.environment, seconds: 300)
                try #require(result.succeeded, "\(result.transcript)")
                runs.append(out)
            }
            let report = scratch.file("report")
            let drawn = try ChildProcess.run(["/usr/bin/python3", Self.script] + runs + ["--out", report], seconds: 300)
            try #require(drawn.succeeded, "\(drawn.transcript)")
            for name in ["curves.png", "heldout.png", "histograms.png"] {
                let data = try Data(contentsOf: URL(fileURLWithPath: report + "/" + name))
                #expect(data.count > 10_000 && data.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
                        "\(name): \(data.count) bytes, not a PNG picture")
            }
            let page = try String(contentsOfFile: report + "/index.html", encoding: .utf8)
            for needle in ["<img src=\"curves.png\"", "<img src=\"heldout.png\"", "<img src=\"histograms.png\"",
                           "<td>sft</td>", "<td>dft</td>", "held-out accuracy"] {
                #expect(page.contains(needle), "index.html lacks \(needle)")
            }
            let missing = try ChildProcess.run(["/usr/bin/python3", Self.script, scratch.file("nothing"), "--out", report], seconds: 60)
            #expect(!missing.succeeded && missing.output.contains("no metrics.h5"), "\(missing.transcript)")
        }
    }
}
