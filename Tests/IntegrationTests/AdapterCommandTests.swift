import Foundation
import Testing

extension Integration {
    /// `--adapter DIR` on score and generate: a PEFT LoRA adapter (the fixtures of
    /// scripts/fixtures/make_lora_fixtures.py) merged into its base model; a bad one is named.
    @Suite("PEFT adapters on the command line")
    struct AdapterCommands {
        static let fixtures = RepositoryPaths.root.appendingPathComponent("Tests/DFTModelTests/Fixtures")
        static var base: String { fixtures.appendingPathComponent("qwen2-tied").path }
        static var adapter: String { fixtures.appendingPathComponent("lora/qwen2-tied-plain").path }

        func run(_ arguments: [String]) throws -> ProcessResult {
            try ChildProcess.run([try Tools.binary()] + arguments, environment: Tools.environment, seconds: 120)
        }

        @Test("score and generate take --adapter: other log-probabilities and completions than the base model's")
        func scoreAndGenerate() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = scratch.file("data.jsonl")
            try (0..<4).map { i in "{\"input_ids\": [\((0..<9).map { String(($0 * 7 + i * 13) % 96) }.joined(separator: ", "))], "
                + "\"loss_mask\": [0, 0, 0, 1, 1, 1, 1, 1, 1]}" }.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
            let plain = try run(["score", "--model", Self.base, "--data", data, "--out", scratch.file("base.h5"), "--threads", "1"])
            let adapted = try run(["score", "--model", Self.base, "--adapter", Self.adapter, "--data", data,
                                   "--out", scratch.file("adapted.h5"), "--threads", "1"])
            try #require(plain.succeeded && adapted.succeeded, "\(plain.transcript)\(adapted.transcript)")
            let a = try H5Py.dump(scratch.file("base.h5")).attributes["mean_nll"]?.double
            let b = try H5Py.dump(scratch.file("adapted.h5")).attributes["mean_nll"]?.double
            #expect(a != nil && b != nil && a != b, "mean NLL \(String(describing: a)) with and without the adapter")
            let generated = try run(["generate", "--model", Self.base, "--adapter", Self.adapter, "--data", data,
                                     "--out", scratch.file("g.jsonl"), "--temperature", "0", "--max-new-tokens", "8", "--threads", "1"])
            #expect(generated.succeeded && generated.output.contains("LoRA adapter"), "\(generated.transcript)")
        }

        @Test("an unsupported adapter is an error naming the file and the field")
        func unsupported() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let directory = scratch.file("dora")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.adapter + "/adapter_config.json")))
                as? [String: Any] ?? [:]
            config["use_dora"] = true
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: directory + "/adapter_config.json"))
            let data = scratch.file("data.jsonl")
            try "{\"input_ids\": [1, 2, 3]}\n".write(toFile: data, atomically: true, encoding: .utf8)
            let result = try run(["generate", "--model", Self.base, "--adapter", directory, "--data", data,
                                  "--out", scratch.file("g.jsonl"), "--max-new-tokens", "2"])
            #expect(result.status == 1 && result.output.contains("adapter_config.json, field \"use_dora\": is not supported"),
                    "\(result.transcript)")
        }
    }
}
