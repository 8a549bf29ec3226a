import DFTCore
import DFTModel
import Foundation
import Testing

extension Integration {
    /// `train --lora-r`: adapters trained beside frozen weights behave like full fine-tuning
    /// across ranks and resumes, the weights stay bit-identical, and the checkpoint exports as
    /// a PEFT adapter or a merged model.
    @Suite("LoRA training")
    struct LoRATraining {
        static let lora = ["--lora-r", "4", "--lora-alpha", "8"]
        let base = TrainSettings().with { $0.extra = LoRATraining.lora }

        /// The fixture model's weights as every run starts from them (config.json, seed 7).
        static func initialWeights(_ model: ModelFixture) throws -> (ModelConfig, [Float]) {
            let data = try JSONSerialization.data(withJSONObject: model.json)
            let config = try JSONDecoder().decode(ModelConfig.self, from: data)
            let layout = ParameterLayout(config: config)
            let buffer = FloatBuffer(count: layout.count)
            try RandomInitialization(config: config, name: "fixture", seed: 7).loadParameters(into: buffer, layout: layout)
            return (config, buffer.array)
        }

        static func adapterCount(_ model: ModelFixture, r: Int = 4) throws -> Int {
            let (config, _) = try initialWeights(model)
            return LoRALayout(config: config, settings: LoRASettings(r: r, alpha: 8)).parameters.count
        }

        @Test("the weights stay bit-identical and the adapters move, on both fixtures", arguments: ModelFixture.allCases)
        func frozenBase(model: ModelFixture) throws {
            let dump = try RunCache.shared.dump(.plain, base.with { $0.model = model; $0.objective = "dft" })
            let (_, weights) = try Self.initialWeights(model)
            let adapters = try Self.adapterCount(model)
            expectWellFormed(dump, steps: base.steps, parameterCount: weights.count + adapters, "LoRA \(model)")
            let after = dump.parameters.prefix(weights.count).map { Float($0) }
            #expect(after.map(\.bitPattern) == weights.map(\.bitPattern), "\(model): the frozen weights changed")
            // B starts at zero (PEFT's initialisation) and must have been trained.
            #expect(dump.parameters.suffix(adapters).contains { $0 != 0 })
            #expect(dump.objective.first != dump.objective.last, "training changed nothing: \(dump.objective)")
        }

        @Test("2 and 4 ranks (ZeRO-1 on 4) give the single-process run: sft, asft (reference = the frozen base), dropout",
              arguments: [["--objective", "sft"], ["--objective", "asft"], ["--objective", "dft", "--lora-dropout", "0.2"]])
        func ranksReproduceOneProcess(flags: [String]) throws {
            let settings = base.with { $0.objective = flags[1]; $0.extra += Array(flags.dropFirst(2)) }
            let reference = try RunCache.shared.dump(.plain, settings)
            for (ranks, micro, zero) in [(2, 1, 0), (4, 2, 1)] {
                let dump = try RunCache.shared.dump(.mpirun(ranks: ranks), settings.with { $0.microBatch = micro; $0.zero = zero })
                expectEquivalent(dump, to: reference, "\(flags.joined(separator: " ")), \(ranks) ranks, zero \(zero)")
            }
        }

        @Test("dropout changes the run, and asft's KL term is zero at the start (reference = base = start)")
        func dropoutAndReference() throws {
            let plain = try RunCache.shared.dump(.plain, base.with { $0.objective = "dft" })
            let dropped = try RunCache.shared.dump(.plain, base.with { $0.objective = "dft"; $0.extra += ["--lora-dropout", "0.2"] })
            #expect(plain.objective.first == dropped.objective.first, "step 0's loss does not see dropout (B = 0)")
            #expect(plain.parameters != dropped.parameters, "dropout must change the trained adapters")
            let asft = try RunCache.shared.dump(.plain, base.with { $0.objective = "asft" })
            let sft = try RunCache.shared.dump(.plain, base.with { $0.objective = "sft" })
            #expect(asft.nll.first == sft.nll.first)
        }

