import DFTData
import DFTRuntime
import Foundation

/// The ids that end a generation: every `eos_token_id` of the model directory's
/// generation_config.json and config.json (an id or a list; Qwen2.5-Math base models list
/// 151643, their chat turns end with 151645), the tokenizer's `eos_token`, and the config's own.
public enum EndOfSequenceIds {
    public static func collect(modelDirectory: String?, configEOS: Int?, tokenizer: (any TextTokenizer)?) -> Set<Int32> {
        var ids: Set<Int32> = []
        if let configEOS { ids.insert(Int32(configEOS)) }
        if let directory = modelDirectory {
            for name in ["generation_config.json", "config.json"] {
                let path = (directory as NSString).appendingPathComponent(name)
                guard let data = FileManager.default.contents(atPath: path),
                      let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { continue }
                ids.formUnion(Self.ids(json["eos_token_id"]))
            }
        }
        if let eos = tokenizer?.specialTokens.eos { ids.insert(eos) }
        return ids
    }

    static func ids(_ raw: Any?) -> [Int32] {
        if let number = raw as? NSNumber, let id = Int32(exactly: number.doubleValue) { return [id] }
        if let list = raw as? [Any] { return list.flatMap { ids($0) } }
        return []
    }
}
