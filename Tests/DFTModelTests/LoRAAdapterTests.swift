import DFTCore
import Foundation
import Testing
@testable import DFTModel

/// PEFT LoRA adapters merged into their base model: the logits equal peft's own (fixtures of
/// scripts/fixtures/make_lora_fixtures.py: random non-zero A and B on all seven projections,
/// plain and rsLoRA, a Qwen2 with biases and a Llama), and what cannot be read is named.
@Suite("PEFT LoRA adapters")
struct LoRAAdapterTests {
    static let cases = ["qwen2-tied-plain", "qwen2-tied-rslora", "llama-gqa-untied-plain", "llama-gqa-untied-rslora"]

    static func adapterPath(_ name: String) -> String { ParityFixtures.path("lora/" + name) }

    static func baseName(_ name: String) -> String {
        name.replacingOccurrences(of: "-plain", with: "").replacingOccurrences(of: "-rslora", with: "")
    }

    @Test("merged adapters give peft's logits (1e-4 of the largest), and the adapter matters", arguments: cases)
    func logitsMatchPeft(name: String) throws {
        let expected = try SafetensorsFile(path: Self.adapterPath(name) + "/expected.safetensors")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.adapterPath(name)
            + "/expected.json"))) as? [String: Any] ?? [:]
        let ids = (json["input_ids"] as? [Int] ?? []).map(Int32.init)
        try #require(!ids.isEmpty)
        let theirs = try expected.floats("logits")
        let base = try expected.floats("base_logits")
        let source = AdaptedModelSource(base: HuggingFaceDirectory(path: ParityFixtures.path(Self.baseName(name))),
                                        adapter: try PEFTAdapter(directory: Self.adapterPath(name)))
        let model = try Transformer(config: try source.config(), maxRows: 1, rowLength: ids.count, trainable: false)
        try source.loadParameters(into: model.parameters, layout: model.layout)
        let batch = TokenBatch(maxRows: 1, rowLength: ids.count)
        ModelFixtures.fill(batch, rows: [[ModelFixtures.Sequence(tokens: ids, mask: [Float](repeating: 0, count: ids.count))]])
        model.forward(batch)
        let ours = model.logits(slots: Array(0..<ids.count))
        let (worst, scale) = maxDifference(ours, theirs)
        #expect(worst <= 1e-4 * max(1, scale), "\(name): logits differ from peft's by \(worst) (largest \(scale))")
        #expect(maxDifference(ours, base).abs > 100 * worst, "\(name): the adapter must change the logits")
    }

    @Test("rsLoRA scales by alpha / sqrt(r), plain LoRA by alpha / r")
    func scaling() throws {
        let plain = try PEFTAdapter(directory: Self.adapterPath("qwen2-tied-plain"))
        let rs = try PEFTAdapter(directory: Self.adapterPath("qwen2-tied-rslora"))
        #expect(plain.scaling == Float(plain.alpha / Double(plain.r)))
        #expect(rs.scaling == Float(rs.alpha / Double(rs.r).squareRoot()))
        #expect(plain.targets == PEFTAdapter.projections)
    }

    /// A copy of a fixture adapter whose adapter_config.json has `change` applied.
    static func edited(_ change: (inout [String: Any]) -> Void) throws -> String {
        let directory = try ParityFixtures.scratch()
        let source = adapterPath("qwen2-tied-plain")
        for file in ["adapter_config.json", "adapter_model.safetensors"] {
            try FileManager.default.copyItem(atPath: source + "/" + file, toPath: directory + "/" + file)
        }
        let path = directory + "/adapter_config.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        change(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        return directory
    }

    /// (field, its value as JSON).
    @Test("unsupported features are errors naming the field",
          arguments: [("use_dora", "true"), ("modules_to_save", "[\"lm_head\"]"), ("rank_pattern", "{\"q_proj\": 8}"),
                      ("alpha_pattern", "{\"q_proj\": 4}"), ("bias", "\"all\""), ("peft_type", "\"IA3\""),
                      ("lora_bias", "true"), ("exclude_modules", "[\"o_proj\"]"),
                      ("target_modules", "[\"q_proj\", \"dense\"]"), ("target_modules", "\".*proj\"")])
    func unsupported(field: String, json: String) throws {
        let value = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
        let directory = try Self.edited { $0[field] = value }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            _ = try PEFTAdapter(directory: directory)
            Issue.record("\(field) = \(value) was accepted")
        } catch let error as AdapterError {
            #expect(error.field == field, "\(error)")
            #expect("\(error)".contains("field \"\(field)\""))
        }
    }

    @Test("an adapter whose shapes do not fit the model is an error naming the tensor")
    func wrongShapes() throws {
        // The Qwen2 adapter on the Llama fixture: other projections' shapes (and layers).
        let source = AdaptedModelSource(base: HuggingFaceDirectory(path: ParityFixtures.path("llama-mha-tied")),
                                        adapter: try PEFTAdapter(directory: Self.adapterPath("qwen2-tied-plain")))
        let config = try source.config()
        let model = try Transformer(config: config, maxRows: 1, rowLength: 1, trainable: false)
        do {
            try source.loadParameters(into: model.parameters, layout: model.layout)
            // Same shapes by chance would leave only the stray-tensor check; the fixtures differ.
            Issue.record("the adapter was merged into a model it does not fit")
        } catch {
            #expect("\(error)".contains("lora_"), "\(error)")
        }
    }
}
