import Foundation
import Testing
@testable import DFTBuiltin

@Suite("Built-in base model and data")
struct BuiltinAssetsTests {
    @Test("every built-in name resolves to a file in the resource bundle")
    func everyAssetExists() throws {
        for asset in BuiltinAssets.all {
            let path = try #require(BuiltinAssets.path(of: asset.name))
            #expect(FileManager.default.fileExists(atPath: path), "\(asset.name): \(path)")
            #expect(BuiltinAssets.resolve(asset.name) == path)
        }
        #expect(BuiltinAssets.path(of: "no-such-asset") == nil)
    }

    @Test("each base model is a complete Hugging Face directory of at most 25 MB",
          arguments: [BuiltinAssets.baseModel, BuiltinAssets.halfTrainedBase])
    func baseModelDirectory(name: String) throws {
        let directory = try #require(BuiltinAssets.path(of: name))
        var bytes = 0
        for name in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                     "generation_config.json", "README.md"] {
            let path = (directory as NSString).appendingPathComponent(name)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            bytes += (attributes[.size] as? Int) ?? 0
        }
        #expect(bytes <= 25_000_000, "\(bytes) bytes")
    }

    @Test("a file of the same name in the working directory wins; lists resolve item by item; other values pass through")
    func resolution() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("builtin-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let own = (directory as NSString).appendingPathComponent(BuiltinAssets.heldOut)
        try "{}\n".write(toFile: own, atomically: true, encoding: .utf8)
        #expect(BuiltinAssets.resolve(own) == own)
        let list = BuiltinAssets.resolve("\(BuiltinAssets.heldOut),\(own),other.jsonl")
        #expect(list == [BuiltinAssets.path(of: BuiltinAssets.heldOut)!, own, "other.jsonl"].joined(separator: ","))
        #expect(BuiltinAssets.resolve("") == "")
        #expect(BuiltinAssets.resolve("demo") == "demo")
    }

    @Test("headers name built-in assets instead of their paths")
    func abbreviation() throws {
        let model = try #require(BuiltinAssets.path(of: BuiltinAssets.baseModel))
        #expect(BuiltinAssets.abbreviate("model:  Hugging Face model \(model): Qwen2") == "model:  Hugging Face model arith-base (built-in): Qwen2")
        // arith-base's path is a prefix of arith-base-half's: the longer one is named whole.
        let half = try #require(BuiltinAssets.path(of: BuiltinAssets.halfTrainedBase))
        #expect(BuiltinAssets.abbreviate("model \(half), base \(model)") == "model arith-base-half (built-in), base arith-base (built-in)")
        #expect(BuiltinAssets.abbreviate("data:   /x/finetune.jsonl") == "data:   /x/finetune.jsonl")
    }

    @Test("the data files hold the record shapes the demo reads")
    func dataShapes() throws {
        func firstRecord(_ name: String) throws -> [String: Any] {
            let text = try String(contentsOfFile: try #require(BuiltinAssets.path(of: name)), encoding: .utf8)
            let line = try #require(text.split(separator: "\n").first)
            return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        let demonstration = try firstRecord(BuiltinAssets.demonstrations)
        #expect(demonstration["prompt"] is String && demonstration["answer"] is String)
        #expect((demonstration["response"] as? String)?.contains("\\boxed{") == true)
        for name in [BuiltinAssets.heldOut, BuiltinAssets.heldOutHard] {
            let record = try firstRecord(name)
            #expect(record["prompt"] is String && record["answer"] is String, "\(name)")
        }
    }
}
