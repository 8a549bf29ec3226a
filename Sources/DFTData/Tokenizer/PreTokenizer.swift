/// The `pre_tokenizer` of a byte-level BPE `tokenizer.json`: the steps that cut normalized
/// text into pre-tokens before BPE encodes each one separately.
///
/// Supported, in any sequence:
/// - `Split` with a `Regex` pattern, behaviour `Isolated`, `invert: false` (Qwen2, Llama 3);
/// - `ByteLevel`, optionally adding a space before each piece that does not start with one
///   (`add_prefix_space`) and optionally splitting with the GPT-2 pattern (`use_regex`).
///
/// `ByteLevel` also maps every byte to a printable character; here that mapping is left
/// implicit, because the vocabulary is converted back to bytes at load time and BPE works on
/// bytes directly.
struct PreTokenizer: Sendable {
    enum Step: Sendable {
        case split(any PreTokenSplitter)
        case byteLevel(addPrefixSpace: Bool, splitter: (any PreTokenSplitter)?)
    }

    let steps: [Step]

    /// Cuts `text` into pre-tokens, written to `pieces` as byte ranges of `text`. A step that
    /// adds prefix spaces rewrites `text`. `scratch` is working storage, kept between calls so
    /// that encoding does not allocate for every piece of text.
    func pretokenize(_ text: inout [UInt8], pieces: inout [Range<Int>], scratch: inout [Range<Int>]) {
        pieces.removeAll(keepingCapacity: true)
        if text.isEmpty { return }
        pieces.append(0..<text.count)
        for step in steps {
            switch step {
            case .split(let splitter):
                apply(splitter, to: text, pieces: &pieces, scratch: &scratch)
            case .byteLevel(let addPrefixSpace, let splitter):
                if addPrefixSpace { Self.insertPrefixSpaces(&text, pieces: &pieces) }
                if let splitter { apply(splitter, to: text, pieces: &pieces, scratch: &scratch) }
            }
        }
    }

    private func apply(_ splitter: any PreTokenSplitter, to text: [UInt8], pieces: inout [Range<Int>],
                       scratch: inout [Range<Int>]) {
        scratch.removeAll(keepingCapacity: true)
        text.withUnsafeBufferPointer { buffer in
            for piece in pieces { splitter.split(buffer, range: piece, into: &scratch) }
        }
        swap(&pieces, &scratch)
    }

    /// Puts a space before every piece that does not start with one, as `ByteLevel` with
    /// `add_prefix_space: true` does, so that a word at the start of a text is encoded like
    /// the same word after a space.
    private static func insertPrefixSpaces(_ text: inout [UInt8], pieces: inout [Range<Int>]) {
        guard pieces.contains(where: { text[$0.lowerBound] != 0x20 }) else { return }
        var spaced: [UInt8] = []
        spaced.reserveCapacity(text.count + pieces.count)
        for index in pieces.indices {
            let piece = pieces[index]
            let start = spaced.count
            if text[piece.lowerBound] != 0x20 { spaced.append(0x20) }
            spaced.append(contentsOf: text[piece])
            pieces[index] = start..<spaced.count
        }
        text = spaced
    }
}
