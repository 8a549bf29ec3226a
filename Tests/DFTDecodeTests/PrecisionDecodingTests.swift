import DFTCore
import DFTModel
import Foundation
import Testing
@testable import DFTDecode

/// Decoding on oneDNN's packed copies: fp32 against OpenBLAS on panels, bf16 against fp32 (the
/// transformers fixtures). bf16 runs natively where the CPU has bf16 instructions and on the
/// reference path (sgemm on bf16-rounded operands) everywhere, so these tests run on every host.
@Suite("Decoding precision", .serialized)
struct PrecisionDecodingTests {
    /// The bf16 kinds this host runs.
    static let bf16Kinds: [PackedMatrix.Kind] = OneDNN.nativeBF16 ? [.bf16, .bf16Reference] : [.bf16Reference]

    /// bf16's bound on `relativeDifference` from fp32 on the fixtures (see `bf16NearFP32`).
    static let bf16Bound: Float = 0.08

    /// The largest |a - b| over all prompts and steps, relative to the largest |b| of its row.
    static func relativeDifference(_ a: [[Float]], _ b: [[Float]], vocab: Int) -> Float {
        var worst: Float = 0
        for (x, y) in zip(a, b) {
            for start in stride(from: 0, to: y.count, by: vocab) {
                let scale = max(1, y[start..<start + vocab].map(abs).max()!)
                for v in start..<start + vocab { worst = max(worst, abs(x[v] - y[v]) / scale) }
            }
        }
        return worst
    }

    @Test("packed fp32 decoding equals OpenBLAS on panels: the same greedy completions, logits within 1e-5",
          arguments: ["qwen2", "llama3"])
    func packedFP32EqualsPanels(name: String) throws {
        let panels = try DecodeFixtures.greedyRun(name, products: .panels(.max))
        let packed = try DecodeFixtures.greedyRun(name, products: .packed(.fp32))
        #expect(packed.greedy == panels.greedy)
        let vocab = panels.logits[0].count / (try DecodeFixtures.expected(name)).new_tokens
        let difference = Self.relativeDifference(packed.logits, panels.logits, vocab: vocab)
        #expect(difference < 1e-5, "largest logit difference \(difference) of the row's largest logit")
    }

    /// bf16 rounds every product's operands to 8 significant bits (relative error up to 2^-9
    /// each), the cached keys and values included: the logits move by a few hundredths of their
    /// scale (0.042 on both fixtures; 0.035 and 0.038 with an fp32 cache), and a greedy path
    /// forks where the fp32 top two logits are closer than that (the fixtures' smallest margins
    /// are a few tenths on logits of size ~10). `bf16AgainstTorchAutocast` is the sharper check.
    @Test("bf16 decoding stays within bf16's error of fp32 (transformers' fixtures), natively and on the reference path",
          arguments: ["qwen2", "llama3"], PrecisionDecodingTests.bf16Kinds)
    func bf16NearFP32(name: String, kind: PackedMatrix.Kind) throws {
        let expected = try DecodeFixtures.expected(name)
        let bf16 = try DecodeFixtures.greedyRun(name, products: .packed(kind))
        let fp32 = try (0..<expected.prompts.count).map { try DecodeFixtures.logits(name, prompt: $0) }
        let vocab = fp32[0].count / expected.new_tokens
        let difference = Self.relativeDifference(bf16.logits, fp32, vocab: vocab)
        let equal = zip(bf16.greedy, expected.greedy).filter { $0 == $1 }.count
        let firstForks = zip(bf16.greedy, expected.greedy).map { a, b in a.indices.first { a[$0] != b[$0] } }
        print("bf16 \(kind) on \(name): logits within \(difference) of the row's largest logit; "
              + "\(equal) of \(expected.prompts.count) greedy completions equal fp32's; first differing token: \(firstForks)")
        #expect(difference < Self.bf16Bound, "largest logit difference \(difference) of the row's largest logit")
        #expect(difference > 1e-4, "bf16 rounding must show; otherwise the products ran in fp32")
    }

    /// scripts/fixtures/make_autocast_fixtures.py: transformers' greedy decoding of the same
    /// fixtures under torch.autocast("cpu", bfloat16).
    struct TorchAutocast: Decodable {
        struct Fork: Decodable { let first_difference: Int? }
        let equal_to_fp32: [Fork]
        let same_input_steps_logits_max_abs_diff: [Double]
        let prompts_equal_to_fp32: Int
    }

    /// torch's autocast rounds more than dft-mpi does (every Linear's output to bf16, the
    /// values in the cache, the attention probabilities), dft-mpi only the products' operands:
    /// its logits must stay at least as close to fp32 as torch's, over the same steps (those up
    /// to torch's first differing token, whose inputs equal the fp32 path's).
    @Test("bf16 decoding is at least as close to fp32 as torch's CPU autocast(bfloat16) on the same fixtures",
          arguments: ["qwen2", "llama3"])
    func bf16AgainstTorchAutocast(name: String) throws {
        let data = try Data(contentsOf: DecodeFixtures.directory.appendingPathComponent(name).appendingPathComponent("autocast-bf16.json"))
        let torch = try JSONDecoder().decode(TorchAutocast.self, from: data)
        let expected = try DecodeFixtures.expected(name)
        let ours = try DecodeFixtures.greedyRun(name, products: .packed(Self.bf16Kinds[0]))
        for i in expected.prompts.indices {
            let theirs = try DecodeFixtures.logits(name, prompt: i)
            let vocab = theirs.count / expected.new_tokens
            let steps = (torch.equal_to_fp32[i].first_difference ?? expected.new_tokens - 1) + 1
            var worst: Float = 0
            for v in 0..<(steps * vocab) { worst = max(worst, abs(ours.logits[i][v] - theirs[v])) }
            print("bf16 on \(name) prompt \(i), steps 0..<\(steps): largest logit difference from fp32 \(worst), torch autocast's "
                  + "\(torch.same_input_steps_logits_max_abs_diff[i])")
            #expect(Double(worst) <= torch.same_input_steps_logits_max_abs_diff[i], "prompt \(i)")
        }
        let equal = zip(ours.greedy, expected.greedy).filter { $0 == $1 }.count
        print("bf16 on \(name): \(equal) of \(expected.prompts.count) greedy completions equal fp32's (torch autocast: "
              + "\(torch.prompts_equal_to_fp32))")
    }
}
