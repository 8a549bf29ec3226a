/// Reading the `model` section of `tokenizer.json` into a `BytePairModel`.
extension BytePairModel {
    /// The model and its vocabulary as strings (id -> entry, for decoding and lookups).
    struct Loaded {
        let model: BytePairModel
        /// Vocabulary strings by id; nil where no entry has that id.
        let vocabulary: [String?]
        let idsByToken: [String: Int32]
    }

    static func load(_ node: JSONNode) throws -> Loaded {
        if let type = try node.member("type") {
            let name = try type.string()
            guard name == "BPE" else {
                throw type.unsupported("model \"\(name)\" is not supported (supported: BPE)",
                                       hint: "WordPiece, Unigram and WordLevel models are not byte-level BPE")
            }
        }
        if let dropout = try node.member("dropout") {
            throw dropout.unsupported("BPE dropout \(JSONRecordReader.describe(dropout.value)) is not supported: it makes encoding random",
                                      hint: "set \"dropout\": null")
        }
        if try node.bool("byte_fallback", default: false) {
            throw try node.required("byte_fallback").unsupported(
                "byte_fallback true is not supported (SentencePiece-style BPE); byte-level BPE covers every byte already")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = try node.member(key), try affix.string() != "" {
                throw affix.unsupported("\(key) \"\(try affix.string())\" is not supported; byte-level BPE uses none")
            }
        }
        let ignoresMerges = try node.bool("ignore_merges", default: false)

        // Vocabulary: strings of byte characters -> ids.
        let vocabNode = try node.required("vocab")
        var idsByToken: [String: Int32] = [:]
        var vocabulary: [String?] = []
        var tokensByBytes: [ArraySlice<UInt8>: Int32] = [:]
        for (token, value) in try vocabNode.object() {
            let id = try JSONNode(value: value, file: node.file, path: "\(vocabNode.path)[\"\(token)\"]").tokenId()
            guard Int(id) < TokenizerLimits.idLimit else {
                throw vocabNode.invalid("id \(id) of \"\(token)\" is beyond the supported \(TokenizerLimits.idLimit - 1)")
            }
            if Int(id) >= vocabulary.count {
                vocabulary.append(contentsOf: repeatElement(nil, count: Int(id) + 1 - vocabulary.count))
            }
            if let other = vocabulary[Int(id)] {
                throw vocabNode.invalid("id \(id) is given to both \"\(other)\" and \"\(token)\"")
            }
            vocabulary[Int(id)] = token
            idsByToken[token] = id
            if ignoresMerges, let bytes = ByteLevelAlphabet.bytes(ofToken: token) {
                tokensByBytes[ArraySlice(bytes)] = id
            }
        }

        var byteTokens: [Int32] = []
        for byte in 0...255 {
            let character = ByteLevelAlphabet.character(ofByte: UInt8(byte))
            guard let id = idsByToken[character] else {
                throw vocabNode.invalid(
                    "no entry for byte \(byte) (\"\(character)\"); a byte-level vocabulary needs all 256 bytes")
            }
            byteTokens.append(id)
        }

        let merges = try loadMerges(try node.required("merges"), idsByToken: idsByToken)
        let model = BytePairModel(byteTokens: byteTokens, merges: merges, tokensByBytes: tokensByBytes,
                                  ignoresMerges: ignoresMerges)
        return Loaded(model: model, vocabulary: vocabulary, idsByToken: idsByToken)
    }

    /// Merges in either form `tokenizers` writes: `"a b"` (before 0.20) or `["a", "b"]`.
    /// Rank is the position in the list; a pair listed twice keeps its last rank, as a
    /// dictionary built from the list does in `tokenizers`.
    private static func loadMerges(_ node: JSONNode, idsByToken: [String: Int32]) throws -> [UInt64: Merge] {
        let entries = try node.array()
        guard entries.count < Int(UInt32.max) else { throw node.invalid("too many merges") }
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(entries.count)
        for (rank, entry) in entries.enumerated() {
            let left: String
            let right: String
            if let line = entry.value as? String {
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw entry.invalid("expected two tokens separated by one space, found \"\(line)\"")
                }
                left = String(parts[0])
                right = String(parts[1])
            } else if let pair = entry.value as? [Any], pair.count == 2,
                      let first = pair[0] as? String, let second = pair[1] as? String {
                left = first
                right = second
            } else {
                throw entry.invalid("expected \"a b\" or [\"a\", \"b\"], found \(entry.kind)")
            }
            guard let leftId = idsByToken[left], let rightId = idsByToken[right] else {
                throw entry.invalid("merge of \"\(left)\" and \"\(right)\": \"\(idsByToken[left] == nil ? left : right)\" is not in the vocabulary")
            }
            guard let mergedId = idsByToken[left + right] else {
                throw entry.invalid("merge of \"\(left)\" and \"\(right)\": the result \"\(left + right)\" is not in the vocabulary")
            }
            merges[pairKey(leftId, rightId)] = Merge(rank: UInt32(rank), merged: mergedId)
        }
        return merges
    }
}
