import DFTData
import DFTDecode

/// The text of a finished sample, as graders and output files read it: the EOS id that ended
/// it dropped, decoded with special tokens kept, and a stop string with what follows it cut.
public enum CompletionText {
    public static func of(_ result: GenerationResult, tokenizer: any TextTokenizer, stopStrings: [String] = []) -> String {
        let ids = result.finishReason == .eos ? Array(result.completion.dropLast()) : result.completion
        var text = tokenizer.decode(ids, skipSpecialTokens: false)
        if result.finishReason == .stop, let cut = stopStrings.compactMap({ text.range(of: $0)?.lowerBound }).min() {
            text = String(text[..<cut])
        }
        return text
    }
}
