import DFTBuiltin
import DFTDecode
import DFTRuntime
import Foundation
import Testing
@testable import DFTTrain

@Suite("Configuration")
struct TrainConfigTests {
    func writeYAML(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "dft-config-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("Defaults are the paper's recipe")
    func recipeDefaults() throws {
        let c = try TrainConfig.resolve(layers: [["data": "x.jsonl"]])
        #expect(c.lr == 5e-5 && c.beta1 == 0.9 && c.beta2 == 0.95 && c.weightDecay == 0.01)
        #expect(c.clip == 1.0 && c.warmupRatio == 0.1 && c.schedule == .cosine && c.objective == .dft)
        #expect(c.globalBatch == 256)
    }

    @Test("No settings: the built-in half-trained base, demonstrations and held-out problems, with the demo settings, which the user can still override")
    func demoLayer() throws {
        let demo = try TrainConfig.resolve(layers: [[:]])
        // The half-trained base: a demo whose held-out accuracy has room to move.
        #expect(demo.model == BuiltinAssets.path(of: "arith-base-half"))
        #expect(demo.data == BuiltinAssets.path(of: "arith-cot"))
        #expect(demo.evalData == BuiltinAssets.path(of: "arith-heldout"))
        #expect(demo.objective == .dft && demo.sftWarmupSteps == 0 && demo.template == .plain)
        #expect(demo.evalGenerate == TrainConfig.demoSettings["eval_generate"] as? Int)
        #expect(demo.lr == TrainConfig.demoSettings["lr"] as? Double)
        #expect(demo.maxLength == TrainConfig.demoSettings["max_length"] as? Int)
        let overridden = try TrainConfig.resolve(layers: [["lr": 0.5, "eval_data": "mine.jsonl"]])
        #expect(overridden.lr == 0.5 && overridden.evalData == "mine.jsonl")
        #expect(overridden.maxLength == TrainConfig.demoSettings["max_length"] as? Int)
        // The byte-level set of the random-init preset brings its own layer (SFT warm-up).
        let embedded = try TrainConfig.resolve(layers: [["model": "demo", "data": "embedded"]])
        #expect(embedded.model == "demo" && embedded.data == "embedded" && embedded.evalData.isEmpty)
        #expect(embedded.sftWarmupSteps == TrainConfig.embeddedSettings["sft_warmup_steps"] as? Int)
        #expect(embedded.lr == TrainConfig.embeddedSettings["lr"] as? Double)
    }

    @Test("YAML is read, and flags win over it")
    func yamlThenFlags() throws {
        let path = try writeYAML("""
            data: train.jsonl
            lr: 1e-4
            global_batch: 64
            objective: sft
            packing: true
            """)
        let yaml = try TrainConfig.layer(fromYAMLFile: path)
        let c = try TrainConfig.resolve(layers: [yaml, ["objective": "dft"]])
        #expect(c.lr == 1e-4)
        #expect(c.globalBatch == 64)
        #expect(c.objective == .dft)
        #expect(c.packing)
        #expect(c.data == "train.jsonl")
    }

    @Test("An unknown key is an error naming the file, the key and the likely intended key")
    func unknownKey() throws {
        let path = try writeYAML("global-batch: 64\n")
        #expect {
            _ = try TrainConfig.layer(fromYAMLFile: path)
        } throws: { error in
            let text = "\(error)"
            return text.contains(path) && text.contains("'global-batch'") && text.contains("global_batch")
        }
    }

