import Testing
@testable import DFTData

@Suite("Prompt encoder (generation prompts)")
struct PromptEncoderTests {
    static func prompt(_ template: String, _ record: [String: Any], field: String? = nil) throws -> String {
        let qwen = try TokenizerFixtures.tokenizer("qwen2")
        let chat = try ChatTemplateEncoder(tokenizer: qwen, template: try ChatTemplates.named(template))
        let ids = try PromptEncoder(chat: chat, promptField: field).prompt(record, file: "f.jsonl", line: 3)
        return qwen.decode(ids, skipSpecialTokens: false)
    }

    @Test("a prompt ends where training's response begins: after the assistant's turn header")
    func chatml() throws {
        #expect(try Self.prompt("chatml", ["problem": "What is 2+3?", "solution": "5"])
                == "<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n")
        #expect(try Self.prompt("chatml", ["question": "Q?", "answer": "27.0"]) == "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n")
        #expect(try Self.prompt("chatml", ["text": "Q?"], field: "text") == "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test("qwen-boxed is the Qwen2.5-Math evaluation prompt of the DFT paper")
    func qwenBoxed() throws {
        #expect(try Self.prompt("qwen-boxed", ["problem": "What is 2+3?"])
                == "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+3?\n"
                + "Please reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test("messages: up to the last assistant message, then the assistant header")
    func messages() throws {
        let record: [String: Any] = ["messages": [
            ["role": "user", "content": "Hi"], ["role": "assistant", "content": "Hello"],
            ["role": "user", "content": "2+2?"], ["role": "assistant", "content": "4"],
        ]]
        #expect(try Self.prompt("chatml", record) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n"
                + "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test("pre-tokenized ids are the prompt whole; a record without a prompt names the file, line and fields")
    func idsAndErrors() throws {
        let encoder = PromptEncoder(chat: nil)
        #expect(try encoder.prompt(["input_ids": [5, 6, 7], "loss_mask": [0, 1, 1]], file: "f.jsonl", line: 1) == [5, 6, 7])
        let missing = thrownError { try encoder.prompt(["answer": "4"], file: "f.jsonl", line: 3) }
        #expect("\(missing!)".hasPrefix("f.jsonl, line 3, field \"prompt/problem/question\": the record has no prompt"))
        let text = thrownError { try encoder.prompt(["prompt": "Hi"], file: "f.jsonl", line: 4) }
        #expect("\(text!)".contains("no tokenizer is known"))
        let bad = thrownError { try encoder.prompt(["input_ids": [1, -2]], file: "f.jsonl", line: 5) }
        #expect("\(bad!)".contains("line 5, field \"input_ids\""))
    }
}
