import DFTCore
import Foundation
import Numerics
import Testing
@testable import DFTModel

/// Models made and run by transformers (Tests/DFTModelTests/Fixtures, written by
/// scripts/fixtures/make_parity_fixtures.py), loaded through `HuggingFaceDirectory` and run
/// by our Transformer on the same two sequences: logits, the sft and dft losses and their
/// gradients must match what transformers computed.
@Suite("Parity with transformers", .serialized)
struct ParityTests {
    @Test("logits, losses and gradients match transformers", arguments: ParityFixtures.recorded)
    func parity(name: String) throws {
        let expected = try ParityFixtures.Expectation(name)
        let rowLength = expected.sequences.map(\.tokens.count).max()!
        let (model, report) = try ParityFixtures.load(name, rows: 2, rowLength: rowLength)
        #expect(report.tensorsLoaded == model.layout.entries.count)
        #expect(report.ignoredTensors.isEmpty)
        #expect(report.files.count == 1)

        // Transformers ran each sequence alone; here they are rows of one batch, the shorter
        // padded; the logits of their real positions, in the fixture's order.
        let (batch, slots) = expected.batch()
        model.forward(batch)
        let logits = model.logits(slots: slots)
        let referenceLogits = try expected.tensors.floats("logits")
        let logitError = maxDifference(logits, referenceLogits)
        #expect(logitError.abs <= 1e-4, "\(name): logits differ by \(logitError.abs)")

        let n = expected.trainedTokens
        var worstGradient: (relative: Float, tensor: String) = (0, "")
        var lossErrors: [Double] = []
        for (objective, referenceLoss) in [(Objective.sft, expected.sftLoss), (.dft, expected.dftLoss)] {
            model.gradients.zero()
            model.forward(batch)
            let sums = model.lossAndBackward(batch, objective: objective, gradScale: 1 / Float(n))
            #expect(sums.tokens == n)
            let loss = sums.objective / Double(n)
            let relative = abs(loss - referenceLoss) / abs(referenceLoss)
            lossErrors.append(relative)
            #expect(relative <= 1e-5, "\(name) \(objective): loss \(loss), transformers \(referenceLoss)")
            #expect(Set(expected.parameterNames) == Set(model.layout.entries.map(\.name)))
            for parameter in expected.parameterNames {
                let reference = try expected.tensors.floats("\(objective.name)_grad.\(parameter)")
                let error = maxDifference(model.tensor(parameter, of: model.gradients), reference)
                let relative = error.abs / max(error.scale, .leastNormalMagnitude)
                if relative > worstGradient.relative { worstGradient = (relative, "\(objective) \(parameter)") }
                #expect(relative <= 1e-4,
                        "\(name) \(objective): gradient of \(parameter) differs by \(error.abs) (max |g| \(error.scale))")
            }
        }
        print("parity \(name): logits max abs error \(logitError.abs) (max |logit| \(logitError.scale)); "
              + "loss rel error sft \(lossErrors[0]), dft \(lossErrors[1]); "
              + "worst gradient rel error \(worstGradient.relative) (\(worstGradient.tensor))")
    }

    @Test("rotary inverse frequencies equal transformers' inv_freq buffer", arguments: ParityFixtures.recorded)
    func inverseFrequencies(name: String) throws {
        let expected = try ParityFixtures.Expectation(name)
        let config = try HuggingFaceDirectory(path: ParityFixtures.path(name)).config()
        let ours = config.ropeInverseFrequencies
        let theirs = try expected.tensors.floats("inv_freq")
        let error = maxDifference(ours, theirs)
        #expect(error.abs <= 1e-6 * error.scale, "\(name): inverse frequencies \(ours) vs \(theirs)")
    }

    @Test("llama3 inverse frequencies of Llama 3.1 8B and 3.2 1B match transformers to 1 ulp")
    func llama3PublishedSettings() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: ParityFixtures.path("rope.json")))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        for name in ["llama-3.1-8b", "llama-3.2-1b"] {
            let entry = json[name] as! [String: Any]
            let s = entry["rope_scaling"] as! [String: Any]
            let headDim = (entry["head_dim"] as! NSNumber).intValue
            let config = ModelConfig(
                architecture: "LlamaForCausalLM", hiddenSize: headDim * 4, intermediateSize: 8,
                numHiddenLayers: 1, numAttentionHeads: 4, numKeyValueHeads: 4, headDim: headDim,
                ropeTheta: (entry["rope_theta"] as! NSNumber).doubleValue,
                ropeScaling: .llama3(factor: (s["factor"] as! NSNumber).doubleValue,
                                     lowFreqFactor: (s["low_freq_factor"] as! NSNumber).doubleValue,
                                     highFreqFactor: (s["high_freq_factor"] as! NSNumber).doubleValue,
                                     originalMaxPositionEmbeddings: (s["original_max_position_embeddings"] as! NSNumber).intValue),
                attentionBias: false, vocabSize: 8, tieWordEmbeddings: false)
            try config.validate()
            let theirs = (entry["inv_freq_bits"] as! [NSNumber]).map { Float(bitPattern: UInt32(bitPattern: $0.int32Value)) }
            let ours = config.ropeInverseFrequencies
            #expect(ours.count == theirs.count)
            var worstUlps = 0
            for (a, b) in zip(ours, theirs) {
                worstUlps = max(worstUlps, abs(Int(a.bitPattern) - Int(b.bitPattern)))
            }
            #expect(worstUlps <= 1, "\(name): inverse frequencies differ by \(worstUlps) ulp")
            print("llama3 rope \(name): max difference from transformers \(worstUlps) ulp")
        }
    }

    @Test("the bf16 save loads as its fp32 twin rounded to bf16")
    func bf16Twin() throws {
        let (single, _) = try ParityFixtures.load("qwen2-tied")
        let (half, report) = try ParityFixtures.load("qwen2-tied-bf16")
        #expect(report.storedDTypes == ["BF16": half.layout.entries.count])
        var mismatches = 0
        for i in 0..<single.layout.count {
            let rounded = Float(bitPattern: UInt32(SafetensorsWriter.bfloat16Bits(single.parameters[i])) << 16)
            if rounded.bitPattern != half.parameters[i].bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test("the sharded save (index + 3 shards) loads equal to the single file")
    func shardedTwin() throws {
        let (single, _) = try ParityFixtures.load("llama-gqa-untied")
        let (sharded, report) = try ParityFixtures.load("llama-gqa-untied-sharded")
        #expect(report.files.count == 3)
        #expect(report.files.allSatisfy { $0.hasSuffix("-of-00003.safetensors") })
        #expect(report.tensorsLoaded == sharded.layout.entries.count)
        #expect(memcmp(single.parameters.pointer, sharded.parameters.pointer, single.layout.count * 4) == 0)
    }

    @Test("load, write fp32 with our writer, load again: identical buffers and config",
          arguments: ParityFixtures.recorded)
    func roundTrip(name: String) throws {
        let (model, _) = try ParityFixtures.load(name)
        let scratch = try ParityFixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for maxShardBytes in [HuggingFaceCheckpoint.defaultMaxShardBytes, 30_000] {
            let out = scratch + "/\(maxShardBytes)"
            let files = try HuggingFaceCheckpoint.save(parameters: model.parameters, layout: model.layout,
                                                       config: model.config, to: out, as: .f32,
                                                       maxShardBytes: maxShardBytes)
            #expect((files.count > 1) == (maxShardBytes == 30_000))
            #expect(FileManager.default.fileExists(atPath: out + "/model.safetensors.index.json") == (files.count > 1))
            let (again, report) = try ParityFixtures.load(out)
            #expect(report.files.count == files.count)
            #expect(again.config == model.config)
            #expect(memcmp(model.parameters.pointer, again.parameters.pointer, model.layout.count * 4) == 0)
        }
        // For a manual check that transformers loads what we write:
        // DFT_EXPORT_CHECK_DIR=/tmp/x swift test --filter roundTrip, then
        // make_parity_fixtures.py --check-export /tmp/x/NAME-f32 --like NAME (and -bf16).
        if let keep = ProcessInfo.processInfo.environment["DFT_EXPORT_CHECK_DIR"] {
            for type in SafetensorsWriter.OutputType.allCases {
                try HuggingFaceCheckpoint.save(parameters: model.parameters, layout: model.layout,
                                               config: model.config, to: "\(keep)/\(name)-\(type.torchName)",
                                               as: type, maxShardBytes: type == .f32 ? 40_000 : 1 << 30)
            }
        }
    }

    @Test("a bf16 export loads as the fp32 weights rounded to bf16")
    func bf16Export() throws {
        let (model, _) = try ParityFixtures.load("llama3-rope-head-dim")
        let scratch = try ParityFixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try HuggingFaceCheckpoint.save(parameters: model.parameters, layout: model.layout, config: model.config,
                                       to: scratch, as: .bf16)
        let (again, report) = try ParityFixtures.load(scratch)
        #expect(report.storedDTypes == ["BF16": model.layout.entries.count])
        #expect(again.config == model.config)
        let file = try SafetensorsFile(path: scratch + "/model.safetensors")
        #expect(file.metadata == ["format": "pt"])
        for i in 0..<model.layout.count {
            let rounded = UInt32(SafetensorsWriter.bfloat16Bits(model.parameters[i])) << 16
            #expect(again.parameters[i].bitPattern == rounded)
        }
    }
}
