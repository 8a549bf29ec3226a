import Testing
@testable import DFTData

@Suite("Chat templates")
struct TemplateTests {
    /// The decoded runs of trained tokens, in order.
    static func trainedSpans(_ example: Example, _ tokenizer: any TextTokenizer) -> [String] {
        var spans: [String] = []
        var run: [Int32] = []
        for (token, bit) in zip(example.tokens, example.lossMask) {
            if bit == 1 {
                run.append(token)
            } else if !run.isEmpty {
                spans.append(tokenizer.decode(run, skipSpecialTokens: false))
                run = []
            }
        }
        if !run.isEmpty { spans.append(tokenizer.decode(run, skipSpecialTokens: false)) }
        return spans
    }

    static func encode(_ templateName: String, _ tokenizer: any TextTokenizer, _ messages: [ChatMessage],
                       systemPrompt: String? = nil) throws -> (text: String, trained: [String], example: Example) {
        let encoder = try ChatTemplateEncoder(tokenizer: tokenizer,
                                              template: try ChatTemplates.named(templateName, systemPrompt: systemPrompt))
        let example = encoder.encode(messages)
        #expect(example.tokens.count == example.lossMask.count)
        return (tokenizer.decode(example.tokens, skipSpecialTokens: false), trainedSpans(example, tokenizer), example)
    }

    static let exchange = ChatMessage.exchange(prompt: "What is 2+3?", response: "2+3 = 5. \\boxed{5}")

    @Test("chatml: prompt and assistant header masked, response and its <|im_end|> trained, final newline not")
    func chatmlSingleTurn() throws {
        let qwen = try TokenizerFixtures.tokenizer("qwen2")
        let result = try Self.encode("chatml", qwen, Self.exchange)
        #expect(result.text == "<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n2+3 = 5. \\boxed{5}<|im_end|>\n")
        #expect(result.trained == ["2+3 = 5. \\boxed{5}<|im_end|>"])
        #expect(result.example.lossMask.last == 0)
        // The prompt is tokenized as one string, exactly as it is at inference.
        let prompt = "<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n"
        let promptIds = qwen.encode(prompt, addSpecialTokens: false)
        #expect(Array(result.example.tokens.prefix(promptIds.count)) == promptIds)
        #expect(result.example.lossMask.prefix(promptIds.count).allSatisfy { $0 == 0 })
    }

    @Test("chatml, several turns: every assistant turn trained with its end token, nothing else")
    func chatmlMultiTurn() throws {
        let qwen = try TokenizerFixtures.tokenizer("qwen2")
        let messages = [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi"),
                        ChatMessage(role: "assistant", content: "Hello!"), ChatMessage(role: "user", content: "2+2?"),
                        ChatMessage(role: "assistant", content: "4")]
        let result = try Self.encode("chatml", qwen, messages)
        #expect(result.text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n")
        #expect(result.trained == ["Hello!<|im_end|>", "4<|im_end|>"])
    }

    @Test("chatml adds a system message only when configured, and never over the conversation's own")
    func chatmlSystemPrompt() throws {
        let qwen = try TokenizerFixtures.tokenizer("qwen2")
        #expect(try Self.encode("chatml", qwen, Self.exchange).text.hasPrefix("<|im_start|>user\n"))
        let configured = try Self.encode("chatml", qwen, Self.exchange, systemPrompt: "You are a helpful assistant.")
        #expect(configured.text.hasPrefix("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"))
        let own = [ChatMessage(role: "system", content: "Own.")] + Self.exchange
        #expect(try Self.encode("chatml", qwen, own, systemPrompt: "Configured.").text.hasPrefix("<|im_start|>system\nOwn.<|im_end|>"))
    }

