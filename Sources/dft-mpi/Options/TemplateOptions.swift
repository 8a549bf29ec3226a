import ArgumentParser
import DFTRuntime
import DFTTrain

/// How text becomes token ids, for every command that reads text: the tokenizer, the chat
/// template and its system message. The template's default is the command's (`TemplateName`).
struct TemplateOptions: SettingsLayer {
    @Option(help: ArgumentHelp("Tokenizer for text: a Hugging Face tokenizer directory (tokenizer.json + tokenizer_config.json) or tokenizer.json, or `byte`. Default: the model directory's own when it has tokenizer.json (for a checkpoint, its run's); without one, data must be pre-tokenized.", valueName: "dir|tokenizer.json|byte"))
    var tokenizer: String?

    @Option(help: ArgumentHelp("Chat template of prompt/response and messages records: chatml, llama3, plain, qwen-math-boxed, or qwen-boxed (the Qwen2.5-Math evaluation prompt). Default: chatml; plain for the built-in data sets; qwen-boxed for eval.", valueName: "name"))
    var template: TemplateName?

    @Option(help: "System message the template adds (replaces the template's own; qwen-math-boxed and qwen-boxed bring one).")
    var systemPrompt: String?
}