        @Test("stopped and resumed, on 1 rank and on 2 ranks with ZeRO-1: the uninterrupted run")
        func exactResume() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let settings = base.with { $0.objective = "dft"; $0.steps = 6; $0.extra += ["--save-every", "0"] }
            let reference = try RunCache.shared.dump(.plain, settings)
            for (launch, zero) in [(Launch.plain, 0), (.mpirun(ranks: 2), 1)] {
                let out = scratch.file("resumed-\(launch.ranks)")
                let stopped = try TrainJob(.plain, settings.with { $0.extra += ["--debug-stop-at-step", "3"] }, in: scratch,
                                           outDirectory: out)
                let first = try stopped.run()
                try #require(first.stoppedEarly, "the stopped run must exit 75\(first.transcript)")
                let resumed = try TrainJob(launch, settings.with { $0.zero = zero }, in: scratch, outDirectory: out)
                let second = try resumed.run()
                try #require(second.succeeded, "\(second.transcript)")
                #expect(second.stdoutLines.contains(resumedLine(from: RunDirectory(path: out).checkpoint(step: 3), step: 3, of: 6)),
                        "\(second.transcript)")
                let joined = try stopped.dump().followed(by: try resumed.dump())
                if launch == .plain {
                    expectIdentical(joined, to: reference, "LoRA stopped at 3 and resumed on 1 rank")
                } else {
                    expectEquivalent(joined, to: reference, "LoRA stopped at 3 on 1 rank, resumed on 2 ranks with ZeRO-1")
                }
            }
        }

        @Test("resuming with other LoRA settings, or a full fine-tune as LoRA, is an error naming both")
        func mismatchedResume() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let out = scratch.file("run")
            let first = try TrainJob(.plain, base.with { $0.steps = 1 }, in: scratch, outDirectory: out).run()
            try #require(first.succeeded, "\(first.transcript)")
            let other = try TrainJob(.plain, base.with { $0.steps = 2; $0.extra = ["--lora-r", "2", "--lora-alpha", "8"] },
                                     in: scratch, outDirectory: out).run()
            #expect(!other.succeeded && other.output.contains("r 4") && other.output.contains("r 2"), "\(other.transcript)")
            let full = try TrainJob(.plain, base.with { $0.steps = 2; $0.extra = [] }, in: scratch, outDirectory: out).run()
            #expect(!full.succeeded && full.output.contains("LoRA adapters (r 4)"), "\(full.transcript)")
        }

        @Test("export writes a PEFT adapter (names, shapes, config) and --merge the merged model; score reads the checkpoint")
        func exportAndScore() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let job = try TrainJob(.plain, base.with { $0.model = .llama; $0.extra += ["--lora-targets", "q_proj,v_proj,down_proj"] },
                                   in: scratch)
            let trained = try job.run()
            try #require(trained.succeeded, "\(trained.transcript)")
            let checkpoint = RunDirectory(path: job.outDirectory).checkpoint(step: base.steps)
            let binary = try Tools.binary()
            func run(_ arguments: [String]) throws -> ProcessResult {
                try ChildProcess.run([binary] + arguments, environment: Tools.environment, seconds: 120)
            }
            let adapterDirectory = scratch.file("adapter"), mergedDirectory = scratch.file("merged")
            let exported = try run(["export", checkpoint, "--out", adapterDirectory, "--dtype", "fp32"])
            let merged = try run(["export", checkpoint, "--out", mergedDirectory, "--dtype", "fp32", "--merge"])
            try #require(exported.succeeded && merged.succeeded, "\(exported.transcript)\(merged.transcript)")

            // peft's format, as this project's reader of peft's files sees it.
            let adapter = try PEFTAdapter(directory: adapterDirectory)
            #expect(adapter.r == 4 && adapter.alpha == 8 && adapter.targets == ["q_proj", "v_proj", "down_proj"])
            let file = try SafetensorsFile(path: adapterDirectory + "/adapter_model.safetensors")
            #expect(file.tensors["base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"]?.shape == [16, 4])
            #expect(file.tensors["base_model.model.model.layers.0.mlp.down_proj.lora_A.weight"]?.shape == [4, 48])
            #expect(file.names.count == 2 * 3 * 2)
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: adapterDirectory
                + "/adapter_config.json"))) as? [String: Any] ?? [:]
            #expect(json["peft_type"] as? String == "LORA" && json["task_type"] as? String == "CAUSAL_LM"
                    && json["bias"] as? String == "none" && json["use_rslora"] as? Bool == false)

            // --merge = the base (from the run's --model) + scaling * B A from the exported adapter.
            let (config, weights) = try Self.initialWeights(.llama)
            let layout = ParameterLayout(config: config)
            let expected = FloatBuffer(count: layout.count)
            expected.pointer.update(from: weights, count: weights.count)
            try adapter.factors(for: config).merge(into: expected, layout: layout)
            let mergedWeights = FloatBuffer(count: layout.count)
            try HuggingFaceDirectory(path: mergedDirectory).loadParameters(into: mergedWeights, layout: layout)
            #expect(mergedWeights.array == expected.array, "export --merge differs from base + adapter")
            #expect(mergedWeights.array != weights, "the merged model must differ from the base")

            // score --model CKPT merges the same way; --model BASE --adapter EXPORTED too.
            let data = try DataFixture.write(in: scratch)
            let fromCheckpoint = try run(["score", "--model", checkpoint, "--data", data, "--out", scratch.file("a.h5"), "--threads", "1"])
            let fromAdapter = try run(["score", "--model", mergedDirectory, "--data", data, "--out", scratch.file("b.h5"), "--threads", "1"])
            try #require(fromCheckpoint.succeeded && fromAdapter.succeeded, "\(fromCheckpoint.transcript)\(fromAdapter.transcript)")
            let a = try H5Py.dump(scratch.file("a.h5")).attributes["mean_nll"]?.double
            let b = try H5Py.dump(scratch.file("b.h5")).attributes["mean_nll"]?.double
            #expect(a != nil && a == b, "mean NLL from the checkpoint \(String(describing: a)), from the merged export \(String(describing: b))")

            // --merge of a full fine-tune is refused.
            let fullJob = try TrainJob(.plain, TrainSettings().with { $0.steps = 1 }, in: scratch)
            try #require(try fullJob.run().succeeded)
            let refused = try run(["export", RunDirectory(path: fullJob.outDirectory).checkpoint(step: 1), "--merge",
                                   "--out", scratch.file("refused")])
            #expect(!refused.succeeded && refused.output.contains("--merge merges LoRA adapters"), "\(refused.transcript)")
        }

        /// --lora-adapter: the run starts from the fixture's peft adapter, so its first step's
        /// loss is the adapted model's, as `score --adapter` measures it on the same rows.
        @Test("--lora-adapter starts from a PEFT adapter: step 0's NLL is score --adapter's, and its settings are the run's")
        func startFromAdapter() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let data = scratch.file("data.jsonl")
            try (0..<8).map { i in "{\"input_ids\": [\((0..<9).map { String(($0 * 7 + i * 13) % 96) }.joined(separator: ", "))], "
                + "\"loss_mask\": [0, 0, 0, 1, 1, 1, 1, 1, 1]}" }.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
            let base = AdapterCommands.base, adapter = AdapterCommands.adapter
            let binary = try Tools.binary()
            let out = scratch.file("run")
            let trained = try ChildProcess.run([binary, "train", "--model", base, "--data", data, "--lora-adapter", adapter,
                                                "--steps", "1", "--global-batch", "8", "--micro-batch", "8", "--max-length", "9",
                                                "--objective", "sft", "--threads", "1", "--log-every", "1", "--out", out,
                                                "--debug-dump", scratch.file("dump.json")],
                                               environment: Tools.environment, seconds: 120)
            try #require(trained.succeeded, "\(trained.transcript)")
            #expect(trained.output.contains("lora:   r 4, alpha 8.0") && trained.output.contains("from \(adapter)"), "\(trained.transcript)")
            let scored = try ChildProcess.run([binary, "score", "--model", base, "--adapter", adapter, "--data", data,
                                               "--out", scratch.file("s.h5"), "--threads", "1"],
                                              environment: Tools.environment, seconds: 120)
            try #require(scored.succeeded, "\(scored.transcript)")
            let expected = try #require(try H5Py.dump(scratch.file("s.h5")).attributes["mean_nll"]?.double)
            let nll = try DebugDump(path: scratch.file("dump.json")).nll
            #expect(nll.count == 1 && abs(nll[0] - expected) <= 1e-5 * abs(expected), "step 0 NLL \(nll), score --adapter \(expected)")
            let wrongRank = try ChildProcess.run([binary, "train", "--model", base, "--data", data, "--lora-adapter", adapter,
                                                  "--lora-r", "8", "--steps", "1", "--global-batch", "8", "--micro-batch", "8",
                                                  "--max-length", "9", "--out", scratch.file("x")],
                                                 environment: Tools.environment, seconds: 60)
            #expect(!wrongRank.succeeded && wrongRank.output.contains("'lora_r' is 8 but 'lora_adapter'"), "\(wrongRank.transcript)")
        }
    }
}
