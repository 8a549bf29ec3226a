import Foundation
import Testing

extension Integration {
    /// A training setting is one name: its flag (kebab-case) and its YAML key (snake_case) come
    /// from the same property, and fixed choices are checked the same way from either side.
    @Suite("Settings: flags and YAML keys")
    struct SettingsTests {
        func run(_ arguments: [String]) throws -> ProcessResult {
            try Tools.dftMPI(arguments, seconds: 120)
        }

        @Test("every flag of `train --help` is a key of the resolved config.yaml, and every key is a flag")
        func flagsAreKeys() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let help = try run(["train", "--help"])
            try #require(help.succeeded, "\(help.transcript)")
            let notSettings: Set<String> = ["config", "help", "version"]
            let flags = Set(help.stdout.matches(of: /--([a-z0-9-]+)/).map { String($0.1) }
                .filter { !notSettings.contains($0) && !$0.hasPrefix("no-") })
            let out = scratch.file("run")
            let train = try run(["train", "--model", "tiny", "--data", "embedded", "--steps", "1", "--save-every", "0", "--global-batch", "2", "--micro-batch", "1",
                                 "--max-length", "128",
                                 "--threads", "1", "--out", out])
            try #require(train.succeeded, "\(train.transcript)")
            let yaml = try String(contentsOfFile: out + "/config.yaml", encoding: .utf8)
            let keys = Set(yaml.split(separator: "\n").compactMap { $0.split(separator: ":").first.map(String.init) })
            let asFlags = Set(keys.map { $0.replacingOccurrences(of: "_", with: "-") })
            #expect(flags.subtracting(asFlags).isEmpty, "flags without a key: \(flags.subtracting(asFlags).sorted())")
            #expect(asFlags.subtracting(flags).isEmpty, "keys without a flag: \(asFlags.subtracting(flags).sorted())")
            #expect(keys.count >= 60, "\(keys.count) keys")
        }

        @Test("an unknown choice is an error listing the choices, from a flag and from YAML alike")
        func unknownChoice() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let flag = try run(["train", "--objective", "ce", "--out", scratch.file("a")])
            #expect(flag.status != 0)
            #expect(flag.output.contains("ce") && flag.output.contains("dft-clamp") && flag.output.contains("iw-sft"),
                    "\(flag.transcript)")
            let config = scratch.file("c.yaml")
            try "objective: ce\nloss_normalization: per-token\n".write(toFile: config, atomically: true, encoding: .utf8)
            let yaml = try run(["train", "--config", config, "--out", scratch.file("b")])
            #expect(yaml.status != 0)
            #expect(yaml.output.contains("must be one of") && yaml.output.contains("got '"), "\(yaml.transcript)")
            #expect(!FileManager.default.fileExists(atPath: scratch.file("b")), "\(yaml.transcript)")
        }
    }
}