    @Test("qwen-math-boxed: chatml with the paper's boxed-answer system prompt")
    func qwenMathBoxed() throws {
        let qwen = try TokenizerFixtures.tokenizer("qwen2")
        let result = try Self.encode("qwen-math-boxed", qwen, Self.exchange)
        #expect(result.text == "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
                + "<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n2+3 = 5. \\boxed{5}<|im_end|>\n")
        #expect(result.trained == ["2+3 = 5. \\boxed{5}<|im_end|>"])
    }

    @Test("llama3: begin_of_text once, headers masked, trimmed content and <|eot_id|> trained")
    func llama3() throws {
        let llama = try TokenizerFixtures.tokenizer("llama3")
        let messages = [ChatMessage(role: "user", content: "  Hi there \n"), ChatMessage(role: "assistant", content: "\nHello! ")]
        let result = try Self.encode("llama3", llama, messages)
        #expect(result.text == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>")
        #expect(result.trained == ["Hello!<|eot_id|>"])
        #expect(result.example.tokens.filter { $0 == llama.specialTokens.bos }.count == 1)
    }

    @Test("plain: the tokenizer's sequence start, prompt masked, response and EOS trained")
    func plain() throws {
        let llama = try TokenizerFixtures.tokenizer("llama3")
        let messages = ChatMessage.exchange(prompt: "Question: 2+3?\nAnswer: ", response: "5")
        let withBOS = try Self.encode("plain", llama, messages)
        #expect(withBOS.example.tokens.first == llama.specialTokens.bos)
        #expect(withBOS.text == "<|begin_of_text|>Question: 2+3?\nAnswer: 5<|eot_id|>")
        #expect(withBOS.trained == ["5<|eot_id|>"])
        let qwen = try TokenizerFixtures.tokenizer("qwen2")
        let noBOS = try Self.encode("plain", qwen, messages)
        #expect(noBOS.text == "Question: 2+3?\nAnswer: 5<|im_end|>")
        let bytes = try Self.encode("plain", ByteTokenizer(), messages)
        #expect(bytes.example.tokens.first == ByteTokenizer.bosId)
        #expect(bytes.trained == ["5<|eos|>"])
    }

    @Test("plain with several turns ends every assistant message with a trained EOS")
    func plainMultiTurn() throws {
        let qwen = try TokenizerFixtures.tokenizer("qwen2")
        let messages = [ChatMessage(role: "user", content: "a "), ChatMessage(role: "assistant", content: "b"),
                        ChatMessage(role: "user", content: " c "), ChatMessage(role: "assistant", content: "d")]
        let result = try Self.encode("plain", qwen, messages)
        #expect(result.text == "a b<|im_end|> c d<|im_end|>")
        #expect(result.trained == ["b<|im_end|>", "d<|im_end|>"])
    }

    @Test("a special token written in a message becomes that token, as in transformers")
    func literalSpecialTokenInContent() throws {
        let qwen = try TokenizerFixtures.tokenizer("qwen2")
        let result = try Self.encode("chatml", qwen, ChatMessage.exchange(prompt: "say <|im_end|>", response: "ok"))
        let imEnd = try #require(qwen.tokenId(forToken: "<|im_end|>"))
        #expect(result.example.tokens.filter { $0 == imEnd }.count == 3)
    }

    @Test("a template the tokenizer cannot write, or an unknown name, is a clear error")
    func templateErrors() throws {
        let gpt2 = try TokenizerFixtures.tokenizer("gpt2")
        let missing = thrownError { try ChatTemplateEncoder(tokenizer: gpt2, template: try ChatTemplates.named("chatml")) }
        #expect((missing as? TemplateError)?.message.contains("<|im_start|>") == true)
        let noEOS = try TokenizerLoader.load(directory: try writeTokenizerDirectory(TokenizerJSONBuilder().document))
        let eosError = thrownError { try ChatTemplateEncoder(tokenizer: noEOS, template: PlainTemplate()) }
        #expect((eosError as? TemplateError)?.message.contains("eos_token") == true)
        let unknown = thrownError { try ChatTemplates.named("alpaca") } as? TemplateError
        #expect(unknown?.message.contains("chatml, llama3, plain, qwen-math-boxed") == true)
        #expect(thrownError { try ChatTemplates.named("plain", systemPrompt: "x") } is TemplateError)
        for name in ChatTemplates.names { #expect(try ChatTemplates.named(name).name == name) }
    }
}
