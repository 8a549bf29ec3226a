/// An entry of `added_tokens` in `tokenizer.json`: a string that is cut out of the text as
/// one token before normalization and BPE, e.g. `<|im_start|>`.
public struct AddedToken: Sendable, Equatable {
    public let id: Int32
    public let content: String
    /// Special tokens are dropped by `decode(_:skipSpecialTokens: true)`.
    public let special: Bool
    /// The token also takes the white space before it (`lstrip`) or after it (`rstrip`).
    public let lstrip: Bool
    public let rstrip: Bool
    /// Matched in the normalized text rather than the raw text.
    public let normalized: Bool

    public init(id: Int32, content: String, special: Bool, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
    }
}

/// Finds added tokens in text, leftmost first and longest at a position (the matching of
/// `tokenizers`), and hands out the text between them.
///
/// Contents are stored in a byte trie, and a 256-entry table of first bytes lets the scan
/// skip every position that cannot start a token with one lookup; real texts almost never
/// contain `<|`, so the scan costs about one table lookup per byte.
struct AddedTokenMatcher: Sendable {
    enum Segment {
        case token(Int32)
        case text(Range<Int>)
    }

    private struct Entry: Sendable {
        let id: Int32
        let lstrip: Bool
        let rstrip: Bool
    }

    /// Trie nodes: child node per next byte, and the entry that ends at the node.
    private var children: [[UInt8: Int32]] = [[:]]
    private var terminal: [Entry?] = [nil]
    private var startsToken = [Bool](repeating: false, count: 256)

    var isEmpty: Bool { terminal.count == 1 }

    /// `contents[i]` is matched as token `tokens[i]`; contents are already normalized when
    /// the tokens are matched in normalized text. Empty contents never match.
    init(tokens: [AddedToken], contents: [String]) {
        for (token, content) in zip(tokens, contents) where !content.isEmpty {
            var node = 0
            for byte in content.utf8 {
                if let child = children[node][byte] {
                    node = Int(child)
                } else {
                    children[node][byte] = Int32(children.count)
                    node = children.count
                    children.append([:])
                    terminal.append(nil)
                }
            }
            // A later duplicate replaces an earlier one, like a later dictionary entry.
            terminal[node] = Entry(id: token.id, lstrip: token.lstrip, rstrip: token.rstrip)
            startsToken[Int(content.utf8.first!)] = true
        }
    }

    /// Calls `body` with the tokens and the non-empty text between them in
    /// `bytes[range]`, in order.
    func segments(of bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, _ body: (Segment) -> Void) {
        if isEmpty {
            if !range.isEmpty { body(.text(range)) }
            return
        }
        var textStart = range.lowerBound   // start of text not yet handed out
        var i = range.lowerBound
        while i < range.upperBound {
            guard startsToken[Int(bytes[i])], let (entry, matchEnd) = longestMatch(bytes, at: i, end: range.upperBound) else {
                i += 1
                continue
            }
            var start = i
            var end = matchEnd
            if entry.lstrip {
                // Take the white space before the token, but not text already handed out.
                while start > textStart {
                    let previous = UTF8Scalars.start(before: start, in: bytes)
                    guard Self.isWhitespace(bytes, at: previous) else { break }
                    start = previous
                }
            }
            if entry.rstrip {
                while end < range.upperBound && Self.isWhitespace(bytes, at: end) {
                    end += UTF8Scalars.decode(bytes, at: end).length
                }
            }
            if start > textStart { body(.text(textStart..<start)) }
            body(.token(entry.id))
            textStart = end
            i = end
        }
        if textStart < range.upperBound { body(.text(textStart..<range.upperBound)) }
    }

    /// The longest token starting at `index`, with the end of its bytes.
    private func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, end: Int) -> (Entry, Int)? {
        var node = 0
        var best: (Entry, Int)?
        var i = index
        while i < end, let child = children[node][bytes[i]] {
            node = Int(child)
            i += 1
            if let entry = terminal[node] { best = (entry, i) }
        }
        return best
    }

    /// Whether the scalar at `index` is Unicode White_Space (what `lstrip`/`rstrip` strip).
    private static func isWhitespace(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
        ScalarClass.of(UTF8Scalars.decode(bytes, at: index).value).contains(.whitespace)
    }
}
