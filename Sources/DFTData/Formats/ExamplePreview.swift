/// Human-readable views of an encoded example, for checking a template and format by eye
/// (`dft-mpi tokenize`): which text the model sees and which part of it is trained.
public enum ExamplePreview {
    /// The decoded example with every run of trained tokens between `open` and `close`, e.g.
    ///
    ///     <|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n[[5<|im_end|>]]\n
    ///
    /// Runs are decoded separately, so a character whose bytes straddle a run boundary shows
    /// as U+FFFD here (never in training data).
    public static func markedText(_ example: Example, tokenizer: any TextTokenizer,
                                  open: String = "[[", close: String = "]]") -> String {
        var text = ""
        var run: [Int32] = []
        var runTrained = false
        func flush() {
            guard !run.isEmpty else { return }
            let decoded = tokenizer.decode(run, skipSpecialTokens: false)
            text += runTrained ? open + decoded + close : decoded
            run.removeAll()
        }
        for (index, token) in example.tokens.enumerated() {
            let trained = index > 0 && index < example.lossMask.count && example.lossMask[index] != 0
            if trained != runTrained { flush() }
            runTrained = trained
            run.append(token)
        }
        flush()
        return text
    }

    /// One line per token: position, id, mask bit and the token's text (escaped), e.g.
    /// `   12  151645  1  "<|im_end|>"`.
    public static func tokenLines(_ example: Example, tokenizer: any TextTokenizer) -> [String] {
        example.tokens.enumerated().map { index, token in
            let text = tokenizer.decode([token], skipSpecialTokens: false).debugDescription
            let position = String(index).leftPadded(to: 6)
            let id = String(token).leftPadded(to: 8)
            let bit = index < example.lossMask.count ? String(example.lossMask[index]) : "-"
            return "\(position)  \(id)  \(bit)  \(text)"
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
