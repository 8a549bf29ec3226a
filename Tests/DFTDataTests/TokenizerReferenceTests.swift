import Foundation
import Testing
@testable import DFTData

/// The Swift tokenizer against ids recorded with the reference `tokenizers` library.
@Suite("Tokenizer matches the reference library")
struct TokenizerReferenceTests {
    @Test("every recorded text encodes to the recorded ids, with and without special tokens",
          arguments: TokenizerFixtures.names)
    func encodesLikeReference(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        let expected = try TokenizerFixtures.expected(name)
        #expect(tokenizer.vocabularySize == expected.vocab_size)
        for item in expected.cases {
            let ids = tokenizer.encode(item.text, addSpecialTokens: false)
            #expect(ids == item.ids, "\(name) / \(item.name): \(item.text.debugDescription)")
            #expect(tokenizer.encode(item.text, addSpecialTokens: true) == item.ids_with_special_tokens,
                    "\(name) / \(item.name) with special tokens")
        }
    }

    @Test("decoding recorded ids gives the reference text, also when skipping special tokens",
          arguments: TokenizerFixtures.names)
    func decodesLikeReference(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        let expected = try TokenizerFixtures.expected(name)
        for item in expected.cases {
            #expect(tokenizer.decode(item.ids, skipSpecialTokens: false) == item.decoded, "\(name) / \(item.name)")
            #expect(tokenizer.decode(item.ids_with_special_tokens, skipSpecialTokens: true) == item.decoded_skipping_special,
                    "\(name) / \(item.name) skipping special tokens")
        }
        for item in expected.decode_cases {
            #expect(tokenizer.decode(item.ids, skipSpecialTokens: false) == item.decoded, "\(name) / decode \(item.ids)")
        }
    }
}