    @Test("A value of the wrong type is an error naming the key")
    func wrongType() throws {
        #expect {
            _ = try TrainConfig.resolve(layers: [["global_batch": "lots"]])
        } throws: { error in "\(error)".contains("global_batch") && "\(error)".contains("integer") }
    }

    @Test("Out-of-range values are errors naming the key", arguments: [
        "lr", "objective", "warmup_ratio", "micro_batch", "schedule", "min_lr", "clip", "recompute",
        "lora_r", "lora_alpha", "lora_dropout", "lora_targets",
    ])
    func outOfRange(key: String) throws {
        let bad: [String: Any] = ["lr": -1.0, "objective": "ce", "warmup_ratio": 2.0, "micro_batch": 0,
                                  "schedule": "linear", "min_lr": 1.0, "clip": -1.0, "recompute": "all",
                                  "lora_r": -1, "lora_alpha": 0.0, "lora_dropout": 1.0, "lora_targets": "q_proj,lm_head"]
        #expect {
            _ = try TrainConfig.resolve(layers: [[key: bad[key]!]])
        } throws: { error in "\(error)".contains("'\(key)'") }
    }

    @Test("The resolved YAML reads back to the same configuration")
    func roundTrip() throws {
        let c = try TrainConfig.resolve(layers: [["data": "a.jsonl", "lr": 3e-5, "packing": true, "steps": 7]])
        let path = try writeYAML(try c.yaml())
        let back = try TrainConfig.resolve(layers: [try TrainConfig.layer(fromYAMLFile: path)])
        #expect(back == c)
    }

    @Test("every config in jobs/configs resolves; the LoRA one is the paper's r 8, alpha 16")
    func shippedConfigs() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("jobs/configs").path
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(names.count >= 3, "\(names)")
        for name in names {
            _ = try TrainConfig.resolve(layers: [try TrainConfig.layer(fromYAMLFile: directory + "/" + name)], source: name)
        }
        let lora = try TrainConfig.resolve(layers: [try TrainConfig.layer(fromYAMLFile: directory + "/qwen2.5-math-1.5b-dft-lora.yaml")])
        #expect(lora.loraR == 8 && lora.loraAlpha == 16 && lora.loraTargets == "all-linear" && lora.objective == .dft)
    }

    /// A value unlike `value`, of its type.
    static func changed(_ value: Any) -> Any {
        switch value {
        case let flag as Bool: return !flag
        case let integer as Int: return integer + 3
        case let number as Double: return number / 2 + 0.25
        case let choice as any SettingChoice:
            return type(of: choice).choices.first { $0 != choice.rawValue } ?? choice.rawValue
        default: return "\(value)-changed"
        }
    }

    @Test("Every setting is read from its snake_case key by the one naming rule, and only that setting changes")
    func everyKeyIsRead() throws {
        let defaults = TrainConfig()
        #expect(TrainConfig.keys.count == Set(TrainConfig.keys).count, "a key is used twice")
        for (key, value) in defaults.settings {
            let wanted = Self.changed(value)
            let read = try TrainConfig.decode(layer: [key: wanted])
            for (otherKey, otherValue) in read.settings {
                let shown = "\(SettingName.layerValue(otherValue))"
                if otherKey == key {
                    #expect(shown == "\(wanted)", "\(key): read \(shown), wanted \(wanted)")
                } else {
                    let before = defaults.settings.first { $0.key == otherKey }.map { "\(SettingName.layerValue($0.value))" }
                    #expect(shown == before, "setting \(key) changed \(otherKey)")
                }
            }
        }
    }

    @Test("An unknown value of a setting with fixed choices names the key and lists the choices",
          arguments: ["objective", "loss_normalization", "optimizer", "schedule", "recompute", "template", "format"])
    func unknownChoice(key: String) throws {
        #expect {
            _ = try TrainConfig.resolve(layers: [[key: "nonsense"]])
        } throws: { error in
            let text = "\(error)"
            return text.contains("'\(key)' (\(SettingName.flag(key))) must be one of") && text.contains("got 'nonsense'")
        }
    }

    @Test("A configuration saved before a setting existed (a checkpoint's config_yaml) reads with that setting's default")
    func olderYAML() throws {
        var lines = try TrainConfig.resolve(layers: [["data": "a.jsonl", "lr": 3e-5]]).yaml().split(separator: "\n")
        lines.removeAll { $0.hasPrefix("eval_top_k:") }
        let read = try TrainConfig.decode(yaml: lines.joined(separator: "\n"))
        #expect(read.evalTopK == 0 && read.lr == 3e-5)
    }

    @Test("Eval sampling is the generators' SamplingSettings: temperature, top-p, top-k, the run's seed")
    func evalSampling() throws {
        let c = try TrainConfig.resolve(layers: [["eval_temperature": 0.7, "eval_top_p": 0.9, "eval_top_k": 20, "seed": 5]])
        let s = c.evaluation.sampling(seed: c.seed)
        #expect(s.temperature == 0.7 && s.topP == 0.9 && s.topK == 20 && s.seed == 5)
    }
}
